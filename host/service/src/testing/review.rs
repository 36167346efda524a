//! Answers the service can not trust, against the scripted fake: a charge whose answer breaks the
//! contract is held for review (not succeeded, not counted, not moved by events, lookups or the
//! reconciler); and, on a gateway like Adyen's (modifications settled later, no lookups), a
//! payment completed after the customer's action whose capture an event settles.

use std::time::Duration;

use omnicrm_host::contract::{
    EventKind, GatewayEvent, ModificationKind, ModificationStatus, ModificationUpdate, Money,
    PaymentStatus, PaymentUpdate,
};

use super::fake_gateway::{NAME, Step, asynchronous};
use super::service_env::{charge, env, env_with_capabilities};
use crate::error::ErrorKind;
use crate::events::{Handled, handle_event};
use crate::ledger::{Capture, CaptureStatus, OpState, TxnFilter, TxnStatus, now};
use crate::payments::Requester;
use crate::payments::operator::{OperatorOutcome, OperatorSettlement};
use crate::reconcile::reconcile_once;

/// A `payment` event of the fake saying `payment` now stands at `status`, `captured` taken.
fn payment_event(id: &str, payment: &str, status: PaymentStatus, captured: i64) -> GatewayEvent {
    GatewayEvent {
        id: id.into(),
        created: now(),
        gateway_type: "payment.updated".into(),
        kind: EventKind::Payment(PaymentUpdate {
            payment: payment.into(),
            status,
            amount: Money {
                amount: captured,
                currency: "EUR".into(),
            },
            amount_captured: Some(captured),
            decline: None,
            metadata: vec![],
            fee: None,
            network_transaction_id: None,
        }),
    }
}

#[tokio::test]
async fn an_answer_that_breaks_the_contract_holds_the_transaction_for_review() {
    let env = env().await;
    env.fake.script("charge", [Step::BreakContract]);
    let (txn, err, created) = env
        .service
        .create_transaction(charge(1000, true))
        .await
        .unwrap();
    assert!(created);
    // Held, with why, and the client hears it as such.
    assert_eq!(txn.status, TxnStatus::HeldForReview);
    assert_eq!(txn.amount_captured, 0);
    let why = txn.last_error.clone().unwrap();
    assert!(
        why.contains("payment.amount-captured") && why.contains("held for review"),
        "{why}"
    );
    let err = err.expect("the client hears the transaction is held");
    assert_eq!(err.kind, ErrorKind::HeldForReview);
    assert_eq!(
        txn.attention.as_deref(),
        Some(why.as_str()),
        "flagged for an operator"
    );
    // The payment's reference is kept as a lead for the operator; the operation is settled.
    let (payment, _) = env.fake.payments().into_iter().next().unwrap();
    assert_eq!(txn.gateway_payment_ref.as_deref(), Some(payment.as_str()));
    let ops = env.operations(txn.id).await;
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0].state, OpState::Failed);
    assert!(env.unsettled().await.is_empty());

    // Neither the reconciler nor an event moves it: the answer can not be trusted.
    let report = reconcile_once(&env.service, Duration::ZERO).await.unwrap();
    assert_eq!((report.examined, report.refreshed), (0, 0), "{report:?}");
    let event = payment_event("evt_held", &payment, PaymentStatus::Succeeded, 1000);
    let handled = handle_event(&env.service, NAME, &event).await.unwrap();
    assert_eq!(handled, Handled::Applied("payment_already_current"));
    let txn = env.txn(txn.id).await;
    assert_eq!(txn.status, TxnStatus::HeldForReview);
    assert_eq!(env.fake.calls_of("charge").len(), 1, "never charged again");
    // A capture or a completion is refused or answered as it stands.
    let e = env.service.capture(txn.id, None).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conflict);
    let (same, err) = env
        .service
        .complete_action_for(txn.id, vec![], Requester::Service)
        .await
        .unwrap();
    assert_eq!(same.status, TxnStatus::HeldForReview);
    assert_eq!(err.map(|e| e.kind), Some(ErrorKind::HeldForReview));

    // No money is counted; the ledger's totals show it unsettled.
    let (from, to) = (now() - 60, now() + 60);
    let summary = env.service.summary(None, from, to, "EUR").await.unwrap();
    assert_eq!(
        (
            summary.combined.revenue,
            summary.combined.successful_payments
        ),
        (0, 0)
    );
    let totals = env.service.db.ledger().totals("EUR", from, to).unwrap();
    assert_eq!(
        (totals.charges, totals.captured, totals.unsettled),
        (0, 0, 1)
    );

    // The next charge, answered as the contract says, succeeds as usual.
    let (next, err, _) = env
        .service
        .create_transaction(charge(700, true))
        .await
        .unwrap();
    assert!(err.is_none(), "{err:?}");
    assert_eq!(next.status, TxnStatus::Succeeded);
}

#[tokio::test]
async fn an_operator_settles_a_charge_held_for_review_once() {
    let env = env().await;
    env.fake
        .script("charge", [Step::BreakContract, Step::BreakContract]);
    let (paid, _, _) = env
        .service
        .create_transaction(charge(1000, true))
        .await
        .unwrap();
    let (not_paid, _, _) = env
        .service
        .create_transaction(charge(400, true))
        .await
        .unwrap();
    assert_eq!(
        (paid.status, not_paid.status),
        (TxnStatus::HeldForReview, TxnStatus::HeldForReview)
    );
    let flagged = TxnFilter {
        attention: Some(true),
        ..Default::default()
    };
    let listed = |f: TxnFilter| {
        let service = env.service.clone();
        async move {
            let txns = service.db.run(move |l| l.transactions(&f)).await.unwrap();
            txns.iter().map(|t| t.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(listed(flagged.clone()).await, vec![not_paid.id, paid.id]);

    let settlement = |outcome, reference: Option<&str>, operator: &str| OperatorSettlement {
        outcome,
        gateway_payment_ref: reference.map(Into::into),
        operator: operator.into(),
        reason: "checked in the gateway's dashboard".into(),
    };
    // Money taken needs the gateway's payment named.
    let e = env
        .service
        .settle_by_operator(
            paid.id,
            settlement(OperatorOutcome::Succeeded, None, "alice"),
        )
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind, e.field.as_deref()),
        (ErrorKind::InvalidInput, Some("gateway_payment_ref"))
    );
    assert_eq!(env.txn(paid.id).await.status, TxnStatus::HeldForReview);

    // Two operators at once: one settles it, the other is told it moved.
    let reference = paid.gateway_payment_ref.clone().unwrap();
    let (a, b) = tokio::join!(
        env.service.settle_by_operator(
            paid.id,
            settlement(OperatorOutcome::Succeeded, Some(&reference), "alice")
        ),
        env.service
            .settle_by_operator(paid.id, settlement(OperatorOutcome::Failed, None, "bob")),
    );
    let (settled, refused) = match (a, b) {
        (Ok(t), Err(e)) | (Err(e), Ok(t)) => (t, e),
        other => panic!("exactly one settles it: {other:?}"),
    };
    assert_eq!(refused.kind, ErrorKind::Conflict, "{refused}");
    let txn = env.txn(paid.id).await;
    assert_eq!(txn, settled);
    assert!(
        txn.attention.is_none() && txn.last_error.is_none(),
        "no longer flagged: {txn:?}"
    );
    match txn.settled_by.as_deref() {
        Some("alice") => assert_eq!(
            (
                txn.status,
                txn.amount_captured,
                txn.gateway_payment_ref.as_deref()
            ),
            (TxnStatus::Succeeded, 1000, Some(reference.as_str()))
        ),
        Some("bob") => assert_eq!((txn.status, txn.amount_captured), (TxnStatus::Failed, 0)),
        other => panic!("settled by {other:?}"),
    }

    // Nothing was taken for the other: failed, never counted.
    let txn = env
        .service
        .settle_by_operator(
            not_paid.id,
            settlement(OperatorOutcome::Failed, None, "alice"),
        )
        .await
        .unwrap();
    assert_eq!(
        (txn.status, txn.settled_by.as_deref()),
        (TxnStatus::Failed, Some("alice"))
    );
    assert!(listed(flagged).await.is_empty());
    let e = env
        .service
        .settle_by_operator(
            not_paid.id,
            settlement(OperatorOutcome::Failed, None, "alice"),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conflict, "settled once: {e}");

    // The figures count what the operator found taken, and only that.
    let (from, to) = (now() - 60, now() + 60);
    let summary = env.service.summary(None, from, to, "EUR").await.unwrap();
    let taken = if settled.status == TxnStatus::Succeeded {
        1000
    } else {
        0
    };
    assert_eq!(summary.combined.revenue, taken);
    let totals = env.service.db.ledger().totals("EUR", from, to).unwrap();
    assert_eq!(totals.unsettled, 0);
    assert_eq!(env.fake.calls_of("charge").len(), 2, "never charged again");
}

#[tokio::test]
async fn an_authenticated_payment_s_capture_settled_later_ends_by_event() {
    let env = env_with_capabilities(asynchronous()).await;
    // The payment waits for the customer.
    env.fake.script("charge", [Step::RequireAction]);
    let (txn, err, _) = env
        .service
        .create_transaction(charge(2400, true))
        .await
        .unwrap();
    assert_eq!(txn.status, TxnStatus::RequiresAction);
    assert_eq!(err.map(|e| e.kind), Some(ErrorKind::ActionRequired));
    assert!(txn.next_action.is_some());
    let payment = txn.gateway_payment_ref.clone().unwrap();

    // The customer authenticated; the completion finishes the payment.
    let (done, err) = env
        .service
        .complete_action_for(
            txn.id,
            vec![("redirectResult".into(), "ok".into())],
            Requester::Client(None),
        )
        .await
        .unwrap();
    assert!(err.is_none(), "{err:?}");
    assert_eq!(done.status, TxnStatus::Succeeded);
    assert_eq!(done.amount_captured, 2400);
    assert!(done.next_action.is_none());
    assert_eq!(done.fee, Some(2400 * 3 / 100 + 30));

    // An authorization whose capture the gateway settles later.
    let mut request = charge(5000, true);
    request.capture = Capture::Manual;
    let (held, _, _) = env.service.create_transaction(request).await.unwrap();
    assert_eq!(held.status, TxnStatus::Authorized);
    env.fake.script("capture", [Step::Pending]);
    let (txn, pending) = env
        .service
        .capture_for(held.id, Some(3000), true, Requester::Service)
        .await
        .unwrap();
    assert!(pending);
    assert_eq!(txn.status, TxnStatus::Authorized);
    let captures = env.service.db.ledger().captures(held.id).unwrap();
    assert_eq!(captures[0].status, CaptureStatus::Pending);
    // No lookups at this gateway: the reconciler only counts it as waiting.
    let report = reconcile_once(&env.service, Duration::ZERO).await.unwrap();
    assert_eq!(report.modifications.waiting, 1, "{report:?}");

    // The gateway captures it and says so.
    let payment_ref = held.gateway_payment_ref.clone().unwrap();
    env.fake
        .set_payment(&payment_ref, PaymentStatus::Succeeded, 3000);
    let event = GatewayEvent {
        id: "evt_capture".into(),
        created: now(),
        gateway_type: "CAPTURE".into(),
        kind: EventKind::Modification(ModificationUpdate {
            modification: captures[0].gateway_modification_ref.clone().unwrap(),
            kind: ModificationKind::Capture,
            payment: payment_ref.clone(),
            status: ModificationStatus::Succeeded,
            amount: Some(Money {
                amount: 3000,
                currency: "EUR".into(),
            }),
            reason: None,
        }),
    };
    let handled = handle_event(&env.service, NAME, &event).await.unwrap();
    assert!(matches!(handled, Handled::Applied(_)), "{handled:?}");
    let txn = env.txn(held.id).await;
    assert_eq!(
        (txn.status, txn.amount_captured),
        (TxnStatus::Succeeded, 3000)
    );
    let captures = env.service.db.ledger().captures(held.id).unwrap();
    assert_eq!(captures[0].status, CaptureStatus::Succeeded);
    assert_ne!(payment, payment_ref);
}
