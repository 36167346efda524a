//! What the crash and cluster tests share, whatever the gateway: the ledger seeded with due
//! charges through the service's own code, `omnicrm-pay billing-run` killed with SIGKILL part-way
//! and run again, and the ledger read from outside the service (as the test process sees it while
//! a billing run writes it); and the Stripe gateway's section of their configuration files. What
//! the gateway holds afterwards is checked by each test in the gateway's own terms.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use omnicrm_host::config::SecretSource;
use omnicrm_pay::config::ServiceConfig;
use omnicrm_pay::ledger::{Capture, Initiator, TxnKind};
use omnicrm_pay::payments::TxnRequest;
use omnicrm_pay::server;
use serde_json::Value;

use futures_util::StreamExt;

use super::{cache_dir, component};

/// Customers of a crash test's ledger, each with one card.
pub const CUSTOMERS: usize = 12;
/// Transactions the billing runs charge, spread over the customers.
pub const TRANSACTIONS: usize = 1_200;

/// One integer the SQL query answers, read from the ledger at `db` without writing to it.
pub fn count(db: &Path, sql: &str) -> i64 {
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap();
    c.busy_timeout(Duration::from_secs(5)).unwrap();
    c.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// `omnicrm-pay billing-run` of the configuration file `config`, printing its summary as JSON on
/// stdout, with the environment variables `env` (the secrets the file names).
pub fn billing_run(config: &Path, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_omnicrm-pay"));
    cmd.args(["billing-run", "--config"])
        .arg(config)
        .args(["--no-progress", "--json"])
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// The `[gateways.stripe]` section of a billing run's configuration file: the Stripe plugin
/// against `emulator`, its key from `OMNICRM_TEST_STRIPE_KEY`, at most `requests_per_second`.
pub fn stripe_gateway_section(
    emulator: &stripe_emulator::Emulator,
    requests_per_second: u32,
) -> String {
    format!(
        r#"
[gateways.stripe]
component = "{component}"
allowed_hosts = ["{base}"]
auth = {{ scheme = "bearer", secret = "api-key" }}
max_concurrency = 8
requests_per_second = {requests_per_second}
[gateways.stripe.secrets]
api-key = {{ env = "OMNICRM_TEST_STRIPE_KEY" }}
[gateways.stripe.settings]
base-url = "{base}"
"#,
        component = component("omnicrm_stripe_gateway").display(),
        base = emulator.base_url(),
    )
}

/// Writes, through the service's own code on the ledger of the configuration file `config` (its
/// gateway's `secrets` given by value), `customers` customers (`crm-N`) each with the card
/// `card_token`, and `transactions` pending charges in `currency` spread over them, left for a
/// billing run.
pub async fn seed_due_charges(
    config: &Path,
    secrets: &[(&str, &str)],
    card_token: &str,
    currency: &str,
    customers: usize,
    transactions: usize,
) {
    let mut config = ServiceConfig::load(config).unwrap();
    for g in config.gateways.values_mut() {
        for (name, value) in secrets {
            g.config
                .secrets
                .insert(name.to_string(), SecretSource::value(*value));
        }
    }
    let mut opts = server::runtime_options(&config).unwrap();
    opts.cache_dir = Some(cache_dir());
    let service = server::build(&config, opts).await.unwrap();
    for c in 0..customers {
        let id = format!("crm-{c}");
        service
            .link_customer(&id, None, None, None, None)
            .await
            .unwrap();
        service
            .store_card(&id, None, card_token, None, true, None)
            .await
            .unwrap();
    }
    futures_util::stream::iter(0..transactions)
        .map(|i| {
            let service = service.clone();
            async move {
                service
                    .create_transaction(TxnRequest {
                        customer_id: format!("crm-{}", i % customers),
                        amount: 100 + (i as i64 * 37) % 9_900,
                        currency: currency.into(),
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
        })
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;
}

/// Seeds the ledger `db` of the configuration file `config` with [`CUSTOMERS`] customers and
/// [`TRANSACTIONS`] pending charges ([`seed_due_charges`]), and checks they are all there.
pub async fn seed_ledger(
    config: &Path,
    db: &Path,
    secrets: &[(&str, &str)],
    card_token: &str,
    currency: &str,
) {
    seed_due_charges(
        config,
        secrets,
        card_token,
        currency,
        CUSTOMERS,
        TRANSACTIONS,
    )
    .await;
    assert_eq!(
        count(
            db,
            "SELECT COUNT(*) FROM transactions WHERE status = 'pending'"
        ),
        TRANSACTIONS as i64
    );
}

/// The ledger when the first billing run was killed.
pub struct Killed {
    /// Transactions no longer pending.
    pub settled: i64,
    /// Gateway operations begun whose outcome the ledger does not know.
    pub in_flight: i64,
}

/// Starts a billing run of `config` and kills it with SIGKILL once a fifth of the charges in the
/// ledger `db` are settled; fails if it makes no progress for `patience` or ends on its own first.
pub async fn kill_midway(
    config: &Path,
    env: &[(&str, &str)],
    db: &Path,
    patience: Duration,
) -> Killed {
    let mut child = billing_run(config, env).spawn().unwrap();
    let deadline = Instant::now() + patience;
    loop {
        let settled = count(
            db,
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
    let killed = Killed {
        settled: count(
            db,
            "SELECT COUNT(*) FROM transactions WHERE status != 'pending'",
        ),
        in_flight: count(
            db,
            "SELECT COUNT(*) FROM operations WHERE state IN ('pending', 'unknown')",
        ),
    };
    assert!(
        killed.settled < TRANSACTIONS as i64,
        "killed before the end"
    );
    killed
}

/// Runs the billing run of `config` again, to its end: it settles the leftovers with their stored
/// keys, then charges the rest, and reports nothing unsettled or failed.
pub fn rerun_to_completion(config: &Path, env: &[(&str, &str)]) {
    let out = billing_run(config, env).output().unwrap();
    assert!(
        out.status.success(),
        "second run failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    eprintln!("second run: {summary}");
    assert_eq!(summary["unsettled"], 0);
    assert_eq!(summary["failed"], 0);
}

/// The ledger after the billing runs, once checked that every transaction succeeded, each with a
/// gateway payment of its own, and no operation is left unfinished.
pub struct SettledLedger {
    /// Per transaction id: the amount captured and the gateway's payment reference.
    pub transactions: HashMap<String, (i64, String)>,
    /// The sum of the amounts captured.
    pub total: i64,
}

/// Reads the ledger `db` after the billing runs; see [`SettledLedger`].
pub fn settled_ledger(db: &Path) -> SettledLedger {
    assert_eq!(
        count(
            db,
            "SELECT COUNT(*) FROM transactions WHERE status = 'succeeded'"
        ),
        TRANSACTIONS as i64
    );
    assert_eq!(
        count(
            db,
            "SELECT COUNT(DISTINCT gateway_payment_ref) FROM transactions"
        ),
        TRANSACTIONS as i64
    );
    assert_eq!(
        count(db, "SELECT COUNT(*) FROM operations WHERE state != 'done'"),
        0
    );
    let total = count(db, "SELECT SUM(amount_captured) FROM transactions");
    let c = rusqlite::Connection::open(db).unwrap();
    let mut st = c
        .prepare("SELECT id, amount_captured, gateway_payment_ref FROM transactions")
        .unwrap();
    let transactions = st
        .query_map([], |r| {
            Ok((r.get::<_, i64>(0)?.to_string(), (r.get(1)?, r.get(2)?)))
        })
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    SettledLedger {
        transactions,
        total,
    }
}

/// Asserts that the gateway made exactly one payment for each transaction (`payments`: what it
/// made, by transaction id) and nothing for a transaction the ledger lacks; returns each
/// transaction's payment, with the ledger's amount captured and payment reference.
pub fn one_payment_each<'a>(
    payments: &'a HashMap<String, Vec<Value>>,
    ledger: &'a SettledLedger,
) -> Vec<(&'a str, &'a Value, i64, &'a str)> {
    assert_eq!(payments.len(), TRANSACTIONS, "one payment per transaction");
    payments
        .iter()
        .map(|(t, list)| {
            assert_eq!(
                list.len(),
                1,
                "transaction {t} was charged {} times",
                list.len()
            );
            let (captured, reference) = ledger
                .transactions
                .get(t)
                .unwrap_or_else(|| panic!("a payment for {t}, which the ledger does not have"));
            (t.as_str(), &list[0], *captured, reference.as_str())
        })
        .collect()
}
