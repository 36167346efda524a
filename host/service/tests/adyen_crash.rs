//! Crash safety on Adyen: a billing run of 1,200 charges through the Adyen plugin is killed with
//! SIGKILL in the middle, run again, and afterwards the Adyen emulator made exactly one payment
//! per transaction (one AUTHORISATION per merchant reference) and the ledger agrees with it to
//! the cent. The Stripe counterpart is `crash.rs`.

#[path = "common/adyen.rs"]
mod adyen;
mod common;
#[path = "common/crash.rs"]
mod crash;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use adyen::{API_KEY, MERCHANT_ACCOUNT, RETURN_URL, emulator_options, visa};
use adyen_emulator::{Emulator, SettleDelay};
use common::{cache_dir, component};
use crash::{billing_run, count};
use omnicrm_host::config::SecretSource;
use omnicrm_pay::config::ServiceConfig;
use omnicrm_pay::ledger::{Capture, Initiator, TxnKind};
use omnicrm_pay::payments::TxnRequest;
use omnicrm_pay::server;
use serde_json::Value;

const CUSTOMERS: usize = 12;
const TRANSACTIONS: usize = 1_200;

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

    // Seed the ledger through the service's own code: customers with a card each, and 1,200
    // transactions to be charged later (by the billing run).
    {
        let mut config = ServiceConfig::load(&config_path).unwrap();
        for g in config.gateways.values_mut() {
            for (name, (_, value)) in ["api-key", "hmac-key"].into_iter().zip(SECRETS) {
                g.config
                    .secrets
                    .insert(name.into(), SecretSource::value(value));
            }
        }
        let mut opts = server::runtime_options(&config).unwrap();
        opts.cache_dir = Some(cache_dir());
        let service = server::build(&config, opts).await.unwrap();
        for c in 0..CUSTOMERS {
            let id = format!("crm-{c}");
            service
                .link_customer(&id, None, None, None, None)
                .await
                .unwrap();
            service
                .store_card(&id, None, &visa(), None, true, None)
                .await
                .unwrap();
        }
        for i in 0..TRANSACTIONS {
            service
                .create_transaction(TxnRequest {
                    customer_id: format!("crm-{}", i % CUSTOMERS),
                    amount: 100 + (i as i64 * 37) % 9_900,
                    currency: "EUR".into(),
                    description: Some(format!("line {i}")),
                    kind: TxnKind::Charge,
                    card_id: None,
                    capture: Capture::Automatic,
                    charge_now: false,
                    initiator: Initiator::MerchantUnscheduled,
                    return_url: None,
                    client_key: None,
                })
                .await
                .unwrap();
        }
    }
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM transactions WHERE status = 'pending'"
        ),
        TRANSACTIONS as i64
    );
    // Slow the gateway down a little so the kill lands mid-run on any machine.
    emulator.faults().set_latency(Duration::from_millis(4));

    // First run: SIGKILL once a fifth of the charges are settled.
    let mut child = billing_run(&config_path, &SECRETS).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let settled = count(
            &db,
            "SELECT COUNT(*) FROM transactions WHERE status != 'pending'",
        );
        if settled >= (TRANSACTIONS / 5) as i64 {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the billing run ended before it could be killed ({status}); settled {settled}");
        }
        assert!(
            Instant::now() < deadline,
            "the billing run made no progress"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success());
    let settled = count(
        &db,
        "SELECT COUNT(*) FROM transactions WHERE status != 'pending'",
    );
    let in_flight = count(
        &db,
        "SELECT COUNT(*) FROM operations WHERE state IN ('pending', 'unknown')",
    );
    let at_gateway = payments_by_reference(&emulator).len();
    eprintln!(
        "killed: {settled} settled in the ledger, {in_flight} operations in flight, {at_gateway} payments at Adyen"
    );
    assert!(settled < TRANSACTIONS as i64, "killed before the end");

    // Second run: settles the leftovers with their stored keys, then charges the rest.
    emulator.faults().set_latency(Duration::ZERO);
    let out = billing_run(&config_path, &SECRETS).output().unwrap();
    assert!(
        out.status.success(),
        "second run failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    eprintln!("second run: {summary}");
    assert_eq!(summary["unsettled"], 0);
    assert_eq!(summary["failed"], 0);

    // The ledger: every transaction succeeded, each with its own payment.
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM transactions WHERE status = 'succeeded'"
        ),
        TRANSACTIONS as i64
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(DISTINCT gateway_payment_ref) FROM transactions"
        ),
        TRANSACTIONS as i64
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM operations WHERE state != 'done'"),
        0
    );
    let ledger_total = count(&db, "SELECT SUM(amount_captured) FROM transactions");
    let c = rusqlite::Connection::open(&db).unwrap();
    let mut st = c
        .prepare("SELECT id, amount_captured, gateway_payment_ref FROM transactions")
        .unwrap();
    let ledger: HashMap<String, (i64, String)> = st
        .query_map([], |r| {
            Ok((r.get::<_, i64>(0)?.to_string(), (r.get(1)?, r.get(2)?)))
        })
        .unwrap()
        .map(|r| r.unwrap())
        .collect();

    // Adyen: exactly one payment per transaction (its merchant reference is the transaction's
    // id), authorised, matching to the cent.
    let payments = payments_by_reference(&emulator);
    assert_eq!(
        payments.len(),
        TRANSACTIONS,
        "one merchant reference per transaction"
    );
    let mut gateway_total = 0;
    for (t, list) in &payments {
        assert_eq!(
            list.len(),
            1,
            "transaction {t} was charged {} times",
            list.len()
        );
        let item = &list[0];
        assert_eq!(item["success"], "true", "{item}");
        let (captured, psp) = ledger
            .get(t)
            .unwrap_or_else(|| panic!("a payment for {t}, which the ledger does not have"));
        assert_eq!(item["amount"]["value"].as_i64(), Some(*captured), "txn {t}");
        assert_eq!(item["amount"]["currency"], "EUR");
        assert_eq!(item["pspReference"].as_str(), Some(psp.as_str()), "txn {t}");
        gateway_total += item["amount"]["value"].as_i64().unwrap();
    }
    assert_eq!(
        gateway_total, ledger_total,
        "the ledger agrees with the gateway to the cent"
    );
    eprintln!("Adyen crash test took {:?}", started.elapsed());
}
