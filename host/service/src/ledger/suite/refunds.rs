//! Refunds: never more than what was captured, settled in any order.

use super::{new_invoice, new_txn, refund, refund_op, succeed};
use crate::ledger::{
    InvoicePatch, InvoiceStatus, Ledger, LedgerError, OpKind, OpState, RefundStatus, TxnKind,
    TxnPatch, TxnStatus, now,
};

pub fn refunds_never_exceed_what_remains_and_converge(l: &dyn Ledger) {
    let (t, _) = l.insert_transaction(&new_txn("c1", 1000, "k1")).unwrap();
    assert!(matches!(
        refund(l, t.id, Some(100), None, "r0"),
        Err(LedgerError::Conflict { .. })
    ));
    succeed(l, t.id, 1000);
    let (r1, op) = l
        .create_refund(t.id, Some(600), None, "r1", &refund_op)
        .unwrap();
    assert_eq!(r1.status, RefundStatus::Pending);
    // The refund and its operation are written together.
    assert_eq!(
        (op.kind, op.refund_id, op.idempotency_key.as_str(), op.state),
        (OpKind::Refund, Some(r1.id), "r1", OpState::Pending)
    );
    assert_eq!(
        l.create_refund(t.id, Some(600), None, "r1", &refund_op)
            .unwrap()
            .1
            .id,
        op.id,
        "a repeat finds the same operation"
    );
    assert!(matches!(
        refund(l, t.id, Some(500), None, "r2"),
        Err(LedgerError::RefundExceeds {
            requested: 500,
            remaining: 400
        })
    ));
    // The same key returns the same refund.
    assert_eq!(refund(l, t.id, Some(600), None, "r1").unwrap().id, r1.id);
    // A webhook arrives first and claims the single matching refund ...
    let seen = l
        .observe_refund(t.id, "re_1", 600, RefundStatus::Succeeded)
        .unwrap()
        .unwrap();
    assert_eq!(seen.id, r1.id);
    let t1 = l.transaction(t.id).unwrap().unwrap();
    assert_eq!(
        (t1.amount_refunded, t1.status),
        (600, TxnStatus::PartiallyRefunded)
    );
    // ... then the synchronous path settles the same outcome: no double counting.
    assert!(
        l.settle_refund(
            r1.id,
            &[RefundStatus::Pending, RefundStatus::Unknown],
            RefundStatus::Succeeded,
            Some("re_1"),
            None
        )
        .unwrap()
        .is_none()
    );
    assert_eq!(l.transaction(t.id).unwrap().unwrap().amount_refunded, 600);
    // The rest, by omitting the amount.
    let r2 = refund(l, t.id, None, Some("requested_by_customer"), "r3").unwrap();
    assert_eq!(r2.amount, 400);
    l.settle_refund(
        r2.id,
        &[RefundStatus::Pending],
        RefundStatus::Succeeded,
        Some("re_2"),
        None,
    )
    .unwrap()
    .unwrap();
    let t2 = l.transaction(t.id).unwrap().unwrap();
    assert_eq!((t2.amount_refunded, t2.status), (1000, TxnStatus::Refunded));
    // A refund made outside the service is recorded once.
    let (u, _) = l.insert_transaction(&new_txn("c1", 300, "k2")).unwrap();
    succeed(l, u.id, 300);
    let ext = l
        .observe_refund(u.id, "re_ext", 100, RefundStatus::Succeeded)
        .unwrap()
        .unwrap();
    assert!(ext.idempotency_key.is_none());
    l.observe_refund(u.id, "re_ext", 100, RefundStatus::Succeeded)
        .unwrap();
    assert_eq!(l.refunds(u.id).unwrap().len(), 1);
    assert_eq!(l.transaction(u.id).unwrap().unwrap().amount_refunded, 100);
}

/// Only a succeeded charge that has a payment of its own can be refunded, and only by a
/// positive amount; a refused refund writes nothing.
pub fn only_succeeded_charges_with_a_payment_are_refunded(l: &dyn Ledger) {
    assert!(matches!(
        refund(l, i64::MAX, Some(100), None, "r0"),
        Err(LedgerError::NotFound {
            kind: "transaction",
            ..
        })
    ));
    let refused = |id: i64, key: &str| {
        matches!(
            refund(l, id, None, None, key),
            Err(LedgerError::Conflict {
                field: "transaction_id",
                ..
            })
        )
    };
    // A credit.
    let mut credit = new_txn("c1", 300, "k1");
    credit.kind = TxnKind::Credit;
    let (c, _) = l.insert_transaction(&credit).unwrap();
    succeed(l, c.id, 300);
    assert!(refused(c.id, "r1"), "a credit");
    // A charge paid through an invoice, not by a payment of its own.
    let (line, _) = l.insert_transaction(&new_txn("c2", 500, "k2")).unwrap();
    let inv = l
        .create_invoice(&new_invoice("c2", "inv-1", now()))
        .unwrap()
        .unwrap();
    l.update_invoice(
        inv.id,
        &[InvoiceStatus::Draft],
        &InvoicePatch {
            status: Some(InvoiceStatus::Paid),
            amount_paid: Some(500),
            ..Default::default()
        },
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        l.transaction(line.id).unwrap().unwrap().status,
        TxnStatus::Succeeded
    );
    assert!(refused(line.id, "r2"), "paid through an invoice");
    // A declined charge.
    let (failed, _) = l.insert_transaction(&new_txn("c1", 500, "k3")).unwrap();
    l.update_transaction(
        failed.id,
        &[TxnStatus::Pending],
        &TxnPatch {
            status: Some(TxnStatus::Failed),
            ..Default::default()
        },
    )
    .unwrap()
    .unwrap();
    assert!(refused(failed.id, "r3"), "a failed charge");
    // Nothing, or less than nothing.
    let (t, _) = l.insert_transaction(&new_txn("c1", 1000, "k4")).unwrap();
    succeed(l, t.id, 1000);
    for amount in [0, -5] {
        assert!(matches!(
            refund(l, t.id, Some(amount), None, "r4"),
            Err(LedgerError::RefundExceeds { requested, remaining: 1000 }) if requested == amount
        ));
    }
    for id in [c.id, line.id, failed.id, t.id] {
        assert!(l.refunds(id).unwrap().is_empty());
        assert!(l.operations_for(Some(id), None).unwrap().is_empty());
    }
    // Once all is refunded, nothing remains.
    let all = refund(l, t.id, None, Some("duplicate"), "r5").unwrap();
    assert_eq!(
        (all.amount, all.currency.as_str(), all.reason.as_deref()),
        (1000, "USD", Some("duplicate"))
    );
    assert!(matches!(
        refund(l, t.id, None, None, "r6"),
        Err(LedgerError::RefundExceeds {
            requested: 0,
            remaining: 0
        })
    ));
    assert_eq!(l.refund(all.id).unwrap(), Some(all));
    assert!(l.refund(i64::MAX).unwrap().is_none());
}

/// A refund that failed frees its amount; one whose outcome is unknown still holds it.
pub fn a_failed_refund_frees_its_amount(l: &dyn Ledger) {
    let (t, _) = l.insert_transaction(&new_txn("c1", 1000, "k1")).unwrap();
    succeed(l, t.id, 1000);
    let r1 = refund(l, t.id, Some(600), None, "r1").unwrap();
    let failed = l
        .settle_refund(
            r1.id,
            &[RefundStatus::Pending],
            RefundStatus::Failed,
            None,
            Some("declined"),
        )
        .unwrap()
        .unwrap();
    assert_eq!(
        (failed.status, failed.last_error.as_deref()),
        (RefundStatus::Failed, Some("declined"))
    );
    let t1 = l.transaction(t.id).unwrap().unwrap();
    assert_eq!((t1.amount_refunded, t1.status), (0, TxnStatus::Succeeded));
    let r2 = refund(l, t.id, None, None, "r2").unwrap();
    assert_eq!(r2.amount, 1000, "the failed refund's amount is free again");
    l.settle_refund(
        r2.id,
        &[RefundStatus::Pending],
        RefundStatus::Unknown,
        None,
        Some("timeout"),
    )
    .unwrap()
    .unwrap();
    assert!(matches!(
        refund(l, t.id, Some(1), None, "r3"),
        Err(LedgerError::RefundExceeds { remaining: 0, .. })
    ));
    let done = l
        .settle_refund(
            r2.id,
            &[RefundStatus::Pending, RefundStatus::Unknown],
            RefundStatus::Succeeded,
            Some("re_2"),
            None,
        )
        .unwrap()
        .unwrap();
    assert_eq!(
        (done.gateway_refund_ref.as_deref(), done.last_error),
        (Some("re_2"), None)
    );
    let t2 = l.transaction(t.id).unwrap().unwrap();
    assert_eq!((t2.amount_refunded, t2.status), (1000, TxnStatus::Refunded));
    assert_eq!(
        l.refunds(t.id)
            .unwrap()
            .iter()
            .map(|r| (r.id, r.status))
            .collect::<Vec<_>>(),
        vec![
            (r1.id, RefundStatus::Failed),
            (r2.id, RefundStatus::Succeeded)
        ]
    );
}

/// A webhook's refund settles ours only when it can tell which: by reference, or as the single
/// unsettled one of its amount. Otherwise it waits for ours to settle, and a settled refund
/// stays settled.
pub fn a_webhook_refund_waits_when_it_cannot_tell_which_is_ours(l: &dyn Ledger) {
    let (t, _) = l.insert_transaction(&new_txn("c1", 1000, "k1")).unwrap();
    succeed(l, t.id, 1000);
    let r1 = refund(l, t.id, Some(300), None, "r1").unwrap();
    let r2 = refund(l, t.id, Some(300), None, "r2").unwrap();
    assert!(
        l.observe_refund(t.id, "re_x", 300, RefundStatus::Succeeded)
            .unwrap()
            .is_none(),
        "two of ours match"
    );
    assert!(
        l.observe_refund(t.id, "re_y", 100, RefundStatus::Succeeded)
            .unwrap()
            .is_none(),
        "none of ours matches, but ours are still settling"
    );
    assert_eq!(l.refunds(t.id).unwrap().len(), 2);
    assert_eq!(l.transaction(t.id).unwrap().unwrap().amount_refunded, 0);
    l.settle_refund(
        r1.id,
        &[RefundStatus::Pending],
        RefundStatus::Succeeded,
        Some("re_1"),
        None,
    )
    .unwrap()
    .unwrap();
    let seen = l
        .observe_refund(t.id, "re_x", 300, RefundStatus::Succeeded)
        .unwrap()
        .unwrap();
    assert_eq!(
        (seen.id, seen.gateway_refund_ref.as_deref(), seen.status),
        (r2.id, Some("re_x"), RefundStatus::Succeeded)
    );
    assert_eq!(l.transaction(t.id).unwrap().unwrap().amount_refunded, 600);
    let late = l
        .observe_refund(t.id, "re_1", 300, RefundStatus::Failed)
        .unwrap()
        .unwrap();
    assert_eq!(
        (late.id, late.status),
        (r1.id, RefundStatus::Succeeded),
        "a settled refund stays settled"
    );
    assert_eq!(l.transaction(t.id).unwrap().unwrap().amount_refunded, 600);
}
