//! A gateway like Adyen's, against the scripted fake with the [`asynchronous`] capabilities:
//! captures and refunds answered `pending` and settled by their events, a refund reported done
//! and then failed, and a charge that waits for the customer until `complete-action`.

use omnicrm_host::contract::{
    EventKind, GatewayEvent, ModificationKind, ModificationStatus, ModificationUpdate, Money,
    PaymentStatus,
};

use super::fake_gateway::{NAME, Step, asynchronous};
use super::service_env::{charge, env_with_capabilities};
use crate::error::ErrorKind;
use crate::events::{Handled, handle_event};
use crate::ledger::{Capture, CaptureStatus, RefundStatus, TxnStatus, now};
use crate::payments::Requester;

/// An event about a modification of `payment`, in EUR.
fn modification_event(
    id: &str,
    kind: ModificationKind,
    modification: &str,
    payment: &str,
    status: ModificationStatus,
    amount: i64,
) -> GatewayEvent {
    GatewayEvent {
        id: id.into(),
        created: now(),
        gateway_type: format!("{kind:?}").to_uppercase(),
        kind: EventKind::Modification(ModificationUpdate {
            modification: modification.into(),
            kind,
            payment: payment.into(),
            status,
            amount: Some(Money {
                amount,
                currency: "EUR".into(),
            }),
            reason: (status == ModificationStatus::Failed).then(|| "Refund Failed".into()),
        }),
    }
}

#[tokio::test]
async fn a_capture_answered_pending_is_settled_by_its_event() {
    let env = env_with_capabilities(asynchronous()).await;
    let mut authorize = charge(5_000, true);
    authorize.capture = Capture::Manual;
    let (txn, error, _) = env.service.create_transaction(authorize).await.unwrap();
    assert!(error.is_none(), "{error:?}");
    assert_eq!(txn.status, TxnStatus::Authorized);
    let payment = txn.gateway_payment_ref.clone().unwrap();

    env.fake.script("capture", [Step::Pending]);
    let (txn, pending) = env
        .service
        .capture_for(txn.id, Some(3_000), true, Requester::Service)
        .await
        .unwrap();
    assert!(pending, "the gateway settles it later");
    assert_eq!(txn.status, TxnStatus::Authorized, "nothing captured yet");
    let id = txn.id;
    let captures = env.service.db.run(move |l| l.captures(id)).await.unwrap();
    assert_eq!(captures.len(), 1);
    assert_eq!(captures[0].status, CaptureStatus::Pending);
    let capture_ref = captures[0].gateway_modification_ref.clone().unwrap();

    // The gateway captures, and says so.
    env.fake
        .set_payment(&payment, PaymentStatus::Succeeded, 3_000);
    let captured = modification_event(
        "evt_capture",
        ModificationKind::Capture,
        &capture_ref,
        &payment,
        ModificationStatus::Succeeded,
        3_000,
    );
    let handled = handle_event(&env.service, NAME, &captured).await.unwrap();
    assert!(matches!(handled, Handled::Applied(_)), "{handled:?}");
    let txn = env.txn(id).await;
    assert_eq!(
        (txn.status, txn.amount_captured),
        (TxnStatus::Succeeded, 3_000)
    );
    let captures = env.service.db.run(move |l| l.captures(id)).await.unwrap();
    assert_eq!(captures[0].status, CaptureStatus::Succeeded);
    assert_eq!(
        handle_event(&env.service, NAME, &captured).await.unwrap(),
        Handled::Duplicate
    );
}

#[tokio::test]
async fn a_refund_reported_done_then_failed_frees_its_amount() {
    let env = env_with_capabilities(asynchronous()).await;
    let (txn, _, _) = env
        .service
        .create_transaction(charge(2_000, true))
        .await
        .unwrap();
    assert_eq!(txn.status, TxnStatus::Succeeded);
    let payment = txn.gateway_payment_ref.clone().unwrap();

    env.fake.script("refund", [Step::Pending]);
    let (refund, pending) = env
        .service
        .refund(txn.id, Some(700), None, None)
        .await
        .unwrap();
    assert!(pending);
    assert_eq!(refund.status, RefundStatus::Pending);
    let refund_ref = refund.gateway_refund_ref.clone().unwrap();

    // Received and done (Adyen's REFUND) ...
    let done = modification_event(
        "evt_refund",
        ModificationKind::Refund,
        &refund_ref,
        &payment,
        ModificationStatus::Succeeded,
        700,
    );
    handle_event(&env.service, NAME, &done).await.unwrap();
    let txn = env.txn(txn.id).await;
    assert_eq!(
        (txn.status, txn.amount_refunded),
        (TxnStatus::PartiallyRefunded, 700)
    );

    // ... then failed (REFUND_FAILED): the failure wins, the amount is refundable again.
    let failed = modification_event(
        "evt_refund_failed",
        ModificationKind::Refund,
        &refund_ref,
        &payment,
        ModificationStatus::Failed,
        700,
    );
    handle_event(&env.service, NAME, &failed).await.unwrap();
    let id = refund.id;
    let refund = env
        .service
        .db
        .run(move |l| l.refund(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(refund.status, RefundStatus::Failed);
    assert_eq!(refund.last_error.as_deref(), Some("Refund Failed"));
    let txn = env.txn(txn.id).await;
    assert_eq!((txn.status, txn.amount_refunded), (TxnStatus::Succeeded, 0));

    // A success delivered late (out of order) does not bring the failed refund back.
    let late = modification_event(
        "evt_refund_late",
        ModificationKind::Refund,
        &refund_ref,
        &payment,
        ModificationStatus::Succeeded,
        700,
    );
    handle_event(&env.service, NAME, &late).await.unwrap();
    assert_eq!(env.txn(txn.id).await.amount_refunded, 0);
}

#[tokio::test]
async fn a_charge_waiting_for_the_customer_is_finished_by_complete_action() {
    let env = env_with_capabilities(asynchronous()).await;
    env.fake.script("charge", [Step::RequireAction]);
    let (txn, error, _) = env
        .service
        .create_transaction(charge(1_200, true))
        .await
        .unwrap();
    assert_eq!(
        error.map(|e| e.kind),
        Some(ErrorKind::ActionRequired),
        "the customer must act"
    );
    assert_eq!(txn.status, TxnStatus::RequiresAction);
    assert!(txn.next_action.is_some());

    let details = vec![("redirectResult".to_string(), "X6XtfGC3".to_string())];
    let (txn, error) = env
        .service
        .complete_action_for(txn.id, details, Requester::Service)
        .await
        .unwrap();
    assert!(error.is_none(), "{error:?}");
    assert_eq!(
        (txn.status, txn.amount_captured),
        (TxnStatus::Succeeded, 1_200)
    );
    assert!(txn.next_action.is_none());
    let completions = env.fake.calls_of("complete-action");
    assert_eq!(completions.len(), 1);
    assert_eq!(
        completions[0].inputs["details"],
        serde_json::json!([["redirectResult", "X6XtfGC3"]]),
        "the details reach the gateway as the customer's page gave them"
    );
    env.assert_charged_once(&txn, 1);
}
