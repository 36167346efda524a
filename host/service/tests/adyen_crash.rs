//! Crash safety on Adyen: a billing run of 1,200 charges through the Adyen plugin is killed with
//! SIGKILL in the middle, run again, and afterwards the Adyen emulator made exactly one payment
//! per transaction (one AUTHORISATION per merchant reference) and the ledger agrees with it to
//! the cent. The Stripe counterpart is `crash.rs`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::common::adyen::{API_KEY, MERCHANT_ACCOUNT, RETURN_URL, emulator_options, visa};
use crate::common::crash::{
    kill_midway, one_payment_each, rerun_to_completion, seed_ledger, settled_ledger,
};
use crate::common::{cache_dir, component};
use adyen_emulator::{Emulator, SettleDelay};
use serde_json::Value;

/// The secrets the configuration file names, as the billing runs get them.
const SECRETS: [(&str, &str); 2] = [
    ("OMNICRM_TEST_ADYEN_KEY", API_KEY),
    (
        "OMNICRM_TEST_ADYEN_HMAC_KEY",
        "00112233445566778899AABBCCDDEEFF",
    ),
];

fn config_text(emulator: &Emulator) -> String {
    format!(
        r#"
[service]
database = "ledger.db"
durability = "normal"
cache_dir = "{cache}"

[gateways.adyen]
component = "{component}"
allowed_hosts = ["{base}"]
auth = {{ scheme = "header", name = "X-API-Key", secret = "api-key" }}
max_concurrency = 8
requests_per_second = 2000
[gateways.adyen.secrets]
api-key = {{ env = "OMNICRM_TEST_ADYEN_KEY" }}
hmac-key = {{ env = "OMNICRM_TEST_ADYEN_HMAC_KEY" }}
[gateways.adyen.settings]
base-url = "{base}"
merchant-account = "{MERCHANT_ACCOUNT}"
return-url = "{RETURN_URL}"
default-currency = "EUR"
"#,
        cache = cache_dir().display(),
        component = component("omnicrm_adyen_gateway").display(),
        base = emulator.base_url(),
    )
}

/// The payments the emulator made for CRM transactions: every AUTHORISATION with an amount (the
/// zero-amount card set-ups left out), by merchant reference.
fn payments_by_reference(emulator: &Emulator) -> HashMap<String, Vec<Value>> {
    let mut by_reference: HashMap<String, Vec<Value>> = HashMap::new();
    for item in emulator.webhooks().emitted() {
        if item["eventCode"] == "AUTHORISATION" && item["amount"]["value"] != 0 {
            let reference = item["merchantReference"].as_str().unwrap().to_string();
            by_reference.entry(reference).or_default().push(item);
        }
    }
    by_reference
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_in_the_middle_of_an_adyen_billing_run_charges_each_transaction_exactly_once() {
    let started = Instant::now();
    let emulator = Emulator::start(emulator_options(false, SettleDelay::Manual))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("omnicrm-pay.toml");
    std::fs::write(&config_path, config_text(&emulator)).unwrap();
    let db = dir.path().join("ledger.db");
    let secrets: Vec<(&str, &str)> = ["api-key", "hmac-key"]
        .into_iter()
        .zip(SECRETS.map(|(_, value)| value))
        .collect();
    seed_ledger(&config_path, &db, &secrets, &visa(), "EUR").await;
    // Slow the gateway down a little so the kill lands mid-run on any machine.
    emulator.faults().set_latency(Duration::from_millis(4));

    // First run: SIGKILL once a fifth of the charges are settled.
    let killed = kill_midway(&config_path, &SECRETS, &db, Duration::from_secs(120)).await;
    let at_gateway = payments_by_reference(&emulator).len();
    eprintln!(
        "killed: {} settled in the ledger, {} operations in flight, {at_gateway} payments at Adyen",
        killed.settled, killed.in_flight
    );

    // Second run: settles the leftovers with their stored keys, then charges the rest.
    emulator.faults().set_latency(Duration::ZERO);
    rerun_to_completion(&config_path, &SECRETS);

    // The ledger: every transaction succeeded, each with its own payment.
    let ledger = settled_ledger(&db);

    // Adyen: exactly one payment per transaction (its merchant reference is the transaction's
    // id), authorised, matching to the cent.
    let payments = payments_by_reference(&emulator);
    let mut gateway_total = 0;
    for (t, item, captured, psp) in one_payment_each(&payments, &ledger) {
        assert_eq!(item["success"], "true", "{item}");
        assert_eq!(item["amount"]["value"].as_i64(), Some(captured), "txn {t}");
        assert_eq!(item["amount"]["currency"], "EUR");
        assert_eq!(item["pspReference"].as_str(), Some(psp), "txn {t}");
        gateway_total += item["amount"]["value"].as_i64().unwrap();
    }
    assert_eq!(
        gateway_total, ledger.total,
        "the ledger agrees with the gateway to the cent"
    );
    eprintln!("Adyen crash test took {:?}", started.elapsed());
}
