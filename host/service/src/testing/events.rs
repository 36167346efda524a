//! Gateway events against the scripted fake: an event that arrives before the charge's answer,
//! duplicates, and late events that would move a settled transaction backward.

use std::time::Duration;

use omnicrm_host::contract::{
    EventKind, GatewayEvent, Money, PaymentStatus, PaymentUpdate, WebhookRequest,
};
use omnicrm_host::error::CallError;

use super::fake_gateway::{NAME, Step};
use super::service_env::{charge, env};
use crate::error::{ErrorKind, EventRejection};
use crate::events::{self, Handled, handle_event};
use crate::ledger::{OpState, TxnStatus, now};
use crate::payments::operator::{OperatorOutcome, OperatorSettlement};
use crate::reconcile::reconcile_once;

fn payment_event(id: &str, payment: &str, status: PaymentStatus, amount: i64) -> GatewayEvent {
    let update = PaymentUpdate {
        payment: payment.into(),
        status,
        amount: Money {
            amount,
            currency: "EUR".into(),
        },
        amount_captured: None,
        decline: None,
        metadata: vec![],
        fee: None,
        network_transaction_id: None,
    };
    GatewayEvent {
        id: id.into(),
        created: now(),
        gateway_type: "payment_intent.updated".into(),
        kind: EventKind::Payment(update),
    }
}

/// A webhook request with no signature.
fn unsigned(body: &[u8]) -> WebhookRequest {
    WebhookRequest {
        method: "POST".into(),
        path: format!("/webhooks/{NAME}"),
        query: String::new(),
        headers: vec![],
        body: body.to_vec(),
    }
}

#[tokio::test]
async fn an_event_before_the_answer_converges_with_the_reconciler() {
    let env = env().await;
    env.fake.script("charge", [Step::HoldAfter]);
    let service = env.service.clone();
    let task = tokio::spawn(async move { service.create_transaction(charge(1800, true)).await });
    env.fake.held().await;
    let (payment, _) = env.fake.payments().into_iter().next().unwrap();

    // The ledger has no reference yet: the event finds the transaction through the payment's
    // metadata at the gateway.
    let succeeded = payment_event("evt_1", &payment, PaymentStatus::Succeeded, 1800);
    let handled = handle_event(&env.service, NAME, &succeeded).await.unwrap();
    assert_eq!(handled, Handled::Applied("payment_updated"));
    let txn_id = env.unsettled().await[0].transaction_id.unwrap();
    let txn = env.txn(txn_id).await;
    assert_eq!(txn.status, TxnStatus::Succeeded);
    assert_eq!(txn.gateway_payment_ref.as_deref(), Some(payment.as_str()));
    assert_eq!(txn.amount_captured, 1800);

    // Delivered again: acknowledged, not applied.
    let again = handle_event(&env.service, NAME, &succeeded).await.unwrap();
    assert_eq!(again, Handled::Duplicate);
    // A late failure never moves a settled payment backward.
    let late = payment_event("evt_2", &payment, PaymentStatus::Failed, 1800);
    let handled = handle_event(&env.service, NAME, &late).await.unwrap();
    assert_eq!(handled, Handled::Applied("payment_already_current"));
    assert_eq!(env.txn(txn_id).await.status, TxnStatus::Succeeded);

    // The charge's own answer was lost; the reconciler's repeat agrees with the event.
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    let report = reconcile_once(&env.service, Duration::ZERO).await.unwrap();
    assert_eq!(report.done, 1, "{report:?}");
    env.assert_charged_once(&env.txn(txn_id).await, 2);
}

#[tokio::test]
async fn events_are_verified_by_the_gateway_before_anything_is_applied() {
    let env = env().await;
    let e = events::receive(&env.service, NAME, unsigned(b"{}"))
        .await
        .unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::EventRejected(EventRejection::NotConfigured)
    );
    assert_eq!(e.field.as_deref(), Some("signature"));
    let e = events::receive(&env.service, "elsewhere", unsigned(b""))
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind, e.field.as_deref()),
        (ErrorKind::NotFound, Some("gateway"))
    );
}

#[tokio::test]
async fn an_event_settles_a_charge_the_reconciler_gave_up_on() {
    let env = env().await;
    // The charge is made at the gateway, its answer lost.
    env.fake
        .script("charge", [Step::LoseAnswer(CallError::Trap("lost".into()))]);
    let (txn, _, _) = env
        .service
        .create_transaction(charge(1500, true))
        .await
        .unwrap();
    assert_eq!(txn.status, TxnStatus::Unknown);
    let op = env.operations(txn.id).await[0].id;
    // The reconciler gave up on it: flagged for an operator.
    env.service
        .db
        .run(move |l| l.record_reconcile_attempt(op, now(), Some("unknown after every repeat")))
        .await
        .unwrap();
    assert!(env.txn(txn.id).await.attention.is_some());

    // The gateway's event says what the reconciler could not learn.
    let (payment, _) = env.fake.payments().into_iter().next().unwrap();
    let event = payment_event("evt_late", &payment, PaymentStatus::Succeeded, 1500);
    let handled = handle_event(&env.service, NAME, &event).await.unwrap();
    assert_eq!(handled, Handled::Applied("payment_updated"));
    let settled = env.txn(txn.id).await;
    assert_eq!(
        (settled.status, settled.amount_captured, settled.attention),
        (TxnStatus::Succeeded, 1500, None),
        "no longer flagged"
    );
    let ops = env.operations(txn.id).await;
    assert_eq!(ops[0].state, OpState::Done);
    let flagged = env
        .service
        .db
        .run(|l| l.flagged_operations())
        .await
        .unwrap();
    assert!(flagged.is_empty(), "{flagged:?}");
    // So there is nothing left for an operator to settle.
    let e = env
        .service
        .settle_by_operator(
            txn.id,
            OperatorSettlement {
                outcome: OperatorOutcome::Failed,
                gateway_payment_ref: None,
                operator: "alice".into(),
                reason: "late".into(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conflict);
    assert_eq!(env.fake.calls_of("charge").len(), 1, "never charged again");
}
