//! Charges of stored cards: merchant-initiated and customer-initiated, declines by category, and
//! 3-D Secure completed at the emulator's page.

use anyhow::{Result, ensure};
use omnicrm_host::contract::{
    CaptureMode, DeclineCategory, GatewayError, Money, PaymentStatus, StoredCredentialUse,
};

use super::*;

/// Merchant-initiated charges (recurring and unscheduled) and a customer-initiated one, with what
/// Adyen recorded of each.
pub async fn successful_merchant_initiated_charges(transport: Transport) -> Result<()> {
    let env = Env::start(transport).await?;
    let (shopper, card) = env.customer_with_card("CRM-CHARGE-1").await?;
    let stored = env.gateway.list_cards(&shopper).await?;
    let mut request = charge_request(&shopper, &card, 2_500, CaptureMode::Automatic, "txn-1001");
    request.network_transaction_id = stored[0].network_transaction_id.clone();
    let payment = env.gateway.charge(request).await?;
    ensure!(payment.status == PaymentStatus::Succeeded, "{payment:?}");
    ensure!(
        (
            payment.amount.amount,
            payment.amount.currency.as_str(),
            payment.amount_captured
        ) == (2_500, "EUR", 2_500)
    );
    ensure!(
        payment.customer.as_deref() == Some(shopper.as_str())
            && payment.card.as_deref() == Some(card.as_str())
    );
    ensure!(payment.metadata == [("crm_transaction_id".to_owned(), "txn-1001".to_owned())]);
    ensure!(payment.network_transaction_id.is_some(), "{payment:?}");
    // What Adyen recorded: one authorisation, the CRM transaction id as the reference and in the
    // metadata, the stored-credential model.
    let recorded = env.emitted("AUTHORISATION", &payment.id);
    ensure!(recorded.len() == 1, "{recorded:?}");
    let item = &recorded[0];
    ensure!(
        item["success"] == "true" && item["amount"]["value"] == 2_500,
        "{item}"
    );
    ensure!(item["merchantReference"] == "txn-1001", "{item}");
    let data = &item["additionalData"];
    ensure!(data["metadata.crm_transaction_id"] == "txn-1001", "{item}");
    ensure!(data["metadata.omnicrm_capture"] == "automatic", "{item}");
    ensure!(data["recurringProcessingModel"] == "Subscription", "{item}");
    ensure!(data["shopperReference"] == shopper.as_str(), "{item}");

    // Unscheduled, in a currency Adyen counts differently from ISO 4217 (ISK in hundredths).
    let mut unscheduled =
        charge_request(&shopper, &card, 5_000, CaptureMode::Automatic, "txn-1002");
    unscheduled.amount = Money {
        amount: 5_000,
        currency: "ISK".into(),
    };
    unscheduled.stored_credential = StoredCredentialUse::MerchantUnscheduled;
    let isk = env.gateway.charge(unscheduled).await?;
    ensure!(
        (isk.amount.amount, isk.amount.currency.as_str()) == (5_000, "ISK"),
        "{isk:?}"
    );
    let item = &env.emitted("AUTHORISATION", &isk.id)[0];
    ensure!(
        item["amount"]["value"] == 500_000 && item["amount"]["currency"] == "ISK",
        "{item}"
    );
    ensure!(
        item["additionalData"]["recurringProcessingModel"] == "UnscheduledCardOnFile",
        "{item}"
    );

    // The customer at the self-care portal, with a card the issuer does not challenge.
    let mut present = charge_request(&shopper, &card, 1_000, CaptureMode::Automatic, "txn-1003");
    present.stored_credential = StoredCredentialUse::CustomerInitiated;
    present.return_url = Some(RETURN_URL.into());
    let paid = env.gateway.charge(present.clone()).await?;
    ensure!(paid.status == PaymentStatus::Succeeded, "{paid:?}");
    ensure!(
        env.emitted("AUTHORISATION", &paid.id)[0]["additionalData"]["recurringProcessingModel"]
            == "CardOnFile"
    );
    // An authorization the customer starts can't be told from a capture after 3-D Secure:
    // refused before anything is sent.
    present.capture = CaptureMode::Manual;
    present.idempotency_key = "txn-1004".into();
    present.metadata = vec![("crm_transaction_id".into(), "txn-1004".into())];
    let refused = gateway_error(env.gateway.charge(present).await)?;
    ensure!(
        matches!(&refused, GatewayError::InvalidInput(i) if i.field == "capture"),
        "{refused:?}"
    );
    ensure!(env.payments_with_reference("txn-1004").is_empty());
    Ok(())
}

/// Each refusal reason the issuer can give a stored card, in its normalized category, with the
/// failed payment Adyen recorded; the card works again afterwards.
pub async fn each_decline_category(transport: Transport) -> Result<()> {
    let env = Env::start(transport).await?;
    let (shopper, card) = env.customer_with_card("CRM-DECLINE-1").await?;
    for (code, category) in [
        ("12", DeclineCategory::InsufficientFunds),
        ("6", DeclineCategory::ExpiredCard),
        ("24", DeclineCategory::IncorrectDetails),
        ("2", DeclineCategory::DoNotHonor),
        ("20", DeclineCategory::SuspectedFraud),
        ("31", DeclineCategory::SuspectedFraud),
        ("38", DeclineCategory::AuthenticationRequired),
        ("9", DeclineCategory::TryAgainLater),
        ("4", DeclineCategory::TryAgainLater),
        ("10", DeclineCategory::Other),
    ] {
        env.emulator.refuse_stored_method(&card, code, Some(1))?;
        let key = format!("txn-decline-{code}");
        let error = gateway_error(
            env.charge(&shopper, &card, 1_000, CaptureMode::Automatic, &key)
                .await,
        )?;
        let GatewayError::Declined(decline) = error else {
            anyhow::bail!("{code}: expected a decline, got {error:?}");
        };
        ensure!(
            decline.category == category && decline.code == code,
            "{code}: {decline:?}"
        );
        ensure!(decline.decline_reason.is_some(), "{code}: {decline:?}");
        let message = decline.customer_message.to_lowercase();
        ensure!(
            !message.contains("fraud") && !message.contains("stolen"),
            "{code}: {message}"
        );
        let psp = decline.payment.clone().unwrap_or_default();
        let recorded = env.emitted("AUTHORISATION", &psp);
        ensure!(
            recorded.len() == 1 && recorded[0]["success"] == "false",
            "{code}: {recorded:?}"
        );
        ensure!(recorded[0]["merchantReference"] == key.as_str());
        ensure!(
            recorded[0]["additionalData"]["refusalReasonCode"] == code,
            "{code}: {recorded:?}"
        );
    }
    let after = env
        .charge(&shopper, &card, 1_000, CaptureMode::Automatic, "txn-after")
        .await?;
    ensure!(after.status == PaymentStatus::Succeeded, "{after:?}");
    Ok(())
}

/// A card the issuer challenges: storing it and paying with it on-session both send the shopper
/// to the emulator's 3-D Secure page, and `complete-action` finishes them with what the page
/// sent back. A shopper who fails is declined; a merchant-initiated charge is never challenged.
pub async fn three_d_secure_completed_at_the_emulator_page(transport: Transport) -> Result<()> {
    let env = Env::start(transport).await?;
    let shopper = env.customer("CRM-3DS-1").await?;

    // Storing the card: the issuer asks the shopper to authenticate first.
    let (setup, url) = redirect_of(gateway_error(
        env.store_card(&shopper, VISA_3DS, "card-3ds").await,
    )?)?;
    ensure!(
        env.oracle.stored_ids(&shopper).await?.is_empty(),
        "not stored before authentication"
    );
    let result = env.oracle.authenticate_on_page(&url, "password").await?;
    let details = vec![("redirectResult".to_owned(), result)];
    let done = env
        .complete(&setup, details.clone(), "card-3ds-done")
        .await?;
    ensure!(
        done.id == setup && done.status == PaymentStatus::Succeeded,
        "{done:?}"
    );
    ensure!(
        done.amount.amount == 0,
        "a card set-up moves no money: {done:?}"
    );
    let stored = done
        .card
        .clone()
        .context("the set-up names the stored card")?;
    ensure!(
        done.customer.as_deref() == Some(shopper.as_str()),
        "{done:?}"
    );
    ensure!(env.oracle.stored_ids(&shopper).await? == std::slice::from_ref(&stored));
    let again = env.complete(&setup, details, "card-3ds-done").await?;
    ensure!(again.id == done.id && again.card == done.card, "{again:?}");
    let card = env.store_card(&shopper, &stored, "card-3ds-store").await?;
    ensure!(
        card.id == stored && card.last4 == "0006" && card.brand == "visa",
        "{card:?}"
    );

    // Paying on-session: challenged again, then authorised.
    let mut request = charge_request(
        &shopper,
        &card.id,
        4_200,
        CaptureMode::Automatic,
        "txn-3ds-1",
    );
    request.stored_credential = StoredCredentialUse::CustomerInitiated;
    request.return_url = Some(RETURN_URL.into());
    let (payment, url) = redirect_of(gateway_error(env.gateway.charge(request.clone()).await)?)?;
    ensure!(
        env.emitted("AUTHORISATION", &payment).is_empty(),
        "nothing authorised before the shopper acts"
    );
    let result = env.oracle.authenticate_on_page(&url, "password").await?;
    let paid = env
        .complete(
            &payment,
            vec![("redirectResult".into(), result)],
            "txn-3ds-1-done",
        )
        .await?;
    ensure!(
        paid.id == payment && paid.status == PaymentStatus::Succeeded,
        "{paid:?}"
    );
    ensure!(
        (paid.amount.amount, paid.amount_captured) == (4_200, 4_200),
        "{paid:?}"
    );
    let recorded = env.emitted("AUTHORISATION", &payment);
    ensure!(
        recorded.len() == 1 && recorded[0]["success"] == "true",
        "{recorded:?}"
    );

    // A shopper who fails the challenge.
    request.idempotency_key = "txn-3ds-2".into();
    request.metadata = vec![("crm_transaction_id".into(), "txn-3ds-2".into())];
    let (payment, url) = redirect_of(gateway_error(env.gateway.charge(request).await)?)?;
    let result = env
        .oracle
        .authenticate_on_page(&url, "not the password")
        .await?;
    let failed = gateway_error(
        env.complete(
            &payment,
            vec![("redirectResult".into(), result)],
            "txn-3ds-2-done",
        )
        .await,
    )?;
    ensure!(
        matches!(&failed, GatewayError::Declined(d) if d.category == DeclineCategory::AuthenticationRequired
            && d.code == "11" && d.payment.as_deref() == Some(payment.as_str())),
        "{failed:?}"
    );
    // What the page did not send is refused before anything is sent.
    let refused = gateway_error(
        env.complete(
            &payment,
            vec![("sessionId".into(), "x".into())],
            "txn-3ds-2-bad",
        )
        .await,
    )?;
    ensure!(
        matches!(&refused, GatewayError::InvalidInput(i) if i.field == "details"),
        "{refused:?}"
    );

    // The merchant charging the card later: never challenged.
    let bill = env
        .charge(
            &shopper,
            &card.id,
            1_000,
            CaptureMode::Automatic,
            "txn-3ds-mit",
        )
        .await?;
    ensure!(bill.status == PaymentStatus::Succeeded, "{bill:?}");
    Ok(())
}
