//! Crash safety: a billing run of 1,200 charges is killed with SIGKILL in the middle, run again,
//! and afterwards the emulator holds exactly one payment per transaction and the ledger agrees
//! with it to the cent.

mod common;

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{cache_dir, component, emulator_list};
use omnicrm_host::config::SecretSource;
use omnicrm_pay::config::ServiceConfig;
use omnicrm_pay::ledger::{Capture, Initiator, TxnKind};
use omnicrm_pay::payments::TxnRequest;
use omnicrm_pay::server;
use stripe_emulator::{Emulator, EmulatorOptions};

const CUSTOMERS: usize = 12;
const TRANSACTIONS: usize = 1_200;

fn config_text(emulator: &Emulator) -> String {
    format!(
        r#"
[service]
database = "ledger.db"
durability = "normal"
cache_dir = "{cache}"

[gateways.stripe]
component = "{component}"
allowed_hosts = ["{base}"]
auth = {{ scheme = "bearer", secret = "api-key" }}
max_concurrency = 8
requests_per_second = 2000
[gateways.stripe.secrets]
api-key = {{ env = "OMNICRM_TEST_STRIPE_KEY" }}
[gateways.stripe.settings]
base-url = "{base}"
"#,
        cache = cache_dir().display(),
        component = component("omnicrm_stripe_gateway").display(),
        base = emulator.base_url(),
    )
}

fn count(db: &std::path::Path, sql: &str) -> i64 {
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap();
    c.busy_timeout(Duration::from_secs(5)).unwrap();
    c.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn billing_run(config: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_omnicrm-pay"));
    cmd.args(["billing-run", "--config"])
        .arg(config)
        .args(["--no-progress", "--json"])
        .env("OMNICRM_TEST_STRIPE_KEY", "sk_test_crash_test")
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_in_the_middle_of_a_billing_run_charges_each_transaction_exactly_once() {
    let started = Instant::now();
    let emulator = Emulator::start(EmulatorOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("omnicrm-pay.toml");
    std::fs::write(&config_path, config_text(&emulator)).unwrap();
    let db = dir.path().join("ledger.db");

    // Seed the ledger through the service's own code: customers with a card each, and 1,200
    // transactions to be charged later (by the billing run).
    {
        let mut config = ServiceConfig::load(&config_path).unwrap();
        for g in config.gateways.values_mut() {
            g.config
                .secrets
                .insert("api-key".into(), SecretSource::value("sk_test_crash_test"));
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
                .store_card(&id, None, "pm_card_visa", None, true, None)
                .await
                .unwrap();
        }
        for i in 0..TRANSACTIONS {
            service
                .create_transaction(TxnRequest {
                    customer_id: format!("crm-{}", i % CUSTOMERS),
                    amount: 100 + (i as i64 * 37) % 9_900,
                    currency: "USD".into(),
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
    let mut child = billing_run(&config_path).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
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
    let at_gateway = emulator_list(emulator.base_url(), "payment_intents")
        .await
        .len();
    eprintln!(
        "killed: {settled} settled in the ledger, {in_flight} operations in flight, {at_gateway} payments at the gateway"
    );
    assert!(settled < TRANSACTIONS as i64, "killed before the end");

    // Second run: settles the leftovers with their stored keys, then charges the rest.
    emulator.faults().set_latency(Duration::ZERO);
    let out = billing_run(&config_path).output().unwrap();
    assert!(
        out.status.success(),
        "second run failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
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

    // The emulator: exactly one payment per transaction, matching to the cent.
    let pis = emulator_list(emulator.base_url(), "payment_intents").await;
    let mut per_txn: HashMap<String, Vec<&serde_json::Value>> = HashMap::new();
    for pi in &pis {
        let t = pi["metadata"]["crm_transaction_id"]
            .as_str()
            .expect("metadata")
            .to_string();
        per_txn.entry(t).or_default().push(pi);
    }
    assert_eq!(
        pis.len(),
        TRANSACTIONS,
        "one payment intent per transaction"
    );
    assert_eq!(per_txn.len(), TRANSACTIONS);
    let mut gateway_total = 0;
    for (t, list) in &per_txn {
        assert_eq!(
            list.len(),
            1,
            "transaction {t} was charged {} times",
            list.len()
        );
        let pi = list[0];
        assert_eq!(pi["status"], "succeeded");
        let (captured, pref) = &ledger[t];
        assert_eq!(
            pi["amount_received"].as_i64().or(pi["amount"].as_i64()),
            Some(*captured),
            "txn {t}"
        );
        assert_eq!(pi["id"].as_str(), Some(pref.as_str()), "txn {t}");
        gateway_total += pi["amount"].as_i64().unwrap();
    }
    let charges = emulator_list(emulator.base_url(), "charges").await;
    assert_eq!(charges.len(), TRANSACTIONS, "one charge per transaction");
    assert_eq!(
        gateway_total, ledger_total,
        "the ledger agrees with the gateway to the cent"
    );
    eprintln!("crash test took {:?}", started.elapsed());
}
