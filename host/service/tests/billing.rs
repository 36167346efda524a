//! `billing-run` in-process: bounded concurrency, pacing, back-off on 429, open invoices,
//! interruption and reruns.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::common::{EnvOptions, start};
use omnicrm_pay::billing_run::{BillingOptions, run};
use serde_json::json;
use stripe_emulator::FailSpec;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn charges_due_transactions_and_open_invoices_paced_and_backing_off() {
    let mut env = start(EnvOptions {
        requests_per_second: Some(60.0),
        ..Default::default()
    })
    .await;
    env.customer_with_card("c-1", "pm_card_visa").await;
    env.customer_with_card("c-2", "pm_card_chargeCustomerFail")
        .await;
    for i in 0..30 {
        let customer = if i % 10 == 9 { "c-2" } else { "c-1" };
        let r = env
            .charge(json!({ "customer_id": customer, "amount": 1000 + i, "currency": "USD", "charge": "later" }))
            .await;
        assert_eq!(r.status, 201, "{}", r.json);
    }
    // One open invoice (its transaction is not charged on its own).
    let r = env.create_invoice("c-1").await;
    assert_eq!(r.status, 201, "{}", r.json);
    let inv = r.json["id"].as_i64().unwrap();
    // 30 transactions were recorded; the first 27 of c-1 went onto the invoice.
    let r = env
        .post(&format!("/v1/invoices/{inv}/finalize"), json!({}))
        .await;
    assert_eq!(r.json["status"], "open");
    for i in 0..12 {
        let customer = if i % 4 == 3 { "c-2" } else { "c-1" };
        env.charge(json!({ "customer_id": customer, "amount": 2000 + i, "currency": "USD", "charge": "later" }))
            .await;
    }
    // The gateway says "too many requests" a few times.
    env.emulator.faults().fail_next(FailSpec {
        count: 4,
        status: 429,
        path_prefix: Some("/v1/payment_intents".into()),
        ..FailSpec::default()
    });
    let stop = Arc::new(AtomicBool::new(false));
    let opts = BillingOptions {
        concurrency: 4,
        progress: false,
        ..Default::default()
    };
    let summary = run(env.service.clone(), opts.clone(), stop.clone())
        .await
        .unwrap();
    eprintln!("{}", summary.render());
    assert_eq!(summary.due_transactions, 12 + 3, "{summary:?}");
    assert_eq!(summary.due_invoices, 1);
    assert_eq!(
        (summary.succeeded, summary.failed, summary.unsettled),
        (9, 6, 0),
        "{summary:?}"
    );
    assert_eq!(summary.invoices_paid, 1);
    // Paced to 60 calls/s: about 16 gateway calls plus the retries take a quarter of a second
    // at least.
    assert!(summary.seconds >= 0.2, "{summary:?}");

    // Exactly one payment per charged transaction at the gateway.
    let pis = env.payment_intents().await;
    let mut per_txn: HashMap<String, usize> = HashMap::new();
    for pi in &pis {
        if let Some(t) = pi["metadata"]["crm_transaction_id"].as_str() {
            *per_txn.entry(t.to_string()).or_default() += 1;
        }
    }
    assert_eq!(per_txn.len(), 15);
    assert!(per_txn.values().all(|n| *n == 1), "{per_txn:?}");

    // Running again finds nothing due; the declined ones stay failed (a decline is final).
    let again = run(env.service.clone(), opts.clone(), stop.clone())
        .await
        .unwrap();
    assert_eq!(
        (again.due_transactions, again.due_invoices, again.succeeded),
        (0, 0, 0),
        "{again:?}"
    );
    let r = env.get("/v1/transactions?status=failed").await;
    assert_eq!(r.json["transactions"].as_array().unwrap().len(), 6);

    // Interrupted before it starts: nothing is charged, and it says so.
    env.charge(
        json!({ "customer_id": "c-1", "amount": 777, "currency": "USD", "charge": "later" }),
    )
    .await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let interrupted = run(env.service.clone(), opts.clone(), stop).await.unwrap();
    assert!(interrupted.interrupted);
    assert_eq!(interrupted.succeeded, 0);
    let r = env
        .get("/v1/transactions?status=pending&invoiced=false")
        .await;
    assert_eq!(r.json["transactions"].as_array().unwrap().len(), 1);
    env.stop().await;
}
