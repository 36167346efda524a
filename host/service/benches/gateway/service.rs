//! Measurements 5 (`omnicrm-pay serve` creating charge transactions over its HTTP API) and 7
//! (`omnicrm-pay billing-run` of 10,000 charges), next to the emulator's own capacity for the
//! same charge requests. The service runs as its own process (the `omnicrm-pay` binary that
//! `cargo bench` builds), with a fresh ledger and configuration in a temporary directory.

use crate::measure::{Bench, STRIPE_WASM, concurrent, errors_note};
use crate::native::API_KEY;
use crate::stats::{Row, Samples, Verdict, fmt_duration};
use anyhow::{Context as _, Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The service binary `cargo bench` builds next to this benchmark.
const SERVICE_BIN: &str = env!("CARGO_BIN_EXE_omnicrm-pay");
/// The service API key the benchmark uses (its SHA-256 goes into the configuration).
const SERVICE_KEY: &str = "ocp_bench_0123456789abcdef0123456789abcdef01234567";
/// Calls in flight per gateway allowed by the service configuration (its default is 8, which
/// would cap concurrency 64 at 8).
const MAX_CONCURRENCY: usize = 64;

/// A running `omnicrm-pay serve`; stopped (SIGTERM, then kill) on drop.
struct ServiceProcess {
    child: Child,
    api: Api,
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}

fn terminate(child: &mut Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A JSON client of the service API (keep-alive).
#[derive(Clone)]
struct Api {
    client: Client<HttpConnector, Full<Bytes>>,
    base: Arc<str>,
}

impl Api {
    fn new(base: String) -> Self {
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(1024)
            .build(http);
        Api {
            client,
            base: Arc::from(base),
        }
    }

    async fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value)> {
        let mut builder = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("authorization", format!("Bearer {SERVICE_KEY}"));
        let body = match body {
            Some(v) => {
                builder = builder.header("content-type", "application/json");
                Bytes::from(serde_json::to_vec(v)?)
            }
            None => Bytes::new(),
        };
        let response = self.client.request(builder.body(Full::new(body))?).await?;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await?.to_bytes();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Ok((status, value))
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value> {
        let (status, value) = self.request("POST", path, Some(&body)).await?;
        if !(200..300).contains(&status) {
            bail!("POST {path}: HTTP {status}: {value}");
        }
        Ok(value)
    }

    /// Creates a transaction charged now; checks it succeeded.
    async fn charge(&self, customer: &str) -> Result<()> {
        let v = self
            .post(
                "/v1/transactions",
                json!({ "customer_id": customer, "amount": 1999, "currency": "USD", "description": "bench charge" }),
            )
            .await?;
        if v["status"] != "succeeded" {
            bail!("transaction status {}", v["status"]);
        }
        Ok(())
    }
}

/// Writes the service configuration: the Stripe plugin against the emulator (plain HTTP),
/// a fresh ledger and artifact cache in `dir`.
fn write_config(dir: &Path, component: &Path, emulator: &str, durability: &str) -> Result<PathBuf> {
    let key_hash = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(SERVICE_KEY.as_bytes()))
    };
    let text = format!(
        r#"[service]
listen = "127.0.0.1:0"
database = "ledger.db"
durability = "{durability}"
cache_dir = "artifacts"
default_gateway = "stripe"
watch_components = false

[[service.api_keys]]
name = "bench"
sha256 = "{key_hash}"
scopes = ["read", "write"]

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
    );
    let path = dir.join("omnicrm-pay.toml");
    std::fs::write(&path, text)?;
    Ok(path)
}

/// Starts `omnicrm-pay serve` on a free loopback port and waits until `/health` says every
/// gateway is loaded (`serve` answers while they load).
async fn start_service(config: &Path) -> Result<ServiceProcess> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let child = Command::new(SERVICE_BIN)
        .arg("serve")
        .arg("--config")
        .arg(config)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .env("OMNICRM_BENCH_STRIPE_KEY", API_KEY)
        .env("RUST_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {SERVICE_BIN} serve"))?;
    let mut service = ServiceProcess {
        child,
        api: Api::new(format!("http://127.0.0.1:{port}")),
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok((200, health)) = service.api.request("GET", "/health", None).await
            && health["status"] == "ok"
        {
            return Ok(service);
        }
        if let Ok(Some(status)) = service.child.try_wait() {
            bail!("omnicrm-pay serve exited with {status} before serving");
        }
        if Instant::now() > deadline {
            bail!("omnicrm-pay serve did not answer /health within 120 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Links `count` CRM customers to the Stripe gateway, each with a default Visa card.
/// Starts `omnicrm-pay serve` on a fresh ledger in `dir` with the given durability, links one
/// customer with a card, and warms the path up with a few charges.
async fn start_warm_service(
    bench: &Bench,
    dir: &Path,
    durability: &str,
    customer_prefix: &str,
) -> Result<(ServiceProcess, Arc<str>)> {
    let config = write_config(
        dir,
        &bench.path(STRIPE_WASM),
        &bench.emulator.base_url,
        durability,
    )?;
    let service = start_service(&config).await?;
    let ids = customers(&service.api, customer_prefix, 1).await?;
    let customer: Arc<str> = Arc::from(ids[0].as_str());
    for _ in 0..bench.options.count(50, 5) {
        service.api.charge(&customer).await?;
    }
    Ok((service, customer))
}

async fn customers(api: &Api, prefix: &str, count: usize) -> Result<Vec<String>> {
    let mut ids = Vec::with_capacity(count);
    for i in 0..count {
        let id = format!("{prefix}-{i}");
        api.post(
            "/v1/customers",
            json!({ "customer_id": id, "email": format!("{id}@example.com"), "name": "Bench Customer", "gateway": "stripe" }),
        )
        .await?;
        api.post(
            &format!("/v1/customers/{id}/cards"),
            json!({ "token": "pm_card_visa", "nickname": "Bench Visa", "default": true }),
        )
        .await?;
        ids.push(id);
    }
    Ok(ids)
}

/// The emulator's capacity for the charge request (native keep-alive client), and the service
/// creating charge transactions at concurrency 1, 16 and 64.
pub async fn serve(bench: &mut Bench) -> Result<()> {
    let total = bench.options.count(6000, 300);
    let shared = bench.charges.clone();
    let mut emulator_rates = Vec::new();
    for c in [1usize, 16, 64] {
        let client = bench.native.clone();
        let s = shared.clone();
        let n = if c == 1 { total / 3 } else { total };
        let (samples, wall, errors, first) = concurrent(n, c, move || {
            let s = s.clone();
            let c = client.clone();
            async move { s.native_charge(&c).await.map(|_| ()) }
        })
        .await;
        let rate = samples.len() as f64 / wall.as_secs_f64();
        emulator_rates.push(rate);
        bench.rows.push(
            Row::new(
                5,
                format!("emulator capacity: charge from native keep-alive client, c={c}"),
                samples,
            )
            .rate(rate)
            .note(errors_note(errors, &first)),
        );
    }

    let dir = tempfile::tempdir()?;
    let (service, customer) = start_warm_service(bench, dir.path(), "full", "bench-serve").await?;
    let api = service.api.clone();
    let mut rate_64 = None;
    for (i, c) in [1usize, 16, 64].into_iter().enumerate() {
        let n = if c == 1 { total / 3 } else { total };
        let (a, cu) = (api.clone(), customer.clone());
        let (samples, wall, errors, first) = concurrent(n, c, move || {
            let (a, cu) = (a.clone(), cu.clone());
            async move { a.charge(&cu).await }
        })
        .await;
        let rate = samples.len() as f64 / wall.as_secs_f64();
        if c == 64 {
            rate_64 = Some(rate);
        }
        bench.rows.push(
            Row::new(
                5,
                format!("service: POST /v1/transactions (charge now), c={c}"),
                samples,
            )
            .rate(rate)
            .note(join(&[
                format!(
                    "{:.2}x the emulator's rate at c={c}",
                    rate / emulator_rates[i]
                ),
                errors_note(errors, &first),
            ])),
        );
    }
    drop(service);

    // The same at c=64 with the ledger's `durability = "normal"` (no fsync per commit): how
    // much of the service's cost is the ledger's durability.
    let dir_normal = tempfile::tempdir()?;
    let (service, customer) =
        start_warm_service(bench, dir_normal.path(), "normal", "bench-serve-normal").await?;
    let api = service.api.clone();
    let (a, cu) = (api.clone(), customer.clone());
    let (samples, wall, errors, first) = concurrent(total, 64, move || {
        let (a, cu) = (a.clone(), cu.clone());
        async move { a.charge(&cu).await }
    })
    .await;
    let rate = samples.len() as f64 / wall.as_secs_f64();
    bench.rows.push(
        Row::new(
            5,
            "service: POST /v1/transactions, c=64, ledger durability = \"normal\"",
            samples,
        )
        .rate(rate)
        .note(join(&[
            format!(
                "{:.2}x the emulator's rate at c=64",
                rate / emulator_rates[2]
            ),
            errors_note(errors, &first),
        ])),
    );
    drop(service);
    let emulator_64 = emulator_rates[2];
    bench.verdicts.push(Verdict {
        section: 5,
        target: "service at c=64 >= 0.5x the emulator's rate for the same charges".into(),
        met: rate_64.map(|r| r >= 0.5 * emulator_64),
        figure: match rate_64 {
            Some(r) => format!(
                "{:.2}x ({r:.0}/s vs emulator {emulator_64:.0}/s)",
                r / emulator_64
            ),
            None => "-".into(),
        },
    });
    Ok(())
}

fn join(parts: &[String]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join("; ")
}

/// A billing run of 10,000 charges: due transactions created through the API (`"charge":
/// "later"`), the service stopped, then `omnicrm-pay billing-run` timed as a process.
pub async fn billing_run(bench: &mut Bench) -> Result<()> {
    let charges = if bench.options.quick { 300 } else { 10_000 };
    let customer_count = if bench.options.quick { 10 } else { 100 };
    let dir = tempfile::tempdir()?;
    let config = write_config(
        dir.path(),
        &bench.path(STRIPE_WASM),
        &bench.emulator.base_url,
        "full",
    )?;
    let service = start_service(&config).await?;
    let api = service.api.clone();
    let ids: Arc<Vec<String>> = Arc::new(customers(&api, "bench-billing", customer_count).await?);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (a, i2, n2) = (api.clone(), ids.clone(), next.clone());
    let (_, _, errors, first) = concurrent(charges, 16, move || {
        let (a, ids, next) = (a.clone(), i2.clone(), n2.clone());
        async move {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let v = a
                .post(
                    "/v1/transactions",
                    json!({ "customer_id": ids[i % ids.len()], "amount": 1000 + (i % 500) as i64, "currency": "USD", "description": "monthly plan", "charge": "later" }),
                )
                .await?;
            if v["status"] != "pending" {
                bail!("due transaction status {}", v["status"]);
            }
            Ok(())
        }
    })
    .await;
    if errors > 0 {
        bail!("creating due transactions: {}", errors_note(errors, &first));
    }
    drop(service);

    let started = Instant::now();
    let output = tokio::process::Command::new(SERVICE_BIN)
        .arg("billing-run")
        .arg("--config")
        .arg(&config)
        .arg("--json")
        .arg("--no-progress")
        .arg("--no-invoices")
        .env("OMNICRM_BENCH_STRIPE_KEY", API_KEY)
        .env("RUST_LOG", "error")
        .stdin(Stdio::null())
        .output()
        .await
        .context("running omnicrm-pay billing-run")?;
    let wall = started.elapsed();
    if !output.status.success() {
        bail!(
            "billing-run failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let summary: Value = serde_json::from_slice(&output.stdout).with_context(|| {
        format!(
            "billing-run summary: {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })?;
    let succeeded = summary["succeeded"].as_u64().unwrap_or(0);
    let inner = summary["seconds"].as_f64().unwrap_or(0.0);
    let rate = succeeded as f64 / wall.as_secs_f64();
    bench.rows.push(
        Row::new(
            7,
            format!(
                "billing run: {charges} due charges, {customer_count} customers, concurrency {MAX_CONCURRENCY} (process wall time)"
            ),
            Samples::new(vec![wall]),
        )
        .rate(rate)
        .note(format!(
            "{succeeded} succeeded, {} failed, {} unsettled; run loop {} ({:.0}/s), the rest is process start + ledger open + gateway load",
            summary["failed"], summary["unsettled"],
            fmt_duration(Duration::from_secs_f64(inner)),
            if inner > 0.0 { succeeded as f64 / inner } else { 0.0 },
        )),
    );
    bench.verdicts.push(Verdict {
        section: 7,
        target: format!("billing run of {charges} charges (no target: wall time, charges/s)"),
        met: None,
        figure: format!("{} , {rate:.0} charges/s", fmt_duration(wall)),
    });
    Ok(())
}
