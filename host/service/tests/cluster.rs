//! Several instances on one PostgreSQL ledger: three `omnicrm-pay billing-run` processes share
//! 5,000 due charges against the Stripe emulator; one is killed with SIGKILL in the middle, the
//! two survivors finish its work once its claims expire, and the emulator then holds exactly one
//! payment per transaction, matching the ledger to the cent, with nothing left unsettled.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::crash::{seed_due_charges, stripe_gateway_section};
use crate::common::postgres::ScratchDb;
use crate::common::{cache_dir, emulator_list};
use stripe_emulator::{Emulator, EmulatorOptions};

const INSTANCES: usize = 3;
const CUSTOMERS: usize = 20;
const TRANSACTIONS: usize = 5_000;
/// The billing runs' lease: how soon the survivors take over the killed instance's claims.
const LEASE_SECS: u64 = 3;
const STRIPE_KEY: &str = "sk_test_cluster_test";

fn config_text(emulator: &Emulator, database: &str) -> String {
    format!(
        r#"
[service]
database = "{database}"
database_pool_size = 12
billing_lease_secs = {LEASE_SECS}
cache_dir = "{cache}"
{stripe}"#,
        cache = cache_dir().display(),
        stripe = stripe_gateway_section(emulator, 5000),
    )
}

fn billing_run(config: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_omnicrm-pay"))
        .args(["billing-run", "--config"])
        .arg(config)
        .args(["--no-progress", "--json"])
        .env("OMNICRM_TEST_STRIPE_KEY", STRIPE_KEY)
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("omnicrm-pay billing-run")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_share_a_billing_run_and_survive_one_killed() {
    let Some(db) = ScratchDb::create("cluster") else {
        return;
    };
    let started = Instant::now();
    let emulator = Emulator::start(EmulatorOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("omnicrm-pay.toml");
    std::fs::write(&config_path, config_text(&emulator, &db.url)).unwrap();
    seed_due_charges(
        &config_path,
        &[("api-key", STRIPE_KEY)],
        "pm_card_visa",
        "USD",
        CUSTOMERS,
        TRANSACTIONS,
    )
    .await;
    let pending = "SELECT COUNT(*) FROM transactions WHERE status = 'pending'";
    assert_eq!(db.count(pending), TRANSACTIONS as i64);
    eprintln!("seeded in {:?}", started.elapsed());

    // Three instances start their billing runs together; the first is killed once a fifth of
    // the charges are settled, while it holds claims.
    let mut children: Vec<Child> = (0..INSTANCES).map(|_| billing_run(&config_path)).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let settled = TRANSACTIONS as i64 - db.count(pending);
        let claimants = db.count("SELECT COUNT(DISTINCT claimed_by) FROM transactions");
        if settled >= (TRANSACTIONS / 5) as i64 && claimants == INSTANCES as i64 {
            break;
        }
        for c in &mut children {
            if let Some(status) = c.try_wait().unwrap() {
                panic!("a billing run ended before the kill ({status}); settled {settled}");
            }
        }
        assert!(
            Instant::now() < deadline,
            "the billing runs made no progress"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut killed = children.remove(0);
    killed.kill().unwrap(); // SIGKILL
    assert!(!killed.wait().unwrap().success());
    // What each run holds now: the killed one's claims are taken over once they expire.
    let held: HashMap<i64, String> = db
        .rows(
            "SELECT id, claimed_by FROM transactions
             WHERE status = 'pending' AND claim_expires_ms IS NOT NULL",
            |r| (r.get(0), r.get(1)),
        )
        .into_iter()
        .collect();
    eprintln!(
        "killed one instance after {:?}: {} settled, {} claimed and unsettled",
        started.elapsed(),
        TRANSACTIONS as i64 - db.count(pending),
        held.len()
    );

    let mut due_taken = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "a surviving billing run failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        eprintln!("survivor: {summary}");
        assert!(
            summary["due_transactions"].as_u64().unwrap() > 0,
            "{summary}"
        );
        due_taken += summary["due_transactions"].as_u64().unwrap();
    }
    assert!(due_taken < TRANSACTIONS as u64, "the work was not shared");

    // The killed run's claims were taken over by the survivors.
    let now_claimed: HashMap<i64, String> = db
        .rows("SELECT id, claimed_by FROM transactions", |r| {
            (r.get(0), r.get(1))
        })
        .into_iter()
        .collect();
    let taken_over = held
        .iter()
        .filter(|(id, owner)| now_claimed.get(*id) != Some(*owner))
        .count();
    assert!(taken_over > 0, "no claim of the killed run was taken over");

    // The ledger: every transaction succeeded with its own payment; nothing is unsettled.
    let count = |sql: &str| db.count(sql);
    assert_eq!(
        count("SELECT COUNT(*) FROM transactions WHERE status = 'succeeded'"),
        TRANSACTIONS as i64
    );
    assert_eq!(
        count("SELECT COUNT(DISTINCT gateway_payment_ref) FROM transactions"),
        TRANSACTIONS as i64
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM operations WHERE state <> 'done'"),
        0
    );
    let ledger: BTreeMap<String, (i64, String)> = db
        .rows(
            "SELECT id, amount_captured, gateway_payment_ref FROM transactions",
            |r| (r.get::<_, i64>(0).to_string(), (r.get(1), r.get(2))),
        )
        .into_iter()
        .collect();
    let ledger_total: i64 = ledger.values().map(|(a, _)| a).sum();

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
        let (captured, payment) = &ledger[t];
        assert_eq!(pi["amount_received"].as_i64(), Some(*captured), "txn {t}");
        assert_eq!(pi["id"].as_str(), Some(payment.as_str()), "txn {t}");
        gateway_total += pi["amount"].as_i64().unwrap();
    }
    let charges = emulator_list(emulator.base_url(), "charges").await;
    assert_eq!(charges.len(), TRANSACTIONS, "one charge per transaction");
    assert_eq!(
        gateway_total, ledger_total,
        "the ledger agrees with the gateway to the cent"
    );
    eprintln!("cluster test took {:?}", started.elapsed());
}
