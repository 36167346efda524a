//! Transactions, charge intents, the intent log and totals.

use super::{charge_op, new_card, new_invoice, new_txn, refund, succeed};
use crate::ledger::{
    Capture, DisputeStatus, DisputeUpdate, Ledger, LedgerError, LedgerFigures, LedgerTotals,
    NewOperation, OpKind, OpState, Operation, RefundStatus, Ts, TxnFilter, TxnKind, TxnPatch,
    TxnStatus, now,
};

pub fn transactions_are_idempotent_and_compare_and_set(l: &dyn Ledger) {
    let (t, created) = l.insert_transaction(&new_txn("c1", 500, "k1")).unwrap();
    assert!(created);
    let (t2, created2) = l.insert_transaction(&new_txn("c1", 500, "k1")).unwrap();
    assert!(!created2);
    assert_eq!(t.id, t2.id);
    let moved = l
        .update_transaction(
            t.id,
            &[TxnStatus::Pending],
            &TxnPatch {
                status: Some(TxnStatus::Unknown),
                last_error: Some(Some("timeout".into())),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(moved.unwrap().status, TxnStatus::Unknown);
    // A stale writer expecting `pending` loses.
    assert!(
        l.update_transaction(
            t.id,
            &[TxnStatus::Pending],
            &TxnPatch {
                status: Some(TxnStatus::Failed),
                ..Default::default()
            }
        )
        .unwrap()
        .is_none()
    );
    l.insert_transaction(&new_txn("c2", 700, "k2")).unwrap();
    let all = l.transactions(&TxnFilter::default()).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].crm_customer_id, "c2", "newest first");
    let f = TxnFilter {
        customer: Some("c1".into()),
        statuses: vec![TxnStatus::Unknown],
        ..Default::default()
    };
    assert_eq!(l.transactions(&f).unwrap().len(), 1);
    let f = TxnFilter {
        invoiced: Some(true),
        ..Default::default()
    };
    assert!(l.transactions(&f).unwrap().is_empty());
}

/// A patch sets what it names, `Some(None)` clears, and the rest is left alone; with no
/// starting states the update applies from any.
pub fn transaction_patches_change_only_what_they_name(l: &dyn Ledger) {
    let (t, _) = l.insert_transaction(&new_txn("c1", 500, "k1")).unwrap();
    let t1 = l
        .update_transaction(
            t.id,
            &[],
            &TxnPatch {
                status: Some(TxnStatus::Processing),
                last_error: Some(Some("slow".into())),
                decline_code: Some(Some("card_declined".into())),
                ..Default::default()
            },
        )
        .unwrap()
        .expect("no starting states: applies");
    assert_eq!(
        (
            t1.status,
            t1.last_error.as_deref(),
            t1.decline_code.as_deref()
        ),
        (TxnStatus::Processing, Some("slow"), Some("card_declined"))
    );
    let t2 = l
        .update_transaction(
            t.id,
            &[TxnStatus::Pending, TxnStatus::Processing],
            &TxnPatch {
                status: Some(TxnStatus::Failed),
                decline_reason: Some(Some("insufficient_funds".into())),
                last_error: Some(None),
                ..Default::default()
            },
        )
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            t2.status,
            t2.last_error.as_deref(),
            t2.decline_code.as_deref(),
            t2.decline_reason.as_deref()
        ),
        (
            TxnStatus::Failed,
            None,
            Some("card_declined"),
            Some("insufficient_funds")
        )
    );
    assert_eq!(
        (t2.amount, t2.currency.as_str(), t2.description.as_deref()),
        (500, "USD", Some("service")),
        "what the patch does not name is untouched"
    );
    // A failed charge is final for compare-and-set writers that expect it in flight.
    assert!(
        l.update_transaction(
            t.id,
            &[TxnStatus::Pending, TxnStatus::Processing],
            &TxnPatch {
                status: Some(TxnStatus::Succeeded),
                ..Default::default()
            }
        )
        .unwrap()
        .is_none()
    );
    assert_eq!(
        l.transaction(t.id).unwrap().unwrap().status,
        TxnStatus::Failed
    );
    assert!(l.cancel_unattempted(t.id).unwrap().is_none());
    assert!(
        l.update_transaction(i64::MAX, &[], &TxnPatch::default())
            .unwrap()
            .is_none(),
        "no such transaction"
    );
    assert!(l.transaction(i64::MAX).unwrap().is_none());
    // `invoice_id: Some(None)` releases a line from its invoice.
    let (u, _) = l.insert_transaction(&new_txn("c1", 700, "k2")).unwrap();
    let inv = l
        .create_invoice(&new_invoice("c1", "inv-1", now()))
        .unwrap()
        .unwrap();
    assert_eq!(
        l.transaction(u.id).unwrap().unwrap().invoice_id,
        Some(inv.id)
    );
    let released = l
        .update_transaction(
            u.id,
            &[TxnStatus::Pending],
            &TxnPatch {
                invoice_id: Some(None),
                ..Default::default()
            },
        )
        .unwrap()
        .unwrap();
    assert_eq!(released.invoice_id, None);
    assert!(l.invoice_lines(inv.id).unwrap().is_empty());
    // An unattempted pending charge on no invoice can be voided.
    let voided = l.cancel_unattempted(u.id).unwrap().unwrap();
    assert_eq!(voided.status, TxnStatus::Canceled);
}

/// Listings filter by customer, kind, invoicing and creation time, newest first, in pages; a
/// payment finds its transaction.
pub fn transaction_listings_filter_and_page_newest_first(l: &dyn Ledger) {
    let (t1, _) = l.insert_transaction(&new_txn("c1", 100, "k1")).unwrap();
    let mut credit = new_txn("c1", 50, "k2");
    credit.kind = TxnKind::Credit;
    let (t2, _) = l.insert_transaction(&credit).unwrap();
    assert_eq!(t2.kind, TxnKind::Credit);
    let (t3, _) = l.insert_transaction(&new_txn("c2", 200, "k3")).unwrap();
    let mut manual = new_txn("c1", 300, "k4");
    manual.capture = Capture::Manual;
    manual.currency = "EUR".into();
    let (t4, _) = l.insert_transaction(&manual).unwrap();
    assert_eq!((t4.capture, t4.currency.as_str()), (Capture::Manual, "EUR"));
    let ids = |f: TxnFilter| {
        l.transactions(&f)
            .unwrap()
            .iter()
            .map(|t| t.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(TxnFilter::default()), vec![t4.id, t3.id, t2.id, t1.id]);
    assert_eq!(
        ids(TxnFilter {
            kind: Some(TxnKind::Credit),
            ..Default::default()
        }),
        vec![t2.id]
    );
    assert_eq!(
        ids(TxnFilter {
            customer: Some("c1".into()),
            kind: Some(TxnKind::Charge),
            ..Default::default()
        }),
        vec![t4.id, t1.id]
    );
    assert_eq!(
        ids(TxnFilter {
            limit: 2,
            ..Default::default()
        }),
        vec![t4.id, t3.id]
    );
    assert_eq!(
        ids(TxnFilter {
            before_id: Some(t3.id),
            limit: 2,
            ..Default::default()
        }),
        vec![t2.id, t1.id],
        "the next page"
    );
    assert_eq!(
        ids(TxnFilter {
            invoiced: Some(false),
            ..Default::default()
        })
        .len(),
        4
    );
    // A charge whose outcome stayed unknown, flagged for an operator by the reconciler.
    let (op, _) = l.insert_operation(&charge_op(t3.id, "op-k3")).unwrap();
    l.record_reconcile_attempt(op.id, now() + 60, Some("unknown after every repeat"))
        .unwrap();
    assert_eq!(
        ids(TxnFilter {
            attention: Some(true),
            ..Default::default()
        }),
        vec![t3.id]
    );
    // A charge held for review, its answer untrusted: flagged as well.
    l.update_transaction(
        t2.id,
        &[],
        &TxnPatch {
            status: Some(TxnStatus::HeldForReview),
            attention: Some(Some("the answer broke the contract".into())),
            ..Default::default()
        },
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        ids(TxnFilter {
            attention: Some(true),
            ..Default::default()
        }),
        vec![t3.id, t2.id]
    );
    assert_eq!(
        ids(TxnFilter {
            attention: Some(false),
            ..Default::default()
        }),
        vec![t4.id, t1.id]
    );
    assert_eq!(
        l.transaction(t2.id).unwrap().unwrap().attention.as_deref(),
        Some("the answer broke the contract")
    );
    let at = now();
    assert_eq!(
        ids(TxnFilter {
            from: Some(at - 60),
            to: Some(at + 60),
            ..Default::default()
        })
        .len(),
        4
    );
    assert!(
        ids(TxnFilter {
            from: Some(at + 60),
            ..Default::default()
        })
        .is_empty()
    );
    assert!(
        ids(TxnFilter {
            to: Some(at - 60),
            ..Default::default()
        })
        .is_empty()
    );
    let paid = succeed(l, t1.id, 100);
    assert_eq!(
        ids(TxnFilter {
            gateway: Some("stripe".into()),
            ..Default::default()
        }),
        vec![t1.id],
        "only the one charged through stripe"
    );
    assert!(
        ids(TxnFilter {
            gateway: Some("offline".into()),
            ..Default::default()
        })
        .is_empty()
    );
    let payment = paid.gateway_payment_ref.clone().unwrap();
    assert_eq!(
        l.transaction_by_payment("stripe", &payment).unwrap(),
        Some(paid)
    );
    assert!(
        l.transaction_by_payment("offline", &payment)
            .unwrap()
            .is_none()
    );
    assert!(
        l.transaction_by_payment("stripe", "pi_unknown")
            .unwrap()
            .is_none()
    );
}

pub fn a_charge_intent_is_written_whole_and_only_for_a_free_pending_charge(l: &dyn Ledger) {
    let card = l.insert_card(&new_card("c1", "pm_1", true)).unwrap();
    let (t, _) = l.insert_transaction(&new_txn("c1", 1000, "k1")).unwrap();
    let op = l.begin_charge(&charge_op(t.id, "k1"), card.id).unwrap();
    let op = op.expect("a pending charge can be started");
    assert_eq!(
        (op.state, op.transaction_id),
        (OpState::Pending, Some(t.id))
    );
    let t1 = l.transaction(t.id).unwrap().unwrap();
    assert_eq!(t1.card_id, Some(card.id));
    assert!(t1.attempted_at.is_some());
    // Started once: a second start (another task) writes nothing.
    assert!(
        l.begin_charge(&charge_op(t.id, "k1-again"), card.id)
            .unwrap()
            .is_none()
    );
    // Neither an invoice nor a void takes a transaction whose charge has started ...
    let inv = new_invoice("c1", "inv-1", now());
    assert!(l.create_invoice(&inv).unwrap().is_none());
    assert!(l.cancel_unattempted(t.id).unwrap().is_none());
    assert_eq!(
        l.transaction(t.id).unwrap().unwrap().status,
        TxnStatus::Pending
    );
    // ... and a charge never starts on an invoiced or voided transaction.
    let (u, _) = l.insert_transaction(&new_txn("c1", 500, "k2")).unwrap();
    let invoice = l.create_invoice(&inv).unwrap().expect("invoiced");
    assert_eq!(
        l.transaction(u.id).unwrap().unwrap().invoice_id,
        Some(invoice.id)
    );
    assert!(
        l.begin_charge(&charge_op(u.id, "k2"), card.id)
            .unwrap()
            .is_none()
    );
    assert!(l.cancel_unattempted(u.id).unwrap().is_none());
    let (v, _) = l.insert_transaction(&new_txn("c1", 700, "k3")).unwrap();
    let voided = l.cancel_unattempted(v.id).unwrap().expect("voided");
    assert_eq!(voided.status, TxnStatus::Canceled);
    assert!(
        l.begin_charge(&charge_op(v.id, "k3"), card.id)
            .unwrap()
            .is_none()
    );
    // Nothing was written for the refused starts.
    assert_eq!(l.unsettled_operations(now() + 1, 10).unwrap().len(), 1);
}

pub fn a_charge_and_its_intent_are_written_together_then_settled_together(l: &dyn Ledger) {
    let card = l.insert_card(&new_card("c1", "pm_1", true)).unwrap();
    let mut t = new_txn("c1", 1000, "k1");
    t.card_id = Some(card.id);
    t.gateway = Some("stripe".into());
    let (txn, op) = l.create_charge(&t, &|t| Ok(charge_op(t.id, "k1"))).unwrap();
    let op = op.expect("a new charge gets its intent");
    assert_eq!(
        (op.transaction_id, op.state),
        (Some(txn.id), OpState::Pending)
    );
    assert!(txn.attempted_at.is_some() && txn.card_id == Some(card.id));
    // Started: neither an invoice nor a void takes it.
    assert!(l.cancel_unattempted(txn.id).unwrap().is_none());
    // A repeat of the key writes nothing.
    let (again, none) = l.create_charge(&t, &|t| Ok(charge_op(t.id, "k1"))).unwrap();
    assert_eq!((again.id, none), (txn.id, None));
    assert_eq!(l.operations_for(Some(txn.id), None).unwrap().len(), 1);
    // A builder that fails leaves nothing behind.
    let mut u = t.clone();
    u.idempotency_key = "k2".into();
    assert!(
        l.create_charge(&u, &|_| Err(LedgerError::Database("no".into())))
            .is_err()
    );
    let f = TxnFilter::default();
    assert_eq!(l.transactions(&f).unwrap().len(), 1);
    // Outcome: unknown, then a retry-class failure keeps the operation unknown.
    let patch = TxnPatch {
        status: Some(TxnStatus::Unknown),
        ..Default::default()
    };
    let (state, row) = l
        .settle_charge(
            op.id,
            txn.id,
            &[TxnStatus::Pending],
            Some(&patch),
            OpState::Unknown,
            Some("timeout"),
        )
        .unwrap();
    assert_eq!(
        (state, row.unwrap().status),
        (OpState::Unknown, TxnStatus::Unknown)
    );
    let (state, _) = l
        .settle_charge(
            op.id,
            txn.id,
            &[],
            None,
            OpState::Pending,
            Some("rate limited"),
        )
        .unwrap();
    assert_eq!(state, OpState::Unknown);
    let patch = TxnPatch {
        status: Some(TxnStatus::Succeeded),
        amount_captured: Some(1000),
        ..Default::default()
    };
    let (state, row) = l
        .settle_charge(
            op.id,
            txn.id,
            &[TxnStatus::Unknown],
            Some(&patch),
            OpState::Done,
            None,
        )
        .unwrap();
    assert_eq!(
        (state, row.unwrap().status),
        (OpState::Done, TxnStatus::Succeeded)
    );
    let op = l.operation(op.id).unwrap().unwrap();
    assert_eq!((op.state, op.attempts), (OpState::Done, 3));
    // A stale outcome does not move it back; the row as it stands is returned.
    let (_, row) = l
        .settle_charge(
            op.id,
            txn.id,
            &[TxnStatus::Pending],
            Some(&patch),
            OpState::Done,
            None,
        )
        .unwrap();
    assert_eq!(row.unwrap().status, TxnStatus::Succeeded);
}

/// The intent log: operations of a transaction or an invoice, the unsettled ones oldest first,
/// and their states and attempts.
pub fn the_intent_log_lists_by_owner_and_settles(l: &dyn Ledger) {
    let (t, _) = l.insert_transaction(&new_txn("c1", 1000, "k1")).unwrap();
    let (line, _) = l.insert_transaction(&new_txn("c2", 400, "k2")).unwrap();
    let inv = l
        .create_invoice(&new_invoice("c2", "inv-1", now()))
        .unwrap()
        .unwrap();
    assert_eq!(l.invoice_lines(inv.id).unwrap()[0].id, line.id);
    let (charge, _) = l.insert_operation(&charge_op(t.id, "op-charge")).unwrap();
    let invoice_op = NewOperation {
        kind: OpKind::InvoiceFinalize,
        gateway: "stripe".into(),
        transaction_id: None,
        refund_id: None,
        invoice_id: Some(inv.id),
        idempotency_key: "op-invoice".into(),
        params: serde_json::json!({ "auto_advance": true, "lines": [1, 2] }),
    };
    let (finalize, created) = l.insert_operation(&invoice_op).unwrap();
    assert!(created);
    assert_eq!(
        (finalize.kind, finalize.invoice_id, &finalize.params),
        (OpKind::InvoiceFinalize, Some(inv.id), &invoice_op.params),
        "the inputs are kept as given"
    );
    let ids = |ops: Vec<Operation>| ops.iter().map(|o| o.id).collect::<Vec<_>>();
    assert_eq!(
        ids(l.operations_for(Some(t.id), None).unwrap()),
        vec![charge.id]
    );
    assert_eq!(
        ids(l.operations_for(None, Some(inv.id)).unwrap()),
        vec![finalize.id]
    );
    assert_eq!(
        ids(l.operations_for(Some(t.id), Some(inv.id)).unwrap()),
        vec![charge.id, finalize.id]
    );
    assert!(l.operations_for(None, None).unwrap().is_empty());
    assert!(l.operations_for(Some(line.id), None).unwrap().is_empty());
    // Unsettled: oldest first, at most `limit`, last changed at or before the time given.
    let later = now() + 1;
    assert_eq!(
        ids(l.unsettled_operations(later, 10).unwrap()),
        vec![charge.id, finalize.id]
    );
    assert_eq!(
        ids(l.unsettled_operations(later, 1).unwrap()),
        vec![charge.id]
    );
    assert!(l.unsettled_operations(now() - 60, 10).unwrap().is_empty());
    // Unknown stays unsettled; an attempt counts only when made.
    l.set_operation_state(charge.id, OpState::Unknown, Some("timeout"), false)
        .unwrap();
    let op = l.operation(charge.id).unwrap().unwrap();
    assert_eq!(
        (op.state, op.attempts, op.last_error.as_deref()),
        (OpState::Unknown, 0, Some("timeout"))
    );
    assert_eq!(l.unsettled_operations(later, 10).unwrap().len(), 2);
    l.set_operation_state(charge.id, OpState::Failed, None, true)
        .unwrap();
    let op = l.operation(charge.id).unwrap().unwrap();
    assert_eq!(
        (op.state, op.attempts, op.last_error),
        (OpState::Failed, 1, None)
    );
    assert_eq!(
        ids(l.unsettled_operations(later, 10).unwrap()),
        vec![finalize.id],
        "a failed operation is settled"
    );
    assert!(l.operation(i64::MAX).unwrap().is_none());
    // A charge intent names its transaction.
    let mut nameless = charge_op(t.id, "op-nameless");
    nameless.transaction_id = None;
    let card = l.insert_card(&new_card("c1", "pm_1", true)).unwrap();
    assert!(l.begin_charge(&nameless, card.id).is_err());
    // A charge made at once names its card; nothing is written when it does not.
    let mut no_card = new_txn("c1", 100, "k3");
    no_card.gateway = Some("stripe".into());
    assert!(matches!(
        l.create_charge(&no_card, &|t| Ok(charge_op(t.id, "k3"))),
        Err(LedgerError::Conflict {
            field: "card_id",
            ..
        })
    ));
    assert_eq!(l.transactions(&TxnFilter::default()).unwrap().len(), 2);
}

/// Totals count the settled charges of one currency created in `[from, to)`: captured and
/// refunded amounts, failed charges, and charges whose outcome is not known yet.
pub fn totals_sum_the_settled_charges_of_one_currency_and_period(l: &dyn Ledger) {
    let card = l.insert_card(&new_card("c1", "pm_1", true)).unwrap();
    let (a, _) = l.insert_transaction(&new_txn("c1", 1000, "k1")).unwrap();
    succeed(l, a.id, 1000);
    let (b, _) = l.insert_transaction(&new_txn("c1", 500, "k2")).unwrap();
    succeed(l, b.id, 500);
    let r = refund(l, b.id, Some(200), None, "r1").unwrap();
    l.settle_refund(
        r.id,
        &[RefundStatus::Pending],
        RefundStatus::Succeeded,
        Some("re_1"),
        None,
    )
    .unwrap()
    .unwrap();
    let to = |id: i64, status: TxnStatus| {
        l.update_transaction(
            id,
            &[TxnStatus::Pending],
            &TxnPatch {
                status: Some(status),
                ..Default::default()
            },
        )
        .unwrap()
        .unwrap();
    };
    let (c, _) = l.insert_transaction(&new_txn("c1", 300, "k3")).unwrap();
    to(c.id, TxnStatus::Failed);
    let (d, _) = l.insert_transaction(&new_txn("c1", 300, "k4")).unwrap();
    to(d.id, TxnStatus::Unknown);
    let (e, _) = l.insert_transaction(&new_txn("c1", 300, "k5")).unwrap();
    l.begin_charge(&charge_op(e.id, "k5"), card.id)
        .unwrap()
        .unwrap();
    // Neither a charge not attempted yet, nor a credit, nor another currency counts.
    l.insert_transaction(&new_txn("c1", 300, "k6")).unwrap();
    let mut credit = new_txn("c1", 700, "k7");
    credit.kind = TxnKind::Credit;
    let (f, _) = l.insert_transaction(&credit).unwrap();
    to(f.id, TxnStatus::Succeeded);
    let mut eur = new_txn("c1", 999, "k8");
    eur.currency = "EUR".into();
    let (g, _) = l.insert_transaction(&eur).unwrap();
    succeed(l, g.id, 999);
    let at = now();
    assert_eq!(
        l.totals("USD", at - 60, at + 60).unwrap(),
        LedgerTotals {
            charges: 2,
            captured: 1500,
            refunded: 200,
            failed: 1,
            unsettled: 2,
        }
    );
    assert_eq!(
        l.totals("EUR", at - 60, at + 60).unwrap(),
        LedgerTotals {
            charges: 1,
            captured: 999,
            ..Default::default()
        }
    );
    assert_eq!(
        l.totals("USD", at + 60, at + 120).unwrap(),
        LedgerTotals::default(),
        "nothing created in that period"
    );
}

/// The figures of consecutive periods are each their own period's [`Ledger::figures`], start
/// where they should, and add up to the figures of the whole span.
pub fn figures_by_period_are_each_periods_figures_and_add_up(l: &dyn Ledger) {
    let begin = now();
    let charge = |key: &str, amount: i64| {
        let (t, _) = l.insert_transaction(&new_txn("c1", amount, key)).unwrap();
        succeed(l, t.id, amount)
    };
    let a = charge("k1", 1000);
    // Records a second apart, so that one-second periods split them.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let b = charge("k2", 500);
    let r = refund(l, b.id, Some(200), None, "r1").unwrap();
    l.settle_refund(
        r.id,
        &[RefundStatus::Pending],
        RefundStatus::Succeeded,
        Some("re_1"),
        None,
    )
    .unwrap()
    .unwrap();
    l.upsert_dispute(&DisputeUpdate {
        evidence_due_by: None,
        gateway: "stripe".into(),
        gateway_dispute_ref: "du_1".into(),
        gateway_payment_ref: Some(format!("pi_{}", a.id)),
        transaction_id: None,
        amount: 1000,
        currency: "USD".into(),
        reason: "fraudulent".into(),
        status: DisputeStatus::Lost,
    })
    .unwrap();
    let end = now() + 1;
    let whole = l.figures("USD", begin, end).unwrap();
    assert_eq!(whole.len(), 1);
    let w = &whole[0];
    assert_eq!(
        (
            w.revenue,
            w.successful_payments,
            w.refunds,
            w.chargeback_amount
        ),
        (1500, 2, 200, 1000)
    );
    for period in [1, 2, end - begin, end - begin + 7] {
        let periods = l.figures_by_period("USD", begin, end, period).unwrap();
        let mut last = None;
        for (start, figures) in &periods {
            assert!(*start >= begin && *start < end && (start - begin) % period == 0);
            assert!(last < Some(*start), "oldest first, once each");
            last = Some(*start);
            let own = l.figures("USD", *start, (start + period).min(end)).unwrap();
            assert_eq!(figures, &own, "the period from {start} of {period} s");
        }
        let sum = |f: fn(&LedgerFigures) -> i64| -> i64 {
            periods.iter().flat_map(|(_, list)| list).map(f).sum()
        };
        assert_eq!(sum(|f| f.revenue), w.revenue);
        assert_eq!(sum(|f| f.refunds), w.refunds);
        assert_eq!(sum(|f| f.chargeback_amount), w.chargeback_amount);
        assert_eq!(sum(|f| f.successful_payments as i64), 2);
        if period == 1 {
            assert!(periods.len() >= 2, "{periods:?}");
        } else if period >= end - begin {
            assert_eq!(
                periods,
                [(begin, whole.clone())] as [(Ts, Vec<LedgerFigures>); 1]
            );
        }
    }
    assert!(
        l.figures_by_period("EUR", begin, end, 1)
            .unwrap()
            .is_empty()
    );
}

/// Settling by hand takes a flagged charge only, once: one the reconciler gave up on (its
/// flagged charge operation settled with it) or one held for review (only the transaction
/// moves, and only out of `held_for_review`); attention is cleared and who and why are kept.
pub fn settling_by_hand_takes_a_flagged_charge_once(l: &dyn Ledger) {
    let found = |status| TxnPatch {
        status: Some(status),
        gateway_payment_ref: Some("pay_1".into()),
        amount_captured: Some(if status == TxnStatus::Succeeded {
            500
        } else {
            0
        }),
        last_error: Some(None),
        ..Default::default()
    };
    let to = |id, status: TxnStatus, attention: Option<&str>| {
        l.update_transaction(
            id,
            &[],
            &TxnPatch {
                status: Some(status),
                attention: Some(attention.map(Into::into)),
                ..Default::default()
            },
        )
        .unwrap()
        .unwrap()
    };

    // Not flagged: nothing is written.
    let (plain, _) = l
        .insert_transaction(&new_txn("c1", 500, "k-plain"))
        .unwrap();
    let succeeded = found(TxnStatus::Succeeded);
    assert!(
        l.settle_by_hand(plain.id, None, &[], &succeeded, "alice", "paid")
            .unwrap()
            .is_none()
    );
    assert_eq!(l.transaction(plain.id).unwrap().unwrap(), plain);

    // Given up on by the reconciler: the transaction and its flagged charge operation.
    let (lost, _) = l.insert_transaction(&new_txn("c1", 500, "k-lost")).unwrap();
    to(lost.id, TxnStatus::Unknown, None);
    let (op, _) = l.insert_operation(&charge_op(lost.id, "op-lost")).unwrap();
    l.record_reconcile_attempt(op.id, now() + 60, Some("unknown after every repeat"))
        .unwrap();
    let from = [TxnStatus::Pending, TxnStatus::Unknown];
    assert!(
        l.settle_by_hand(
            lost.id,
            Some((op.id + 1000, OpState::Done)),
            &from,
            &succeeded,
            "alice",
            "paid"
        )
        .unwrap()
        .is_none(),
        "an operation that is not the transaction's flagged charge"
    );
    let settled = l
        .settle_by_hand(
            lost.id,
            Some((op.id, OpState::Done)),
            &from,
            &succeeded,
            "alice",
            "paid in the dashboard",
        )
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            settled.status,
            settled.amount_captured,
            settled.attention.as_deref(),
            settled.settled_by.as_deref(),
            settled.settled_note.as_deref()
        ),
        (
            TxnStatus::Succeeded,
            500,
            None,
            Some("alice"),
            Some("paid in the dashboard")
        )
    );
    let op = l.operation(op.id).unwrap().unwrap();
    assert_eq!(op.state, OpState::Done);
    assert!(
        op.last_error.unwrap().contains("settled by operator alice"),
        "the operation says who settled it"
    );
    assert!(
        l.settle_by_hand(
            lost.id,
            Some((op.id, OpState::Failed)),
            &from,
            &succeeded,
            "bob",
            "again"
        )
        .unwrap()
        .is_none(),
        "settled once"
    );

    // Held for review: its operation was settled when held; only the transaction moves.
    let (held, _) = l.insert_transaction(&new_txn("c1", 500, "k-held")).unwrap();
    to(
        held.id,
        TxnStatus::HeldForReview,
        Some("the answer broke the contract"),
    );
    let failed = found(TxnStatus::Failed);
    assert!(
        l.settle_by_hand(
            held.id,
            None,
            &[TxnStatus::Unknown],
            &failed,
            "alice",
            "nothing"
        )
        .unwrap()
        .is_none(),
        "compare-and-set: the transaction is not in a status it may move from"
    );
    let unchanged = l.transaction(held.id).unwrap().unwrap();
    assert_eq!(
        (
            unchanged.status,
            unchanged.attention.as_deref(),
            unchanged.settled_by
        ),
        (
            TxnStatus::HeldForReview,
            Some("the answer broke the contract"),
            None
        )
    );
    let settled = l
        .settle_by_hand(
            held.id,
            None,
            &[TxnStatus::HeldForReview],
            &failed,
            "alice",
            "no payment",
        )
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            settled.status,
            settled.attention,
            settled.settled_by.as_deref()
        ),
        (TxnStatus::Failed, None, Some("alice"))
    );
    assert!(
        l.settle_by_hand(
            held.id,
            None,
            &[TxnStatus::HeldForReview],
            &succeeded,
            "bob",
            "paid"
        )
        .unwrap()
        .is_none(),
        "settled once"
    );
}

/// A flagged charge the gateway's own event settled is unflagged with its operation, only when
/// the transaction stands where the event put it and only for a flagged charge.
pub fn a_flagged_charge_the_gateway_settled_is_unflagged(l: &dyn Ledger) {
    let (t, _) = l.insert_transaction(&new_txn("c1", 500, "k-late")).unwrap();
    let (op, _) = l.insert_operation(&charge_op(t.id, "op-late")).unwrap();
    let unflag = |status| {
        l.unflag_charge_settled_by_gateway(t.id, status, OpState::Done)
            .unwrap()
    };
    assert!(!unflag(TxnStatus::Pending), "a charge not flagged");
    l.record_reconcile_attempt(op.id, now(), Some("unknown after every repeat"))
        .unwrap();
    assert!(
        !unflag(TxnStatus::Succeeded),
        "the transaction stands elsewhere"
    );
    assert!(l.transaction(t.id).unwrap().unwrap().attention.is_some());
    succeed(l, t.id, 500);
    assert!(unflag(TxnStatus::Succeeded));
    let (t, op) = (
        l.transaction(t.id).unwrap().unwrap(),
        l.operation(op.id).unwrap().unwrap(),
    );
    assert_eq!((t.attention, op.state), (None, OpState::Done));
    assert!(l.flagged_operations().unwrap().is_empty());
    assert!(!unflag(TxnStatus::Succeeded), "once");
}
