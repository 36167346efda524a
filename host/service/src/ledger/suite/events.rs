//! What gateways report on their own (disputes, webhook events) and API idempotency keys.

use super::{new_txn, succeed};
use crate::ledger::{
    Dispute, DisputeStatus, DisputeUpdate, IdemBegin, Ledger, NewOperation, OpKind, OpState,
    TxnPatch, TxnStatus, now,
};

pub fn disputes_only_move_forward(l: &dyn Ledger) {
    let (t, _) = l.insert_transaction(&new_txn("c1", 1000, "k1")).unwrap();
    succeed(l, t.id, 1000);
    let mut u = DisputeUpdate {
        evidence_due_by: None,
        gateway: "stripe".into(),
        gateway_dispute_ref: "du_1".into(),
        gateway_payment_ref: Some(format!("pi_{}", t.id)),
        transaction_id: None,
        amount: 1000,
        currency: "USD".into(),
        reason: "fraudulent".into(),
        status: DisputeStatus::Lost,
    };
    let d = l.upsert_dispute(&u).unwrap();
    assert_eq!(
        (d.status, d.transaction_id),
        (DisputeStatus::Lost, Some(t.id))
    );
    u.status = DisputeStatus::Open; // a late "opened" event
    assert_eq!(l.upsert_dispute(&u).unwrap().status, DisputeStatus::Lost);
    assert_eq!(l.disputes(Some(t.id)).unwrap().len(), 1);
}

/// A dispute reported before its payment is known to the ledger is found through that payment
/// later, and takes its transaction when it next moves forward; it never moves back, and a
/// closed dispute stays closed.
pub fn disputes_find_their_transaction_by_payment(l: &dyn Ledger) {
    let mut u = DisputeUpdate {
        evidence_due_by: None,
        gateway: "stripe".into(),
        gateway_dispute_ref: "du_1".into(),
        gateway_payment_ref: Some("pi_late".into()),
        transaction_id: None,
        amount: 400,
        currency: "USD".into(),
        reason: "general".into(),
        status: DisputeStatus::Warning,
    };
    let d = l.upsert_dispute(&u).unwrap();
    assert_eq!((d.transaction_id, d.status), (None, DisputeStatus::Warning));
    let (t, _) = l.insert_transaction(&new_txn("c1", 1000, "k1")).unwrap();
    l.update_transaction(
        t.id,
        &[TxnStatus::Pending],
        &TxnPatch {
            status: Some(TxnStatus::Succeeded),
            amount_captured: Some(1000),
            gateway: Some("stripe".into()),
            gateway_payment_ref: Some("pi_late".into()),
            ..Default::default()
        },
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        l.disputes(Some(t.id))
            .unwrap()
            .iter()
            .map(|d| d.id)
            .collect::<Vec<_>>(),
        vec![d.id],
        "found through its payment"
    );
    (u.status, u.amount, u.reason) = (DisputeStatus::Open, 1000, "fraudulent".into());
    let opened = l.upsert_dispute(&u).unwrap();
    assert_eq!(
        (
            opened.id,
            opened.transaction_id,
            opened.status,
            opened.amount,
            opened.reason.as_str()
        ),
        (d.id, Some(t.id), DisputeStatus::Open, 1000, "fraudulent")
    );
    u.status = DisputeStatus::Warning;
    assert_eq!(l.upsert_dispute(&u).unwrap().status, DisputeStatus::Open);
    u.status = DisputeStatus::Won;
    assert_eq!(l.upsert_dispute(&u).unwrap().status, DisputeStatus::Won);
    u.status = DisputeStatus::Lost;
    assert_eq!(
        l.upsert_dispute(&u).unwrap().status,
        DisputeStatus::Won,
        "a closed dispute stays closed"
    );
    // The same reference at another gateway is another dispute; one naming its transaction
    // needs no payment.
    let other = l
        .upsert_dispute(&DisputeUpdate {
            gateway: "offline".into(),
            gateway_payment_ref: None,
            transaction_id: Some(t.id),
            status: DisputeStatus::Open,
            ..u.clone()
        })
        .unwrap();
    assert_ne!(other.id, d.id);
    assert_eq!(other.transaction_id, Some(t.id));
    let (unrelated, _) = l.insert_transaction(&new_txn("c2", 10, "k2")).unwrap();
    assert!(l.disputes(Some(unrelated.id)).unwrap().is_empty());
    let ids = |list: Vec<Dispute>| list.iter().map(|d| d.id).collect::<Vec<_>>();
    assert_eq!(ids(l.disputes(None).unwrap()), vec![other.id, d.id]);
    assert_eq!(ids(l.disputes(Some(t.id)).unwrap()), vec![other.id, d.id]);
}

pub fn operations_idempotency_and_webhooks(l: &dyn Ledger) {
    let op = NewOperation {
        kind: OpKind::Charge,
        gateway: "stripe".into(),
        transaction_id: None,
        refund_id: None,
        invoice_id: None,
        idempotency_key: "key-1".into(),
        params: serde_json::json!({"amount": 5}),
    };
    let (o, created) = l.insert_operation(&op).unwrap();
    assert!(created && o.state == OpState::Pending);
    let (o2, created2) = l.insert_operation(&op).unwrap();
    assert!(!created2 && o2.id == o.id);
    assert_eq!(l.unsettled_operations(now() + 1, 10).unwrap().len(), 1);
    l.set_operation_state(o.id, OpState::Done, None, true)
        .unwrap();
    assert!(l.unsettled_operations(now() + 1, 10).unwrap().is_empty());
    assert_eq!(l.operation(o.id).unwrap().unwrap().attempts, 1);

    assert_eq!(
        l.idem_begin("crm", "a", "h1", b"h1", "p1").unwrap(),
        IdemBegin::Run
    );
    assert_eq!(
        l.idem_begin("crm", "a", "h1", b"h1", "p1").unwrap(),
        IdemBegin::InProgress
    );
    assert_eq!(
        l.idem_begin("crm", "a", "h2", b"h2", "p1").unwrap(),
        IdemBegin::Mismatch {
            request: b"h1".to_vec()
        }
    );
    l.idem_finish("crm", "a", 201, b"{}").unwrap();
    assert_eq!(
        l.idem_begin("crm", "a", "h1", b"h1", "p1").unwrap(),
        IdemBegin::Replay {
            status: 201,
            body: b"{}".to_vec()
        }
    );
    assert_eq!(
        l.idem_begin("crm", "b", "h1", b"h1", "p1").unwrap(),
        IdemBegin::Run
    );
    assert_eq!(
        l.idem_begin("crm", "b", "h1", b"h1", "p2").unwrap(),
        IdemBegin::Run,
        "owner died"
    );
    assert_eq!(
        l.idem_begin("other", "a", "h1", b"h1", "p1").unwrap(),
        IdemBegin::Run,
        "scoped per key"
    );

    assert!(!l.webhook_seen("stripe", "evt_1").unwrap());
    assert!(
        l.record_webhook("stripe", "evt_1", "charge.refunded")
            .unwrap()
    );
    assert!(
        !l.record_webhook("stripe", "evt_1", "charge.refunded")
            .unwrap()
    );
    assert!(l.webhook_seen("stripe", "evt_1").unwrap());
}

/// An aborted request is forgotten: its key runs again, even with another request; a finished
/// one is replayed to the same request only.
pub fn idempotency_keys_abort_and_replay(l: &dyn Ledger) {
    assert_eq!(
        l.idem_begin("crm", "a", "h1", b"h1", "p1").unwrap(),
        IdemBegin::Run
    );
    l.idem_abort("crm", "a").unwrap();
    assert_eq!(
        l.idem_begin("crm", "a", "h2", b"h2", "p1").unwrap(),
        IdemBegin::Run,
        "forgotten"
    );
    l.idem_finish("crm", "a", 402, b"{\"error\":\"declined\"}")
        .unwrap();
    let replay = IdemBegin::Replay {
        status: 402,
        body: b"{\"error\":\"declined\"}".to_vec(),
    };
    assert_eq!(l.idem_begin("crm", "a", "h2", b"h2", "p1").unwrap(), replay);
    assert_eq!(
        l.idem_begin("crm", "a", "h2", b"h2", "p2").unwrap(),
        replay,
        "replayed to any process"
    );
    assert_eq!(
        l.idem_begin("crm", "a", "h1", b"h1", "p1").unwrap(),
        IdemBegin::Mismatch {
            request: b"h2".to_vec()
        }
    );
    l.idem_abort("crm", "never-used").unwrap();
    l.idem_abort("crm", "a").unwrap();
    assert_eq!(
        l.idem_begin("crm", "a", "h3", b"h3", "p1").unwrap(),
        IdemBegin::Run
    );
}

/// A key whose request has no final answer stays bound to it: the same request runs again (in
/// any process), another is refused, naming the first.
pub fn unsettled_idempotency_keys_stay_bound(l: &dyn Ledger) {
    assert_eq!(
        l.idem_begin("crm", "u", "h1", b"first", "p1").unwrap(),
        IdemBegin::Run
    );
    l.idem_unsettled("crm", "u").unwrap();
    assert_eq!(
        l.idem_begin("crm", "u", "h2", b"second", "p1").unwrap(),
        IdemBegin::Mismatch {
            request: b"first".to_vec()
        }
    );
    assert_eq!(
        l.idem_begin("crm", "u", "h1", b"first", "p1").unwrap(),
        IdemBegin::Run,
        "the same request runs again"
    );
    assert_eq!(
        l.idem_begin("crm", "u", "h1", b"first", "p1").unwrap(),
        IdemBegin::InProgress,
        "and is running now"
    );
    l.idem_unsettled("crm", "u").unwrap();
    assert_eq!(
        l.idem_begin("crm", "u", "h1", b"first", "p2").unwrap(),
        IdemBegin::Run,
        "in another process too"
    );
    l.idem_finish("crm", "u", 200, b"{}").unwrap();
    assert_eq!(
        l.idem_begin("crm", "u", "h1", b"first", "p1").unwrap(),
        IdemBegin::Replay {
            status: 200,
            body: b"{}".to_vec()
        }
    );
}

/// A webhook event is recorded once per gateway and event id.
pub fn webhook_events_are_recorded_once_per_gateway(l: &dyn Ledger) {
    assert!(
        l.record_webhook("stripe", "evt_1", "charge.refunded")
            .unwrap()
    );
    assert!(
        l.record_webhook("offline", "evt_1", "charge.refunded")
            .unwrap(),
        "another gateway's event"
    );
    assert!(
        !l.record_webhook("stripe", "evt_1", "charge.dispute.created")
            .unwrap()
    );
    assert!(l.webhook_seen("stripe", "evt_1").unwrap());
    assert!(l.webhook_seen("offline", "evt_1").unwrap());
    assert!(!l.webhook_seen("stripe", "evt_2").unwrap());
    assert!(!l.webhook_seen("adyen", "evt_1").unwrap());
}
