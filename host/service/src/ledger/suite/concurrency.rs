//! Writers racing on one ledger from several threads, and async callers going through [`Db`].

use std::sync::{Arc, Barrier};

use super::{charge_op, new_invoice, new_txn, refund, succeed};
use crate::ledger::{
    Begun, Db, InvoiceStatus, Ledger, LedgerError, NewOperation, OpKind, OpState, TxnFilter,
    TxnPatch, TxnStatus, now,
};

const THREADS: usize = 8;

/// Runs `f(i)` on `THREADS` threads started together; their results in thread order.
fn race<T: Send + 'static>(
    l: &Arc<dyn Ledger>,
    f: impl Fn(&dyn Ledger, usize) -> T + Send + Sync + 'static,
) -> Vec<T> {
    let f = Arc::new(f);
    let start = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|i| {
            let (l, f, start) = (l.clone(), f.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                f(&*l, i)
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

/// Writers racing with the same idempotency keys record each key once, and all of them get
/// the row recorded.
pub fn concurrent_writers_record_each_key_once(l: Arc<dyn Ledger>) {
    const KEYS: usize = 10;
    let seen = race(&l, |l, i| {
        (0..KEYS)
            .map(|k| {
                // Each thread goes through the keys from another starting point.
                let key = format!("k-{}", (k + i) % KEYS);
                let (t, created) = l.insert_transaction(&new_txn("c1", 100, &key)).unwrap();
                (key, t.id, created)
            })
            .collect::<Vec<_>>()
    });
    let all: Vec<_> = seen.into_iter().flatten().collect();
    assert_eq!(all.iter().filter(|(_, _, created)| *created).count(), KEYS);
    let rows = l.transactions(&TxnFilter::default()).unwrap();
    assert_eq!(rows.len(), KEYS);
    for (key, id, _) in &all {
        let row = rows.iter().find(|t| t.id == *id).unwrap();
        assert_eq!(
            &row.idempotency_key, key,
            "every writer got the row of its key"
        );
    }
}

/// Refunds racing on one charge never take more than was captured together.
pub fn concurrent_refunds_never_exceed_the_capture(l: Arc<dyn Ledger>) {
    let (t, _) = l.insert_transaction(&new_txn("c1", 1000, "k1")).unwrap();
    succeed(&*l, t.id, 1000);
    let txn = t.id;
    let outcomes = race(&l, move |l, i| {
        refund(l, txn, Some(300), None, &format!("r-{i}"))
    });
    let made: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    assert_eq!(made.len(), 3, "three of 300 fit in 1000, a fourth does not");
    for refused in outcomes.iter().filter_map(|o| o.as_ref().err()) {
        assert!(
            matches!(
                refused,
                LedgerError::RefundExceeds {
                    requested: 300,
                    remaining: 100
                }
            ),
            "{refused}"
        );
    }
    let stored = l.refunds(t.id).unwrap();
    assert_eq!(stored.iter().map(|r| r.amount).sum::<i64>(), 900);
    assert_eq!(stored.len(), 3);
}

/// Captures and voids racing on one authorization: exactly one operation is written; the others
/// find it unsettled. Once it settled, the transaction's status refuses the next.
pub fn concurrent_payment_changes_write_one_operation(l: Arc<dyn Ledger>) {
    let (t, _) = l.insert_transaction(&new_txn("c1", 1000, "auth")).unwrap();
    let patch = TxnPatch {
        status: Some(TxnStatus::Authorized),
        gateway: Some("stripe".into()),
        gateway_payment_ref: Some("pi_1".into()),
        ..Default::default()
    };
    l.update_transaction(t.id, &[TxnStatus::Pending], &patch)
        .unwrap()
        .unwrap();
    let txn = t.id;
    let outcomes = race(&l, move |l, i| {
        l.begin_payment_change(txn, false, &|t, _| {
            let op = NewOperation {
                kind: if i % 2 == 0 {
                    OpKind::Capture
                } else {
                    OpKind::Cancel
                },
                gateway: "stripe".into(),
                transaction_id: Some(t.id),
                refund_id: None,
                invoice_id: None,
                idempotency_key: format!("auth:change:{i}"),
                params: serde_json::json!({ "payment": t.gateway_payment_ref }),
            };
            Ok((op, None))
        })
        .unwrap()
    });
    let started: Vec<_> = outcomes
        .iter()
        .filter_map(|o| match o {
            Begun::Started(op) => Some(op.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(started.len(), 1, "{outcomes:?}");
    for o in &outcomes {
        match o {
            Begun::Started(_) => {}
            Begun::Busy(op) => assert_eq!(op.id, started[0].id),
            other => panic!("{other:?} while authorized"),
        }
    }
    assert_eq!(l.operations_for(Some(txn), None).unwrap().len(), 1);
    // Settled: the status now refuses another change.
    l.set_operation_state(started[0].id, OpState::Done, None, true)
        .unwrap();
    succeed_authorized(&*l, txn);
    let again = l
        .begin_payment_change(txn, false, &|t, _| Ok((charge_op(t.id, "never"), None)))
        .unwrap();
    assert!(
        matches!(&again, Begun::Refused(t) if t.status == TxnStatus::Succeeded),
        "{again:?}"
    );
}

fn succeed_authorized(l: &dyn Ledger, id: i64) {
    let patch = TxnPatch {
        status: Some(TxnStatus::Succeeded),
        ..Default::default()
    };
    l.update_transaction(id, &[TxnStatus::Authorized], &patch)
        .unwrap()
        .unwrap();
}

/// Payments racing on one invoice: one operation is written and one attempt counted.
pub fn concurrent_invoice_payments_write_one_operation(l: Arc<dyn Ledger>) {
    let (t, _) = l.insert_transaction(&new_txn("c1", 1000, "line")).unwrap();
    let inv = l
        .create_invoice(&new_invoice("c1", "inv", now()))
        .unwrap()
        .unwrap();
    assert_eq!(inv.total, t.amount);
    let open = crate::ledger::InvoicePatch {
        status: Some(InvoiceStatus::Open),
        ..Default::default()
    };
    l.update_invoice(inv.id, &[], &open).unwrap().unwrap();
    let id = inv.id;
    let outcomes = race(&l, move |l, _| {
        l.begin_invoice_op(id, OpKind::InvoicePay, &[InvoiceStatus::Open], &|inv| {
            Ok(NewOperation {
                kind: OpKind::InvoicePay,
                gateway: "stripe".into(),
                transaction_id: None,
                refund_id: None,
                invoice_id: Some(inv.id),
                idempotency_key: format!("inv:pay:{}", inv.pay_attempts),
                params: serde_json::json!({}),
            })
        })
        .unwrap()
    });
    let started = outcomes
        .iter()
        .filter(|o| matches!(o, Begun::Started(_)))
        .count();
    assert_eq!(started, 1, "{outcomes:?}");
    let inv = l.invoice(id).unwrap().unwrap();
    assert_eq!(inv.pay_attempts, 1);
    let ops = l.operations_for(None, Some(id)).unwrap();
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0].idempotency_key, "inv:pay:1");
    // Not open any more: refused, and no attempt counted.
    let paid = crate::ledger::InvoicePatch {
        status: Some(InvoiceStatus::Paid),
        ..Default::default()
    };
    l.set_operation_state(ops[0].id, OpState::Done, None, true)
        .unwrap();
    l.update_invoice(id, &[], &paid).unwrap().unwrap();
    let again = l
        .begin_invoice_op(id, OpKind::InvoicePay, &[InvoiceStatus::Open], &|_| {
            Ok(charge_op(0, "never"))
        })
        .unwrap();
    assert!(matches!(again, Begun::Refused(_)), "{again:?}");
    assert_eq!(l.invoice(id).unwrap().unwrap().pay_attempts, 1);
}

/// A charge refused as invalid input goes with its transaction; anything else stays.
pub fn a_refused_charge_is_discarded_with_its_transaction(l: Arc<dyn Ledger>) {
    let (t, _) = l.insert_transaction(&new_txn("c1", 1000, "bad")).unwrap();
    let (op, _) = l.insert_operation(&charge_op(t.id, "bad")).unwrap();
    assert!(
        !l.discard_refused_charge(t.id, op.id).unwrap(),
        "not failed yet"
    );
    l.set_operation_state(op.id, OpState::Failed, Some("invalid"), true)
        .unwrap();
    let failed = TxnPatch {
        status: Some(TxnStatus::Failed),
        ..Default::default()
    };
    l.update_transaction(t.id, &[], &failed).unwrap().unwrap();
    assert!(l.discard_refused_charge(t.id, op.id).unwrap());
    assert!(l.transaction(t.id).unwrap().is_none());
    assert!(l.operation(op.id).unwrap().is_none());
    // A declined charge (it has a payment at the gateway) is kept.
    let (t, _) = l
        .insert_transaction(&new_txn("c1", 1000, "declined"))
        .unwrap();
    let (op, _) = l.insert_operation(&charge_op(t.id, "declined")).unwrap();
    l.set_operation_state(op.id, OpState::Failed, None, true)
        .unwrap();
    let declined = TxnPatch {
        status: Some(TxnStatus::Failed),
        gateway_payment_ref: Some("pi_declined".into()),
        ..Default::default()
    };
    l.update_transaction(t.id, &[], &declined).unwrap().unwrap();
    assert!(!l.discard_refused_charge(t.id, op.id).unwrap());
    assert!(l.transaction(t.id).unwrap().is_some());
}

/// Async callers reach the ledger through [`Db`]: calls from many tasks all land, errors come
/// back as they are, and a call that panics comes back as an error of its task.
pub fn async_callers_go_through_db(l: Arc<dyn Ledger>) {
    let db = Db::new(l);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let tasks: Vec<_> = (0..THREADS)
            .map(|i| {
                let db = db.clone();
                tokio::spawn(async move {
                    db.run(move |l| l.insert_transaction(&new_txn("c1", 100, &format!("k-{i}"))))
                        .await
                })
            })
            .collect();
        for task in tasks {
            let (_, created) = task.await.unwrap().unwrap();
            assert!(created);
        }
        assert!(matches!(
            db.run(|l| refund(l, i64::MAX, None, None, "r1")).await,
            Err(LedgerError::NotFound { .. })
        ));
        assert!(matches!(
            db.run(|_| -> crate::ledger::Result<()> { panic!("a call that panics") })
                .await,
            Err(LedgerError::Task(_))
        ));
    });
    let rows = db.ledger().transactions(&TxnFilter::default()).unwrap();
    assert_eq!(rows.len(), THREADS);
}
