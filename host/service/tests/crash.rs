//! Crash safety: a billing run of 1,200 charges is killed with SIGKILL in the middle, run again,
//! and afterwards the emulator holds exactly one payment per transaction and the ledger agrees
//! with it to the cent. The Adyen counterpart is `adyen_crash.rs`; what both do is in
//! `common/crash.rs`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::common::crash::{
    TRANSACTIONS, kill_midway, one_payment_each, rerun_to_completion, seed_ledger, settled_ledger,
    stripe_gateway_section,
};
use crate::common::{cache_dir, emulator_list};
use serde_json::Value;
use stripe_emulator::{Emulator, EmulatorOptions};

/// The secrets the configuration file names, as the billing runs get them.
const SECRETS: [(&str, &str); 1] = [("OMNICRM_TEST_STRIPE_KEY", "sk_test_crash_test")];

fn config_text(emulator: &Emulator) -> String {
    format!(
        r#"
[service]
database = "ledger.db"
durability = "normal"
cache_dir = "{cache}"
{stripe}"#,
        cache = cache_dir().display(),
        stripe = stripe_gateway_section(emulator, 2000),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_in_the_middle_of_a_billing_run_charges_each_transaction_exactly_once() {
    let started = Instant::now();
    let emulator = Emulator::start(EmulatorOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("omnicrm-pay.toml");
    std::fs::write(&config_path, config_text(&emulator)).unwrap();
    let db = dir.path().join("ledger.db");
    seed_ledger(
        &config_path,
        &db,
        &[("api-key", SECRETS[0].1)],
        "pm_card_visa",
        "USD",
    )
    .await;
    // Slow the gateway down a little so the kill lands mid-run on any machine.
    emulator.faults().set_latency(Duration::from_millis(4));

    // First run: SIGKILL once a fifth of the charges are settled.
    let killed = kill_midway(&config_path, &SECRETS, &db, Duration::from_secs(60)).await;
    let at_gateway = emulator_list(emulator.base_url(), "payment_intents")
        .await
        .len();
    eprintln!(
        "killed: {} settled in the ledger, {} operations in flight, {at_gateway} payments at the gateway",
        killed.settled, killed.in_flight
    );

    // Second run: settles the leftovers with their stored keys, then charges the rest.
    emulator.faults().set_latency(Duration::ZERO);
    rerun_to_completion(&config_path, &SECRETS);

    // The ledger: every transaction succeeded, each with its own payment.
    let ledger = settled_ledger(&db);

    // The emulator: exactly one payment per transaction, matching to the cent.
    let pis = emulator_list(emulator.base_url(), "payment_intents").await;
    assert_eq!(
        pis.len(),
        TRANSACTIONS,
        "one payment intent per transaction"
    );
    let mut per_txn: HashMap<String, Vec<Value>> = HashMap::new();
    for pi in pis {
        let t = pi["metadata"]["crm_transaction_id"]
            .as_str()
            .expect("metadata")
            .to_string();
        per_txn.entry(t).or_default().push(pi);
    }
    let mut gateway_total = 0;
    for (t, pi, captured, reference) in one_payment_each(&per_txn, &ledger) {
        assert_eq!(pi["status"], "succeeded");
        assert_eq!(
            pi["amount_received"].as_i64().or(pi["amount"].as_i64()),
            Some(captured),
            "txn {t}"
        );
        assert_eq!(pi["id"].as_str(), Some(reference), "txn {t}");
        gateway_total += pi["amount"].as_i64().unwrap();
    }
    let charges = emulator_list(emulator.base_url(), "charges").await;
    assert_eq!(charges.len(), TRANSACTIONS, "one charge per transaction");
    assert_eq!(
        gateway_total, ledger.total,
        "the ledger agrees with the gateway to the cent"
    );
    eprintln!("crash test took {:?}", started.elapsed());
}
