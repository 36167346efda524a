//! Measurement 10: a billing run's charges per second through one, two and three
//! `omnicrm-pay billing-run` instances sharing a PostgreSQL ledger, beside one instance on
//! SQLite, all against the same Stripe emulator on the same machine.
//!
//! Each configuration gets a fresh ledger holding the same due charges (written in-process
//! through the service's own code), then its instances start together; the figure is the due
//! charges over the wall time until the last instance exits. The PostgreSQL server is the one
//! `cargo xtask bench` starts (`OMNICRM_TEST_POSTGRES`); without one the rows say so.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use futures_util::StreamExt as _;
use omnicrm_host::config::SecretSource;
use omnicrm_pay::config::ServiceConfig;
use omnicrm_pay::ledger::{Capture, Initiator, TxnKind};
use omnicrm_pay::payments::TxnRequest;
use omnicrm_pay::server;
use serde_json::Value;

use crate::measure::{Bench, STRIPE_WASM};
use crate::native::API_KEY;
use crate::stats::{Row, Samples, Verdict, fmt_duration};

/// The service binary `cargo bench` builds next to this benchmark.
const SERVICE_BIN: &str = env!("CARGO_BIN_EXE_omnicrm-pay");
/// Calls in flight per gateway and instance.
const MAX_CONCURRENCY: usize = 16;

/// Where a configuration keeps its ledger.
enum Store {
    Sqlite,
    /// The URL of a fresh database.
    Postgres(String),
}

/// The configuration in `dir`: the Stripe plugin against the emulator, the ledger in `store`, and
/// the benchmark's artifact cache `cache` (the instances start warm).
fn write_config(
    dir: &Path,
    cache: &Path,
    component: &Path,
    emulator: &str,
    store: &Store,
) -> Result<()> {
    let database = match store {
        Store::Sqlite => "database = \"ledger.db\"\ndurability = \"full\"".to_string(),
        Store::Postgres(url) => format!("database = \"{url}\"\ndatabase_pool_size = 24"),
    };
    let text = format!(
        r#"[service]
{database}
cache_dir = "{cache}"
default_gateway = "stripe"
watch_components = false

[gateways.stripe]
component = "{component}"
allowed_hosts = ["{emulator}"]
auth = {{ scheme = "bearer", secret = "api-key" }}
max_concurrency = {MAX_CONCURRENCY}
[gateways.stripe.secrets]
api-key = {{ env = "OMNICRM_BENCH_STRIPE_KEY" }}
[gateways.stripe.settings]
base-url = "{emulator}"
"#,
        component = component.display(),
        cache = cache.display(),
    );
    std::fs::write(dir.join("omnicrm-pay.toml"), text)?;
    Ok(())
}

/// Customers with a card each and `charges` due transactions, through the service's own code.
async fn seed(config: &Path, cache: &Path, customers: usize, charges: usize) -> Result<()> {
    let mut config = ServiceConfig::load(config)?;
    for g in config.gateways.values_mut() {
        g.config
            .secrets
            .insert("api-key".into(), SecretSource::value(API_KEY));
    }
    let mut opts = server::runtime_options(&config)?;
    opts.cache_dir = Some(cache.to_path_buf());
    let service = server::build(&config, opts).await?;
    for c in 0..customers {
        let id = format!("bench-cluster-{c}");
        service.link_customer(&id, None, None, None, None).await?;
        service
            .store_card(&id, None, "pm_card_visa", None, true, None)
            .await?;
    }
    let results: Vec<Result<()>> = futures_util::stream::iter(0..charges)
        .map(|i| {
            let service = service.clone();
            async move {
                service
                    .create_transaction(TxnRequest {
                        customer_id: format!("bench-cluster-{}", i % customers),
                        amount: 1000 + (i % 500) as i64,
                        currency: "USD".into(),
                        description: Some("monthly plan".into()),
                        kind: TxnKind::Charge,
                        card_id: None,
                        capture: Capture::Automatic,
                        charge_now: false,
                        initiator: Initiator::MerchantUnscheduled,
                        return_url: None,
                        client_key: None,
                    })
                    .await?;
                Ok(())
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    results.into_iter().collect()
}

/// Starts `instances` billing runs of the configuration in `dir` together; the wall time until
/// the last ends and the charges they made.
async fn run_together(dir: &Path, instances: usize) -> Result<(Duration, u64, u64)> {
    let started = Instant::now();
    let runs: Vec<_> = (0..instances)
        .map(|_| {
            tokio::process::Command::new(SERVICE_BIN)
                .arg("billing-run")
                .arg("--config")
                .arg(dir.join("omnicrm-pay.toml"))
                .args(["--json", "--no-progress", "--no-invoices"])
                .arg("--concurrency")
                .arg(MAX_CONCURRENCY.to_string())
                .env("OMNICRM_BENCH_STRIPE_KEY", API_KEY)
                .env("RUST_LOG", "error")
                .stdin(std::process::Stdio::null())
                .output()
        })
        .collect();
    let (mut succeeded, mut unsettled) = (0, 0);
    for output in futures_util::future::join_all(runs).await {
        let output = output.context("running omnicrm-pay billing-run")?;
        if !output.status.success() {
            bail!(
                "billing-run failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let summary: Value = serde_json::from_slice(&output.stdout).context("summary")?;
        succeeded += summary["succeeded"].as_u64().unwrap_or(0);
        unsettled +=
            summary["unsettled"].as_u64().unwrap_or(0) + summary["failed"].as_u64().unwrap_or(0);
    }
    Ok((started.elapsed(), succeeded, unsettled))
}

/// A fresh database on the server `admin` names; its URL.
fn create_database(admin: &str, name: &str) -> Result<String> {
    let (admin, name) = (admin.to_string(), name.to_string());
    // The synchronous client blocks on a runtime of its own: off Tokio's threads.
    std::thread::spawn(move || -> Result<String> {
        let mut c = postgres::Client::connect(&admin, postgres::NoTls)?;
        c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))?;
        c.batch_execute(&format!("CREATE DATABASE {name}"))?;
        let mut url = url::Url::parse(&admin)?;
        url.set_path(&name);
        Ok(url.to_string())
    })
    .join()
    .map_err(|_| anyhow::anyhow!("creating a database panicked"))?
}

/// Measurement 10.
pub async fn billing_runs(bench: &mut Bench) -> Result<()> {
    let charges = bench.options.count(4_000, 300);
    let customers = bench.options.count(100, 10);
    let admin = std::env::var("OMNICRM_TEST_POSTGRES").ok();
    let configurations: Vec<(&str, usize)> = vec![
        ("SQLite", 1),
        ("PostgreSQL", 1),
        ("PostgreSQL", 2),
        ("PostgreSQL", 3),
    ];
    let mut figures = Vec::new();
    for (backend, instances) in configurations {
        let dir = tempfile::tempdir()?;
        let store = match (backend, &admin) {
            ("SQLite", _) => Store::Sqlite,
            (_, Some(admin)) => Store::Postgres(create_database(
                admin,
                &format!("omnicrm_bench_{instances}"),
            )?),
            (_, None) => {
                bench.rows.push(
                    Row::new(
                        10,
                        format!("billing run, {backend}, {instances} instance(s)"),
                        Samples::new(vec![]),
                    )
                    .note("not run: no PostgreSQL server (`cargo xtask bench` starts one)"),
                );
                continue;
            }
        };
        let cache = bench.cache_dir.path().join("artifacts");
        write_config(
            dir.path(),
            &cache,
            &bench.path(STRIPE_WASM),
            &bench.emulator.base_url,
            &store,
        )?;
        seed(
            &dir.path().join("omnicrm-pay.toml"),
            &cache,
            customers,
            charges,
        )
        .await?;
        let (wall, succeeded, unsettled) = run_together(dir.path(), instances).await?;
        let rate = succeeded as f64 / wall.as_secs_f64();
        figures.push(format!("{backend} x{instances}: {rate:.0}/s"));
        bench.rows.push(
            Row::new(
                10,
                format!(
                    "billing run, {charges} due charges, {backend}, {instances} instance(s), concurrency {MAX_CONCURRENCY} each"
                ),
                Samples::new(vec![wall]),
            )
            .rate(rate)
            .note(format!(
                "{succeeded} succeeded, {unsettled} failed or unsettled; wall time {} from start to the last exit",
                fmt_duration(wall)
            )),
        );
    }
    bench.verdicts.push(Verdict {
        section: 10,
        target: "billing run across instances (no target: charges/s)".into(),
        met: None,
        figure: figures.join(", "),
    });
    Ok(())
}
