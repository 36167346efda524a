//! The exactly-once executor against a scripted fake gateway: a real SQLite ledger in a
//! temporary directory, the service's own flows and reconciler, no component. Every test checks
//! exactly which calls reached the gateway (operation, idempotency key, inputs) and how many
//! payments it made.

use std::time::Duration;

use omnicrm_host::contract::GatewayError;
use omnicrm_host::error::CallError;

use super::fake_gateway::Step;
use super::service_env::{CUSTOMER, charge, env, failure, not_attempted};
use crate::error::{Concerned, ErrorKind};
use crate::invoices::InvoiceRequestIn;
use crate::ledger::{Capture, InvoiceStatus, OpKind, OpState, TxnStatus};
use crate::payments::params::ChargeParams;
use crate::reconcile::reconcile_once;
use crate::retry::RetryPolicy;

#[tokio::test]
async fn an_unknown_outcome_is_settled_by_repeating_the_call_with_the_same_key() {
    let env = env().await;
    env.fake.script(
        "charge",
        [Step::LoseAnswer(CallError::Gateway(
            GatewayError::OutcomeUnknown(failure()),
        ))],
    );
    let (txn, err, created) = env
        .service
        .create_transaction(charge(1250, true))
        .await
        .unwrap();
    assert!(created);
    assert_eq!(txn.status, TxnStatus::Unknown);
    assert_eq!(err.map(|e| e.kind), Some(ErrorKind::OutcomeUnknown));
    let ops = env.operations(txn.id).await;
    assert_eq!(ops.len(), 1);
    assert_eq!(
        (ops[0].kind, ops[0].state),
        (OpKind::Charge, OpState::Unknown)
    );
    assert_eq!(ops[0].idempotency_key, txn.idempotency_key);
    // Money moved at the gateway although the service did not hear it.
    assert_eq!(env.fake.payments().len(), 1);

    let report = reconcile_once(&env.service, Duration::ZERO).await.unwrap();
    assert_eq!((report.examined, report.done), (1, 1), "{report:?}");
    env.assert_charged_once(&env.txn(txn.id).await, 2);
    assert_eq!(env.operations(txn.id).await[0].state, OpState::Done);

    // Settled: the next pass has nothing to repeat.
    let report = reconcile_once(&env.service, Duration::ZERO).await.unwrap();
    assert_eq!(report.examined, 0);
    assert_eq!(env.fake.calls_of("charge").len(), 2);
}

#[tokio::test]
async fn a_call_not_attempted_is_retried_with_the_same_key_and_charges_once() {
    let env = env().await;
    // Once: the slot retries at once with the same key.
    env.fake.script("charge", [Step::Refuse(not_attempted())]);
    let (txn, err, _) = env
        .service
        .create_transaction(charge(700, true))
        .await
        .unwrap();
    assert!(err.is_none(), "{err:?}");
    env.assert_charged_once(&txn, 2);

    // Every attempt of the request refused: nothing happened, the operation stays pending and
    // the client hears that the gateway is unavailable; the reconciler charges it later.
    let env = self::env().await;
    let attempts = RetryPolicy::INTERACTIVE.attempts as usize;
    env.fake.script(
        "charge",
        (0..attempts).map(|_| Step::Refuse(not_attempted())),
    );
    let (txn, err, _) = env
        .service
        .create_transaction(charge(800, true))
        .await
        .unwrap();
    assert_eq!(txn.status, TxnStatus::Pending);
    assert_eq!(err.map(|e| e.kind), Some(ErrorKind::GatewayUnavailable));
    assert_eq!(env.operations(txn.id).await[0].state, OpState::Pending);
    assert!(env.fake.payments().is_empty());

    let report = reconcile_once(&env.service, Duration::ZERO).await.unwrap();
    assert_eq!(report.done, 1, "{report:?}");
    env.assert_charged_once(&env.txn(txn.id).await, attempts + 1);
}

#[tokio::test]
async fn a_decline_is_final_and_its_key_is_never_reused() {
    let env = env().await;
    env.fake
        .script("charge", [Step::Decline("insufficient_funds")]);
    let (declined, err, _) = env
        .service
        .create_transaction(charge(5000, true))
        .await
        .unwrap();
    // A decline is an outcome (a failed transaction), not an error of the request.
    assert!(err.is_none(), "{err:?}");
    assert_eq!(declined.status, TxnStatus::Failed);
    assert_eq!(declined.decline_code.as_deref(), Some("insufficient_funds"));
    assert_eq!(env.operations(declined.id).await[0].state, OpState::Failed);

    // Nothing repeats it: not the reconciler, not charging the transaction again.
    let report = reconcile_once(&env.service, Duration::ZERO).await.unwrap();
    assert_eq!(report.examined, 0);
    let (again, err) = env
        .service
        .charge_transaction(declined.id, RetryPolicy::BATCH)
        .await
        .unwrap();
    assert!(err.is_none());
    assert_eq!(again.status, TxnStatus::Failed);
    assert_eq!(env.fake.calls_of("charge").len(), 1);

    // A new attempt is a new transaction with a key of its own.
    let (retry, err, _) = env
        .service
        .create_transaction(charge(5000, true))
        .await
        .unwrap();
    assert!(err.is_none());
    assert_eq!(retry.status, TxnStatus::Succeeded);
    let keys: Vec<_> = env
        .fake
        .calls_of("charge")
        .into_iter()
        .map(|c| c.key.unwrap())
        .collect();
    assert_eq!(
        keys,
        vec![declined.idempotency_key.clone(), retry.idempotency_key]
    );
    assert_eq!(env.fake.payments().len(), 1);
}

#[tokio::test]
async fn a_declined_invoice_payment_is_not_replayed_for_the_next_attempt() {
    let env = env().await;
    for amount in [1000, 2500] {
        env.service
            .create_transaction(charge(amount, false))
            .await
            .unwrap();
    }
    let invoice = env
        .service
        .create_invoice(InvoiceRequestIn {
            customer_id: CUSTOMER.into(),
            gateway: None,
            currency: "EUR".into(),
            description: None,
            period_start: None,
            period_end: None,
            days_until_due: 14,
            client_key: None,
        })
        .await
        .unwrap();
    env.fake
        .script("pay-invoice", [Step::Decline("card_declined")]);
    let e = env
        .service
        .pay_invoice(invoice.id, None, RetryPolicy::INTERACTIVE)
        .await
        .unwrap_err();
    assert!(matches!(e.kind, ErrorKind::Declined(_)), "{e:?}");
    assert_eq!(
        e.concerned,
        Some(Concerned::Invoice {
            id: invoice.id,
            status: InvoiceStatus::Open
        })
    );
    let paid = env
        .service
        .pay_invoice(invoice.id, None, RetryPolicy::INTERACTIVE)
        .await
        .unwrap();
    assert_eq!(paid.status, InvoiceStatus::Paid);
    assert_eq!(paid.amount_paid, 3500);
    let keys: Vec<_> = env
        .fake
        .calls_of("pay-invoice")
        .into_iter()
        .map(|c| c.key.unwrap())
        .collect();
    assert_eq!(
        keys,
        vec![
            format!("{}:pay:1", invoice.idempotency_key),
            format!("{}:pay:2", invoice.idempotency_key)
        ]
    );
    assert_eq!(env.fake.calls_of("create-invoice").len(), 1);
    assert_eq!(env.fake.calls_of("finalize-invoice").len(), 1);
}

#[tokio::test]
async fn a_crash_between_the_intent_and_the_call_is_settled_with_the_stored_key_and_inputs() {
    let env = env().await;
    env.fake.script("charge", [Step::HoldBefore]);
    let service = env.service.clone();
    let task = tokio::spawn(async move { service.create_transaction(charge(990, true)).await });
    env.fake.held().await;
    // The task dies before its call reaches the gateway.
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    assert!(env.fake.calls_of("charge").is_empty());

    // The intent was written first: the operation, its key and the exact inputs.
    let unsettled = env.unsettled().await;
    assert_eq!(unsettled.len(), 1);
    let op = &unsettled[0];
    assert_eq!((op.kind, op.state), (OpKind::Charge, OpState::Pending));
    let txn_id = op.transaction_id.unwrap();
    let txn = env.txn(txn_id).await;
    assert_eq!(txn.status, TxnStatus::Pending);
    assert_eq!(op.idempotency_key, txn.idempotency_key);
    let stored: ChargeParams = serde_json::from_value(op.params.clone()).unwrap();
    assert_eq!(stored.amount, 990);

    let report = reconcile_once(&env.service, Duration::ZERO).await.unwrap();
    assert_eq!((report.examined, report.done), (1, 1), "{report:?}");
    let txn = env.txn(txn_id).await;
    env.assert_charged_once(&txn, 1);
    // What reached the gateway is exactly what was stored.
    let call = &env.fake.calls_of("charge")[0];
    assert_eq!(
        call.inputs,
        serde_json::to_value(stored.request(&op.idempotency_key)).unwrap()
    );
}

#[tokio::test]
async fn a_crash_between_the_call_and_its_outcome_is_repeated_and_charges_once() {
    let env = env().await;
    env.fake.script("charge", [Step::HoldAfter]);
    let service = env.service.clone();
    let task = tokio::spawn(async move { service.create_transaction(charge(4200, true)).await });
    env.fake.held().await;
    // The gateway charged; the answer has not been recorded yet. Running in this task, the
    // operation is not repeated by another.
    let report = reconcile_once(&env.service, Duration::ZERO).await.unwrap();
    assert_eq!((report.examined, report.in_flight), (1, 1), "{report:?}");
    assert_eq!(env.fake.calls_of("charge").len(), 1);

    // The task dies before the outcome is applied.
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    let op = env.unsettled().await.remove(0);
    let txn_id = op.transaction_id.unwrap();
    assert_eq!(env.txn(txn_id).await.status, TxnStatus::Pending);
    assert_eq!(env.fake.payments().len(), 1, "the money moved");

    // The reconciler repeats the call with the same key: the gateway answers the original
    // payment, and nothing is charged twice.
    let report = reconcile_once(&env.service, Duration::ZERO).await.unwrap();
    assert_eq!((report.examined, report.done), (1, 1), "{report:?}");
    env.assert_charged_once(&env.txn(txn_id).await, 2);
}

#[tokio::test]
async fn a_void_whose_outcome_is_unknown_is_settled_with_its_own_key() {
    let env = env().await;
    let mut request = charge(3000, true);
    request.capture = Capture::Manual;
    let (txn, err, _) = env.service.create_transaction(request).await.unwrap();
    assert!(err.is_none());
    assert_eq!(txn.status, TxnStatus::Authorized);
    env.fake
        .script("void", [Step::LoseAnswer(CallError::Trap("lost".into()))]);
    let e = env.service.void(txn.id).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::OutcomeUnknown);
    let report = reconcile_once(&env.service, Duration::ZERO).await.unwrap();
    assert_eq!(report.done, 1, "{report:?}");
    let txn = env.txn(txn.id).await;
    assert_eq!(txn.status, TxnStatus::Canceled);
    let voids = env.fake.calls_of("void");
    assert_eq!(voids.len(), 2);
    let key = voids[0].key.clone().unwrap();
    assert!(key.starts_with(&format!("{}:cancel:", txn.idempotency_key)));
    assert_eq!(voids[1].key.as_deref(), Some(key.as_str()));
    assert_eq!(env.fake.calls_of("charge").len(), 1);
}
