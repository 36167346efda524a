//! `charging`: charges that succeed, decline or wait for the customer; captures, voids and
//! refunds within the bounds a stateless gateway can check; `complete-action`.

use super::*;
use omnicrm_host::contract::{
    DeclineCategory, NextAction, PaymentStatus, RedirectMethod, RefundStatus,
};

pub async fn charges_succeed_and_refunds_answer_the_request(example: &Example) {
    let gateway = example.gateway().await;
    let (customer, card) = customer_with_card(&gateway, "crm-2", "tok_visa").await;
    let request =
        |key: &str| charge_request(&customer, &card.id, 1050, CaptureMode::Automatic, key);

    let payment = gateway.charge(request("pay-1")).await.unwrap();
    example.assert_reference("pay", &payment.id);
    assert_eq!(payment.status, PaymentStatus::Succeeded);
    assert_eq!(
        (payment.amount.clone(), payment.amount_captured),
        (usd(1050), 1050)
    );
    assert_eq!(payment.amount_refunded, 0);
    assert_eq!(payment.description.as_deref(), Some("Mobile plan"));
    assert_eq!(
        payment.metadata,
        [("crm_transaction_id".into(), "42".into())]
    );
    assert_eq!(
        (payment.customer.as_deref(), payment.card.as_deref()),
        (Some(customer.as_str()), Some(card.id.as_str()))
    );
    assert!(payment.last_decline.is_none() && payment.next_action.is_none());
    assert!(payment.created > 1_700_000_000, "{}", payment.created);
    let repeat = gateway.charge(request("pay-1")).await.unwrap();
    assert_eq!(repeat.id, payment.id, "same key, same payment");
    assert_ne!(
        gateway.charge(request("pay-2")).await.unwrap().id,
        payment.id
    );

    // Taken: nothing to capture or void; refundable up to its amount.
    assert_eq!(
        invalid_field(
            gateway
                .capture_payment(capture_request(&payment.id, usd(1)))
                .await
        ),
        "payment"
    );
    assert_eq!(
        invalid_field(gateway.void_payment(void_request(&payment.id)).await),
        "payment"
    );
    let refund = gateway
        .refund_payment(refund_request(&payment.id, usd(300), "re-1"))
        .await
        .unwrap();
    example.assert_reference("re", &refund.id);
    assert_eq!(
        (
            &refund.payment,
            &refund.amount,
            refund.status,
            refund.reason
        ),
        (
            &payment.id,
            &usd(300),
            RefundStatus::Succeeded,
            Some(RefundReason::RequestedByCustomer)
        )
    );
    let again = gateway
        .refund_payment(refund_request(&payment.id, usd(300), "re-1"))
        .await
        .unwrap();
    assert_eq!(again.id, refund.id, "same key, same refund");
    let looked_up = gateway.get_refund(&refund.id).await.unwrap();
    assert_eq!(
        (
            &looked_up.id,
            &looked_up.payment,
            &looked_up.amount,
            looked_up.status,
            looked_up.reason
        ),
        (
            &refund.id,
            &payment.id,
            &usd(300),
            RefundStatus::Succeeded,
            refund.reason
        )
    );
    assert_eq!(
        not_found_kind(gateway.get_refund("re_elsewhere").await),
        "refund"
    );
    for (amount, key) in [(usd(1051), "re-2"), (usd(0), "re-3"), (eur(10), "re-4")] {
        assert_eq!(
            invalid_field(
                gateway
                    .refund_payment(refund_request(&payment.id, amount, key))
                    .await
            ),
            "amount"
        );
    }

    // Input is checked before anything happens.
    let mut bad = request("pay-3");
    bad.amount = usd(0);
    assert_eq!(invalid_field(gateway.charge(bad.clone()).await), "amount");
    bad.amount = Money {
        amount: 100,
        currency: "JPY".into(),
    };
    assert_eq!(invalid_field(gateway.charge(bad.clone()).await), "currency");
    bad.amount = usd(100);
    bad.idempotency_key = String::new();
    assert_eq!(
        invalid_field(gateway.charge(bad.clone()).await),
        "idempotency-key"
    );
    bad.idempotency_key = "pay-3".into();
    bad.customer = format!("{}cus_{}", example.prefix, "1".repeat(32));
    assert_eq!(
        not_found_kind(gateway.charge(bad).await),
        "card",
        "another customer's card"
    );
}

pub async fn declines_carry_their_category(example: &Example) {
    let gateway = example.gateway().await;
    for (token, code, reason, category) in [
        (
            "tok_chargeDeclined",
            "card_declined",
            Some("generic_decline"),
            DeclineCategory::DoNotHonor,
        ),
        (
            "tok_chargeDeclinedInsufficientFunds",
            "card_declined",
            Some("insufficient_funds"),
            DeclineCategory::InsufficientFunds,
        ),
        (
            "tok_chargeDeclinedExpiredCard",
            "expired_card",
            None,
            DeclineCategory::ExpiredCard,
        ),
        (
            "tok_chargeDeclinedFraudulent",
            "card_declined",
            Some("fraudulent"),
            DeclineCategory::SuspectedFraud,
        ),
        (
            "tok_chargeDeclinedProcessingError",
            "processing_error",
            None,
            DeclineCategory::TryAgainLater,
        ),
    ] {
        let (customer, card) = customer_with_card(&gateway, "crm-3", token).await;
        let charged = gateway
            .charge(charge_request(
                &customer,
                &card.id,
                2000,
                CaptureMode::Automatic,
                "pay-1",
            ))
            .await;
        let decline = match expect_error(charged) {
            GatewayError::Declined(d) => d,
            other => panic!("{token}: {other:?}"),
        };
        assert_eq!(
            (
                decline.code.as_str(),
                decline.decline_reason.as_deref(),
                decline.category
            ),
            (code, reason, category),
            "{token}"
        );
        assert!(!decline.customer_message.is_empty());
        let payment = decline.payment.expect("the failed payment");
        example.assert_reference("pay", &payment);
        // Nothing was taken: not refundable, not capturable; voiding it changes nothing.
        assert_eq!(
            invalid_field(
                gateway
                    .refund_payment(refund_request(&payment, usd(1), "re"))
                    .await
            ),
            "payment"
        );
        assert_eq!(
            invalid_field(
                gateway
                    .capture_payment(capture_request(&payment, usd(1)))
                    .await
            ),
            "payment"
        );
        assert_eq!(
            settled(gateway.void_payment(void_request(&payment)).await.unwrap()).status,
            PaymentStatus::Canceled
        );
        let completed = gateway
            .complete_action(completion(&payment, &[], "done"))
            .await
            .unwrap();
        assert_eq!(completed.status, PaymentStatus::Failed);
        assert_eq!(completed.last_decline.map(|d| d.category), Some(category));
    }
}

pub async fn authorizations_are_captured_or_voided_within_bounds(example: &Example) {
    let gateway = example.gateway().await;
    let (customer, card) = customer_with_card(&gateway, "crm-4", "tok_mastercard").await;
    let auth = gateway
        .charge(charge_request(
            &customer,
            &card.id,
            2000,
            CaptureMode::Manual,
            "auth-1",
        ))
        .await
        .unwrap();
    assert_eq!(
        (auth.status, auth.amount_captured),
        (PaymentStatus::RequiresCapture, 0)
    );

    let captured = gateway
        .capture_payment(capture_request(&auth.id, usd(1500)))
        .await
        .unwrap();
    // A stateless gateway's reference never changes: the capture is named by the payment.
    assert_eq!((&captured.id, &captured.payment), (&auth.id, &auth.id));
    assert_eq!(captured.amount, Some(usd(1500)));
    let after = settled(captured);
    assert_eq!(
        (
            &after.id,
            after.status,
            after.amount_captured,
            &after.amount
        ),
        (&auth.id, PaymentStatus::Succeeded, 1500, &usd(2000))
    );
    for amount in [usd(2001), usd(0), eur(100)] {
        assert_eq!(
            invalid_field(
                gateway
                    .capture_payment(capture_request(&auth.id, amount))
                    .await
            ),
            "amount"
        );
    }
    let voided = gateway.void_payment(void_request(&auth.id)).await.unwrap();
    assert!(voided.amount.is_none());
    let canceled = settled(voided);
    assert_eq!(
        (&canceled.id, canceled.status, canceled.amount_captured),
        (&auth.id, PaymentStatus::Canceled, 0)
    );
    // Refunds of an authorization are bounded by the authorized amount (nothing knows the
    // captured one).
    assert_eq!(
        invalid_field(
            gateway
                .refund_payment(refund_request(&auth.id, usd(2001), "re-1"))
                .await
        ),
        "amount"
    );

    let forged = auth.id.replace("_2000_", "_2000000000_");
    assert_eq!(
        not_found_kind(
            gateway
                .capture_payment(capture_request(&forged, usd(1)))
                .await
        ),
        "payment"
    );
    assert_eq!(
        not_found_kind(gateway.void_payment(void_request("pi_elsewhere")).await),
        "payment"
    );
}

pub async fn customer_action_then_complete_action(example: &Example) {
    let gateway = example.gateway().await;
    let (customer, card) = customer_with_card(&gateway, "crm-5", "tok_threeDSecure2Required").await;
    let mut on_session = charge_request(&customer, &card.id, 2500, CaptureMode::Automatic, "3ds-1");
    on_session.stored_credential = StoredCredentialUse::CustomerInitiated;
    on_session.return_url = Some("https://crm.example/paid".into());
    let action = match expect_error(gateway.charge(on_session).await) {
        GatewayError::ActionRequired(a) => a,
        other => panic!("{other:?}"),
    };
    example.assert_reference("pay", &action.payment);
    assert!(!action.customer_message.is_empty());
    match &action.next_action {
        NextAction::Redirect(r) => {
            assert_eq!(r.method, RedirectMethod::Get);
            assert_eq!(
                r.url,
                format!("https://example.invalid/authenticate/{}", action.payment)
            );
            assert!(r.fields.is_empty());
        }
        other => panic!("{other:?}"),
    }
    // An action is not a failure the host must reconcile.
    assert!(
        !CallError::Gateway(GatewayError::ActionRequired(action.clone())).may_have_moved_money()
    );

    let paid = gateway
        .complete_action(completion(&action.payment, &[], "3ds-done"))
        .await
        .unwrap();
    assert_eq!(
        (&paid.id, paid.status, paid.amount_captured),
        (&action.payment, PaymentStatus::Succeeded, 2500)
    );
    let failed = gateway
        .complete_action(completion(
            &action.payment,
            &[("result", "failed")],
            "3ds-fail",
        ))
        .await
        .unwrap();
    assert_eq!(failed.status, PaymentStatus::Failed);
    let decline = failed.last_decline.expect("the failed authentication");
    assert_eq!(
        (decline.code.as_str(), decline.category),
        (
            "authentication_failed",
            DeclineCategory::AuthenticationRequired
        )
    );

    // Charged by the merchant, the customer is not there: they must come back.
    let merchant = charge_request(&customer, &card.id, 2500, CaptureMode::Manual, "3ds-2");
    let action = match expect_error(gateway.charge(merchant).await) {
        GatewayError::ActionRequired(a) => a,
        other => panic!("{other:?}"),
    };
    assert_eq!(action.next_action, NextAction::BringCustomerOnSession);
    let authorized = gateway
        .complete_action(completion(&action.payment, &[], "3ds-done-2"))
        .await
        .unwrap();
    assert_eq!(authorized.status, PaymentStatus::RequiresCapture);
    assert_eq!(
        invalid_field(
            gateway
                .complete_action(completion(&action.payment, &[], ""))
                .await
        ),
        "idempotency-key"
    );
}
