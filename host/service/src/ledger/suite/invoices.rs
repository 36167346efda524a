//! Invoices: made from uninvoiced pending transactions, numbered per year, updated by
//! compare-and-set.

use super::{new_invoice, new_txn, succeed};
use crate::ledger::{
    InvoiceFilter, InvoicePatch, InvoiceStatus, Ledger, Ts, TxnKind, TxnStatus, now,
};

pub fn invoices_take_uninvoiced_pending_transactions(l: &dyn Ledger) {
    let (a, _) = l.insert_transaction(&new_txn("c1", 1000, "k1")).unwrap();
    let mut credit = new_txn("c1", 250, "k2");
    credit.kind = TxnKind::Credit;
    let (b, _) = l.insert_transaction(&credit).unwrap();
    let mut eur = new_txn("c1", 999, "k3");
    eur.currency = "EUR".into();
    l.insert_transaction(&eur).unwrap();
    let (paid, _) = l.insert_transaction(&new_txn("c1", 5, "k4")).unwrap();
    succeed(l, paid.id, 5);
    let ts = 1_767_225_600; // 2026-01-01
    let new = new_invoice("c1", "inv1", ts);
    let inv = l.create_invoice(&new).unwrap().unwrap();
    assert_eq!(inv.number, "INV-2026-000001");
    assert_eq!(
        (inv.subtotal, inv.total, inv.status),
        (750, 750, InvoiceStatus::Draft)
    );
    let lines = l.invoice_lines(inv.id).unwrap();
    assert_eq!(
        lines.iter().map(|t| t.id).collect::<Vec<_>>(),
        vec![a.id, b.id]
    );
    // Same key: same invoice.
    assert_eq!(l.create_invoice(&new).unwrap().unwrap().id, inv.id);
    // Nothing left to invoice in USD.
    let mut again = new.clone();
    again.idempotency_key = "inv2".into();
    assert!(l.create_invoice(&again).unwrap().is_none());
    // Void releases the lines; a new invoice takes them and gets the next number.
    l.update_invoice(
        inv.id,
        &[InvoiceStatus::Draft],
        &InvoicePatch {
            status: Some(InvoiceStatus::Void),
            ..Default::default()
        },
    )
    .unwrap()
    .unwrap();
    let inv2 = l.create_invoice(&again).unwrap().unwrap();
    assert_eq!(inv2.number, "INV-2026-000002");
    // Paying marks the lines succeeded; paying twice is refused by compare-and-set.
    let patch = InvoicePatch {
        status: Some(InvoiceStatus::Paid),
        amount_paid: Some(750),
        ..Default::default()
    };
    assert!(
        l.update_invoice(
            inv2.id,
            &[InvoiceStatus::Draft, InvoiceStatus::Open],
            &patch
        )
        .unwrap()
        .is_some()
    );
    assert!(
        l.update_invoice(
            inv2.id,
            &[InvoiceStatus::Draft, InvoiceStatus::Open],
            &patch
        )
        .unwrap()
        .is_none()
    );
    let lines = l.invoice_lines(inv2.id).unwrap();
    assert!(lines.iter().all(|t| t.status == TxnStatus::Succeeded));
    assert_eq!(lines[0].amount_captured, 1000);
    assert_eq!(lines[1].amount_captured, 0, "a credit captures nothing");
    let open = l
        .invoices(&InvoiceFilter {
            statuses: vec![InvoiceStatus::Paid],
            ..Default::default()
        })
        .unwrap();
    assert_eq!(open.len(), 1);
}

/// Invoice numbers count per year, across customers: INV-YYYY-NNNNNN.
pub fn invoice_numbers_count_per_year(l: &dyn Ledger) {
    let last_second_of_2026 = 1_798_761_599;
    let first_second_of_2027 = 1_798_761_600;
    let invoice = |customer: &str, key: &str, at: Ts| {
        l.insert_transaction(&new_txn(customer, 100, &format!("txn-{key}")))
            .unwrap();
        l.create_invoice(&new_invoice(customer, key, at))
            .unwrap()
            .unwrap()
            .number
    };
    assert_eq!(invoice("c1", "i1", last_second_of_2026), "INV-2026-000001");
    assert_eq!(invoice("c1", "i2", first_second_of_2027), "INV-2027-000001");
    assert_eq!(invoice("c2", "i3", last_second_of_2026), "INV-2026-000002");
    assert_eq!(invoice("c2", "i4", first_second_of_2027), "INV-2027-000002");
    // An invoice whose period holds nothing takes nothing, and uses no number.
    let (t, _) = l.insert_transaction(&new_txn("c1", 100, "k1")).unwrap();
    let mut future = new_invoice("c1", "i5", first_second_of_2027);
    future.period_start = Some(now() + 3600);
    assert!(l.create_invoice(&future).unwrap().is_none());
    assert_eq!(l.transaction(t.id).unwrap().unwrap().invoice_id, None);
    let mut period = new_invoice("c1", "i6", first_second_of_2027);
    (period.period_start, period.period_end) = (Some(now() - 3600), Some(now() + 3600));
    period.due_date = Some(first_second_of_2027 + 86_400);
    period.description = Some("January".into());
    let inv = l.create_invoice(&period).unwrap().unwrap();
    assert_eq!(
        (
            inv.number.as_str(),
            inv.period_start,
            inv.period_end,
            inv.due_date,
            inv.description.as_deref(),
            inv.created_at,
        ),
        (
            "INV-2027-000003",
            period.period_start.unwrap(),
            period.period_end.unwrap(),
            period.due_date,
            Some("January"),
            first_second_of_2027,
        )
    );
}

/// Invoice updates are compare-and-set: a patch applies only from the states named, sets what
/// it names, and counts payment attempts; voiding releases the pending lines.
pub fn invoice_updates_are_compare_and_set(l: &dyn Ledger) {
    let (t, _) = l.insert_transaction(&new_txn("c1", 1000, "k1")).unwrap();
    let inv = l
        .create_invoice(&new_invoice("c1", "inv-1", now()))
        .unwrap()
        .unwrap();
    assert_eq!(
        (inv.status, inv.pay_attempts, inv.amount_paid, inv.tax),
        (InvoiceStatus::Draft, 0, 0, 0)
    );
    let open = l
        .update_invoice(
            inv.id,
            &[InvoiceStatus::Draft],
            &InvoicePatch {
                status: Some(InvoiceStatus::Open),
                gateway_invoice_ref: Some("in_1".into()),
                gateway_number: Some("ABC-0001".into()),
                hosted_url: Some("https://pay.example/in_1".into()),
                pdf_url: Some("https://pay.example/in_1.pdf".into()),
                tax: Some(100),
                total: Some(1100),
                due_date: Some(2_000_000_000),
                ..Default::default()
            },
        )
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            open.status,
            open.gateway_invoice_ref.as_deref(),
            open.gateway_number.as_deref(),
            open.hosted_url.as_deref(),
            open.pdf_url.as_deref(),
            open.subtotal,
            open.tax,
            open.total,
            open.due_date,
        ),
        (
            InvoiceStatus::Open,
            Some("in_1"),
            Some("ABC-0001"),
            Some("https://pay.example/in_1"),
            Some("https://pay.example/in_1.pdf"),
            1000,
            100,
            1100,
            Some(2_000_000_000),
        )
    );
    assert_eq!(l.invoice_by_ref("stripe", "in_1").unwrap(), Some(open));
    assert!(l.invoice_by_ref("offline", "in_1").unwrap().is_none());
    let attempt = |last_error: Option<Option<String>>| {
        l.update_invoice(
            inv.id,
            &[InvoiceStatus::Open],
            &InvoicePatch {
                bump_pay_attempts: true,
                last_error,
                ..Default::default()
            },
        )
        .unwrap()
        .unwrap()
    };
    let failed = attempt(Some(Some("card_declined".into())));
    assert_eq!(
        (failed.pay_attempts, failed.last_error.as_deref()),
        (1, Some("card_declined"))
    );
    let cleared = attempt(Some(None));
    assert_eq!(
        (cleared.pay_attempts, cleared.last_error.as_deref()),
        (2, None)
    );
    // A stale writer expecting a draft loses, and changes nothing.
    assert!(
        l.update_invoice(
            inv.id,
            &[InvoiceStatus::Draft],
            &InvoicePatch {
                status: Some(InvoiceStatus::Void),
                ..Default::default()
            }
        )
        .unwrap()
        .is_none()
    );
    assert_eq!(l.invoice(inv.id).unwrap(), Some(cleared));
    assert!(l.invoice(i64::MAX).unwrap().is_none());
    // Uncollectible can still be voided; voiding releases the pending lines.
    l.update_invoice(
        inv.id,
        &[InvoiceStatus::Open],
        &InvoicePatch {
            status: Some(InvoiceStatus::Uncollectible),
            ..Default::default()
        },
    )
    .unwrap()
    .unwrap();
    let void = l
        .update_invoice(
            inv.id,
            &[InvoiceStatus::Open, InvoiceStatus::Uncollectible],
            &InvoicePatch {
                status: Some(InvoiceStatus::Void),
                ..Default::default()
            },
        )
        .unwrap()
        .unwrap();
    assert_eq!(void.status, InvoiceStatus::Void);
    assert!(l.invoice_lines(inv.id).unwrap().is_empty());
    let t1 = l.transaction(t.id).unwrap().unwrap();
    assert_eq!((t1.invoice_id, t1.status), (None, TxnStatus::Pending));
    // Listings: newest first, by customer and status, in pages.
    let again = l
        .create_invoice(&new_invoice("c1", "inv-2", now()))
        .unwrap()
        .unwrap();
    l.insert_transaction(&new_txn("c2", 10, "k2")).unwrap();
    let other = l
        .create_invoice(&new_invoice("c2", "inv-3", now()))
        .unwrap()
        .unwrap();
    let ids = |f: InvoiceFilter| {
        l.invoices(&f)
            .unwrap()
            .iter()
            .map(|i| i.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(InvoiceFilter::default()),
        vec![other.id, again.id, inv.id]
    );
    assert_eq!(
        ids(InvoiceFilter {
            customer: Some("c1".into()),
            ..Default::default()
        }),
        vec![again.id, inv.id]
    );
    assert_eq!(
        ids(InvoiceFilter {
            statuses: vec![InvoiceStatus::Draft],
            limit: 1,
            ..Default::default()
        }),
        vec![other.id]
    );
    assert_eq!(
        ids(InvoiceFilter {
            statuses: vec![InvoiceStatus::Void, InvoiceStatus::Paid],
            ..Default::default()
        }),
        vec![inv.id]
    );
}
