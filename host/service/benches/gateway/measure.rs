//! The measurements 1 to 4 and 6 (5 and 7 are in `service.rs`, 8 in `adyen.rs`), run in one
//! process against one emulator child.

use crate::Options;
use crate::emulator::EmulatorProcess;
use crate::native::{API_KEY, Connections, NativeClient};
use crate::stats::{Row, Samples, Verdict, fmt_duration, render};
use anyhow::{Context as _, Result, bail};
use omnicrm_host::contract::{
    CaptureMode, ChargeRequest, CustomerRequest, Money, StoreCardRequest, StoredCredentialUse,
};
use omnicrm_host::{
    ArtifactSource, Gateway, GatewayConfig, OutboundAuth, Runtime, RuntimeOptions, SecretSource,
};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const STRIPE_WASM: &str = "omnicrm_stripe_gateway.wasm";
pub const OFFLINE_WASM: &str = "omnicrm_offline_gateway.wasm";

/// Everything the measurements share.
pub struct Bench {
    pub options: Options,
    pub emulator: EmulatorProcess,
    pub cache_dir: tempfile::TempDir,
    pub runtime: Runtime,
    /// The Stripe component against the emulator over plain HTTP (loopback).
    pub stripe: Gateway,
    /// The charge every measurement makes, shared with concurrent tasks.
    pub charges: Arc<Charges>,
    /// Native keep-alive client over plain HTTP.
    pub native: NativeClient,
    pub rows: Vec<Row>,
    pub verdicts: Vec<Verdict>,
}

/// A Stripe gateway configuration for an emulator origin.
pub fn stripe_config(component: &Path, base: &str) -> GatewayConfig {
    GatewayConfig::new(component)
        .allow_host(base)
        .with_auth(OutboundAuth::Bearer {
            secret: "api-key".into(),
        })
        .with_secret("api-key", SecretSource::value(API_KEY))
        .with_setting("base-url", base)
}

impl Bench {
    pub fn path(&self, file: &str) -> PathBuf {
        self.options.plugin_dir.join(file)
    }
}

/// Runs every selected measurement and renders the report.
pub async fn run(options: Options) -> Result<String> {
    let started = Instant::now();
    let emulator = EmulatorProcess::spawn()?;
    let cache_dir = tempfile::tempdir()?;
    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: Some(cache_dir.path().join("artifacts")),
        extra_ca_pem: Some(emulator.ca_pem.as_bytes().to_vec()),
        ..Default::default()
    })?;
    let stripe_path = options.plugin_dir.join(STRIPE_WASM);
    let stripe = runtime
        .load("stripe", &stripe_config(&stripe_path, &emulator.base_url))
        .await
        .with_context(|| format!("loading {}", stripe_path.display()))?;
    let native = NativeClient::new(&emulator.base_url, None, Connections::KeepAlive)?;
    let run_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let customer = stripe
        .ensure_customer(
            CustomerRequest {
                crm_customer_id: format!("bench-customer-{run_id}"),
                email: Some("bench@example.com".into()),
                name: Some("Bench Customer".into()),
                phone: None,
                metadata: Vec::new(),
            },
            &format!("bench-{run_id}-customer"),
        )
        .await
        .map_err(|e| anyhow::anyhow!("ensure_customer: {e}"))?;
    let card = stripe
        .store_card(StoreCardRequest {
            customer: customer.id.clone(),
            token: "tok_visa".into(),
            make_default: true,
            return_url: None,
            idempotency_key: format!("bench-{run_id}-card"),
        })
        .await
        .map_err(|e| anyhow::anyhow!("store_card: {e}"))?;
    let mut bench = Bench {
        options,
        emulator,
        cache_dir,
        runtime,
        stripe,
        charges: Arc::new(Charges {
            customer: customer.id,
            card: card.id,
            run_id,
            keys: AtomicUsize::new(0),
        }),
        native,
        rows: Vec::new(),
        verdicts: Vec::new(),
    };
    // Check both paths once before measuring anything.
    bench.charges.component_charge(&bench.stripe).await?;
    bench.charges.native_charge(&bench.native).await?;

    // Memory first, while the process is as small as it gets.
    if bench.options.runs(6) {
        memory(&mut bench).await?;
    }
    if bench.options.runs(2) {
        instantiation(&mut bench).await?;
    }
    if bench.options.runs(3) {
        loading(&mut bench).await?;
    }
    if bench.options.runs(1) {
        charge_vs_native(&mut bench).await?;
    }
    if bench.options.runs(4) {
        tls(&mut bench).await?;
    }
    if bench.options.runs(5) {
        crate::service::serve(&mut bench).await?;
    }
    if bench.options.runs(7) {
        crate::service::billing_run(&mut bench).await?;
    }
    if bench.options.runs(8) {
        crate::adyen::charge_vs_native(&mut bench).await?;
    }
    if bench.options.runs(9) {
        crate::languages::compare(&mut bench).await?;
    }
    if bench.options.runs(10) {
        crate::cluster::billing_runs(&mut bench).await?;
    }
    if bench.options.runs(11) {
        crate::console::pages(&mut bench).await?;
    }

    bench.rows.sort_by_key(|r| r.section);
    bench.verdicts.sort_by_key(|v| v.section);
    let mut out = String::new();
    out.push_str(&format!(
        "\nOmniCRM Payments gateway benchmarks{} ({} s, {} CPUs, {})\n\n",
        if bench.options.quick {
            " --quick (indicative figures)"
        } else {
            ""
        },
        started.elapsed().as_secs(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        cpu_model()
    ));
    out.push_str(&render(&bench.rows, &bench.verdicts));
    Ok(out)
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

// ---- helpers ----

/// Runs `total` operations on `concurrency` tasks; returns the latencies, the wall time, the
/// number of errors and the first error.
pub async fn concurrent<F, Fut>(
    total: usize,
    concurrency: usize,
    op: F,
) -> (Samples, Duration, usize, Option<String>)
where
    F: Fn() -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<()>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let next = next.clone();
        let op = op.clone();
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            let mut first_error = None;
            while next.fetch_add(1, Ordering::Relaxed) < total {
                let t = Instant::now();
                match op().await {
                    Ok(()) => latencies.push(t.elapsed()),
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| format!("{e:#}"));
                    }
                }
            }
            (latencies, errors, first_error)
        });
    }
    let mut all = Vec::with_capacity(total);
    let mut errors = 0;
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((latencies, e, first)) => {
                all.extend(latencies);
                errors += e;
                if first_error.is_none() {
                    first_error = first;
                }
            }
            Err(e) => {
                errors += 1;
                first_error.get_or_insert_with(|| format!("task: {e}"));
            }
        }
    }
    (Samples::new(all), started.elapsed(), errors, first_error)
}

pub fn ratio(a: Option<Duration>, b: Option<Duration>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if !b.is_zero() => Some(a.as_secs_f64() / b.as_secs_f64()),
        _ => None,
    }
}

pub fn errors_note(errors: usize, first: &Option<String>) -> String {
    match first {
        Some(e) if errors > 0 => format!("{errors} errors, first: {}", shorten(e, 120)),
        _ => String::new(),
    }
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}...", s.chars().take(max).collect::<String>())
    }
}

fn join_notes(parts: &[String]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join("; ")
}

/// CPU time (user + system) this process has used so far (`/proc/self/stat`, clock ticks of
/// 10 ms: use over many operations).
pub fn cpu_time() -> Duration {
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|text| {
            // Fields after the command name (which is in parentheses and may hold spaces).
            let rest = &text[text.rfind(')')? + 2..];
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let utime: u64 = fields.get(11)?.parse().ok()?;
            let stime: u64 = fields.get(12)?.parse().ok()?;
            Some(utime + stime)
        })
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// Resident set size of this process, in bytes.
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// RSS after giving the allocator's free memory back to the system, so that a following
/// measurement does not reuse memory freed by an earlier one without it being counted.
pub fn trimmed_rss_bytes() -> u64 {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn malloc_trim(pad: usize) -> i32;
        }
        // SAFETY: glibc's malloc_trim has no preconditions; it only releases free memory.
        unsafe {
            malloc_trim(0);
        }
    }
    rss_bytes()
}

const MIB: f64 = 1024.0 * 1024.0;

// ---- 1: one charge, component vs native ----

async fn charge_vs_native(bench: &mut Bench) -> Result<()> {
    let o = &bench.options;
    let (warmup, sequential, total16) = (o.count(100, 10), o.count(2000, 60), o.count(4000, 200));
    for _ in 0..warmup {
        bench.charges.component_charge(&bench.stripe).await?;
        bench.charges.native_charge(&bench.native).await?;
    }
    // Sequential, interleaved so both see the same emulator state.
    let mut component = Vec::with_capacity(sequential);
    let mut native = Vec::with_capacity(sequential);
    for _ in 0..sequential {
        let t = Instant::now();
        bench.charges.component_charge(&bench.stripe).await?;
        component.push(t.elapsed());
        let t = Instant::now();
        bench.charges.native_charge(&bench.native).await?;
        native.push(t.elapsed());
    }
    let (component, native) = (Samples::new(component), Samples::new(native));
    let seq_ratio = ratio(component.median(), native.median());
    let seq_ratio_p99 = ratio(component.p99(), native.p99());
    bench.rows.push(
        Row::new(
            1,
            "charge, component (host + Stripe plugin), c=1",
            component,
        )
        .note(format!(
            "ratio to native: median {}, p99 {}",
            fx(seq_ratio),
            fx(seq_ratio_p99)
        )),
    );
    bench
        .rows
        .push(Row::new(1, "charge, native hyper keep-alive, c=1", native));

    // Breakdown: the Stripe component instantiated and called without any HTTP
    // (`get-payment` of an invalid id is refused before any request).
    let mut no_http = Vec::with_capacity(sequential);
    for _ in 0..sequential {
        let t = Instant::now();
        let r = bench.stripe.get_payment("").await;
        no_http.push(t.elapsed());
        if !matches!(r, Err(omnicrm_host::CallError::Gateway(_))) {
            bail!("get_payment(\"\") should be refused by the plugin: {r:?}");
        }
    }
    bench.rows.push(
        Row::new(
            1,
            "breakdown: Stripe component instantiate + call without HTTP (get-payment \"\")",
            Samples::new(no_http),
        )
        .note("the per-call cost of the sandbox before any I/O"),
    );

    // Concurrency 16.
    let shared = bench.charges.clone();
    let gateway = bench.stripe.clone();
    let s = shared.clone();
    let cpu0 = cpu_time();
    let (c_samples, c_wall, c_err, c_first) = concurrent(total16, 16, move || {
        let s = s.clone();
        let g = gateway.clone();
        async move { s.component_charge(&g).await }
    })
    .await;
    let c_cpu = cpu_time().saturating_sub(cpu0) / total16.max(1) as u32;
    let client = bench.native.clone();
    let s = shared.clone();
    let cpu0 = cpu_time();
    let (n_samples, n_wall, n_err, n_first) = concurrent(total16, 16, move || {
        let s = s.clone();
        let c = client.clone();
        async move { s.native_charge(&c).await.map(|_| ()) }
    })
    .await;
    let n_cpu = cpu_time().saturating_sub(cpu0) / total16.max(1) as u32;
    let c_rate = c_samples.len() as f64 / c_wall.as_secs_f64();
    let n_rate = n_samples.len() as f64 / n_wall.as_secs_f64();
    let c16_ratio = ratio(c_samples.median(), n_samples.median());
    let c16_ratio_p99 = ratio(c_samples.p99(), n_samples.p99());
    bench.rows.push(
        Row::new(1, "charge, component, c=16", c_samples)
            .rate(c_rate)
            .note(join_notes(&[
                format!(
                    "ratio to native: median {}, p99 {}, throughput {}; host CPU per charge {}",
                    fx(c16_ratio),
                    fx(c16_ratio_p99),
                    fx(Some(n_rate / c_rate)),
                    fmt_duration(c_cpu)
                ),
                errors_note(c_err, &c_first),
            ])),
    );
    bench.rows.push(
        Row::new(1, "charge, native hyper keep-alive, c=16", n_samples)
            .rate(n_rate)
            .note(join_notes(&[
                format!("host CPU per charge {}", fmt_duration(n_cpu)),
                errors_note(n_err, &n_first),
            ])),
    );
    for (label, r) in [("c=1", seq_ratio), ("c=16", c16_ratio)] {
        bench.verdicts.push(Verdict {
            section: 1,
            target: format!("charge component/native median <= 1.5 ({label}; stretch 1.2)"),
            met: r.map(|r| r <= 1.5),
            figure: match r {
                Some(r) if r <= 1.2 => format!("{r:.2} (stretch met)"),
                other => fx(other),
            },
        });
    }
    Ok(())
}

fn fx(r: Option<f64>) -> String {
    r.map(|r| format!("{r:.2}x")).unwrap_or_else(|| "-".into())
}

/// The charge the measurements make: the bench customer's card, USD 19.99, a fresh idempotency
/// key each time.
pub struct Charges {
    customer: String,
    card: String,
    run_id: u64,
    keys: AtomicUsize,
}

impl Charges {
    fn key(&self) -> String {
        let n = self.keys.fetch_add(1, Ordering::Relaxed);
        format!("bench-{:x}-{n}", self.run_id)
    }

    pub fn charge_request(&self) -> ChargeRequest {
        let key = self.key();
        ChargeRequest {
            customer: self.customer.clone(),
            card: self.card.clone(),
            amount: Money {
                amount: 1999,
                currency: "USD".into(),
            },
            description: Some("bench charge".into()),
            metadata: vec![("crm_transaction_id".into(), key.clone())],
            capture: CaptureMode::Automatic,
            stored_credential: StoredCredentialUse::MerchantUnscheduled,
            network_transaction_id: None,
            return_url: None,
            idempotency_key: key,
        }
    }

    pub async fn component_charge(&self, gateway: &Gateway) -> Result<()> {
        let payment = gateway
            .charge(self.charge_request())
            .await
            .map_err(|e| anyhow::anyhow!("component charge: {e}"))?;
        if payment.status != omnicrm_host::contract::PaymentStatus::Succeeded {
            bail!("component charge: status {:?}", payment.status);
        }
        Ok(())
    }

    pub async fn native_charge(&self, client: &NativeClient) -> Result<http::Version> {
        let key = self.key();
        client.charge(&self.customer, &self.card, 1999, &key).await
    }
}

// ---- 2: instantiation + one trivial call ----

async fn instantiation(bench: &mut Bench) -> Result<()> {
    let o = &bench.options;
    let n = o.count(20_000, 2_000);
    let offline = bench
        .runtime
        .load("offline", &GatewayConfig::new(bench.path(OFFLINE_WASM)))
        .await
        .context("loading the offline component")?;
    // `tokens.list-cards` of the offline gateway: no I/O, an empty list.
    let customer = "off_cus_0123456789abcdef";
    for _ in 0..n / 10 {
        offline
            .list_cards(customer)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let mut samples = Vec::with_capacity(n);
    let started = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        offline
            .list_cards(customer)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        samples.push(t.elapsed());
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    let samples = Samples::new(samples);
    let median = samples.median();
    bench.rows.push(
        Row::new(
            2,
            "instantiate + list-cards (offline component, Gateway API), c=1",
            samples,
        )
        .rate(rate),
    );

    // Same at concurrency 2 (the machine's cores): throughput of the per-call machinery.
    let g = offline.clone();
    let (samples2, wall2, err2, first2) = concurrent(n, 2, move || {
        let g = g.clone();
        async move {
            g.list_cards(customer)
                .await
                .map(|_| ())
                .map_err(|e| anyhow::anyhow!("{e}"))
        }
    })
    .await;
    let rate2 = samples2.len() as f64 / wall2.as_secs_f64();
    bench.rows.push(
        Row::new(2, "instantiate + list-cards, c=2", samples2)
            .rate(rate2)
            .note(errors_note(err2, &first2)),
    );

    // The wasmtime floor: the same component and call on the host's own engine, but no
    // WASI/HTTP context, no limiter, imports defined as traps, one export looked up.
    let path = bench.path(OFFLINE_WASM);
    let host_engine = bench.runtime.engine().clone();
    let floor = floor(&host_engine, &path, n, Floor::Raw).await?;
    let floor_median = floor.median();
    bench.rows.push(
        Row::new(
            2,
            "floor: raw instantiate_pre + call on the host's engine (no host state)",
            floor,
        )
        .note(format!(
            "host per-call overhead above the floor: {}",
            match (median, floor_median) {
                (Some(a), Some(b)) => fmt_duration(a.saturating_sub(b)),
                _ => "-".into(),
            }
        )),
    );
    let bindings = self::floor(&host_engine, &path, n, Floor::Bindings).await?;
    bench.rows.push(
        Row::new(
            2,
            "reference: the generated FullGatewayPre::instantiate_async (host's engine)",
            bindings,
        )
        .note("loads and type-checks every export per instance; the host resolves them once per gateway"),
    );
    bench.verdicts.push(Verdict {
        section: 2,
        target: "instantiation + trivial call <= 20 us (median, c=1)".into(),
        met: median.map(|m| m <= Duration::from_micros(20)),
        figure: median.map(fmt_duration).unwrap_or_else(|| "-".into()),
    });
    Ok(())
}

/// How [`floor`] instantiates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Floor {
    /// `InstancePre::instantiate_async` and one export function looked up by index.
    Raw,
    /// The generated `FullGatewayPre::instantiate_async` (every export of the world).
    Bindings,
}

/// Instantiates the offline component in a fresh `Store` and calls `tokens.list-cards`, `n`
/// times (after n/10 warm-up calls), on `engine`.
async fn floor(engine: &wasmtime::Engine, path: &Path, n: usize, mode: Floor) -> Result<Samples> {
    use omnicrm_host::contract::CONTRACT_VERSION;
    use omnicrm_host::contract::bindings::FullGatewayPre;
    use wasmtime::Store;
    use wasmtime::component::{Component, Linker, Val};
    let err = |e: wasmtime::Error| anyhow::anyhow!("{e:#}");
    let component = Component::from_file(engine, path).map_err(err)?;
    let mut linker: Linker<()> = Linker::new(engine);
    linker
        .define_unknown_imports_as_traps(&component)
        .map_err(err)?;
    let pre = linker.instantiate_pre(&component).map_err(err)?;
    let bindings = FullGatewayPre::new(pre.clone()).map_err(err)?;
    let interface = component
        .get_export_index(None, format!("omnicrm:payments/tokens@{CONTRACT_VERSION}"))
        .context("no tokens export")?;
    let func_index = component
        .get_export_index(Some(&interface), "list-cards")
        .context("no list-cards export")?;
    let customer = "off_cus_0123456789abcdef".to_string();
    let arg = [Val::String(customer.clone())];
    let mut samples = Vec::with_capacity(n);
    for i in 0..n + n / 10 {
        let t = Instant::now();
        let mut store = Store::new(engine, ());
        // The host's engine ticks epochs; never interrupt here.
        store.set_epoch_deadline(u64::MAX / 2);
        match mode {
            Floor::Raw => {
                let instance = pre.instantiate_async(&mut store).await.map_err(err)?;
                let func = instance
                    .get_func(&mut store, func_index)
                    .context("list-cards is not a function")?;
                let mut results = [Val::Bool(false)];
                func.call_async(&mut store, &arg, &mut results)
                    .await
                    .map_err(err)?;
            }
            Floor::Bindings => {
                let b = bindings.instantiate_async(&mut store).await.map_err(err)?;
                let _ = b
                    .omnicrm_payments_tokens()
                    .call_list_cards(&mut store, &customer)
                    .await
                    .map_err(err)?;
            }
        }
        drop(store);
        if i >= n / 10 {
            samples.push(t.elapsed());
        }
    }
    Ok(Samples::new(samples))
}

// ---- 3: loading the Stripe component cold and warm ----

async fn loading(bench: &mut Bench) -> Result<()> {
    let o = &bench.options;
    let (cold_n, warm_n) = (o.count(3, 1), o.count(20, 5));
    let path = bench.path(STRIPE_WASM);
    let base = bench.emulator.base_url.clone();
    let config = stripe_config(&path, &base);
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);

    let mut cold = Vec::new();
    let mut cold_compile = Vec::new();
    let warm_dir = tempfile::tempdir()?;
    for i in 0..cold_n {
        // Each cold load gets an empty cache; the last one fills the warm cache.
        let dir = if i + 1 == cold_n {
            warm_dir.path().to_path_buf()
        } else {
            bench.cache_dir.path().join(format!("cold-{i}"))
        };
        let runtime = Runtime::new(RuntimeOptions {
            cache_dir: Some(dir),
            ..Default::default()
        })?;
        let t = Instant::now();
        let gateway = runtime.load("stripe", &config).await?;
        cold.push(t.elapsed());
        let info = gateway.load_info().context("no load info")?;
        if info.artifact != ArtifactSource::Compiled {
            bail!("cold load came from {:?}", info.artifact);
        }
        cold_compile.push(info.compile_time);
    }
    let mut warm = Vec::new();
    let mut warm_deserialize = Vec::new();
    for _ in 0..warm_n {
        let runtime = Runtime::new(RuntimeOptions {
            cache_dir: Some(warm_dir.path().to_path_buf()),
            ..Default::default()
        })?;
        let t = Instant::now();
        let gateway = runtime.load("stripe", &config).await?;
        warm.push(t.elapsed());
        let info = gateway.load_info().context("no load info")?;
        if info.artifact != ArtifactSource::DiskCache {
            bail!("warm load came from {:?}", info.artifact);
        }
        warm_deserialize.push(info.compile_time);
    }
    let mut memory = Vec::new();
    for _ in 0..warm_n {
        let t = Instant::now();
        let gateway = bench.runtime.load("stripe-again", &config).await?;
        memory.push(t.elapsed());
        if gateway.load_info().map(|i| i.artifact) != Some(ArtifactSource::Memory) {
            bail!("in-memory load was not served from memory");
        }
    }
    let cold_compile = Samples::new(cold_compile);
    let warm_deserialize = Samples::new(warm_deserialize);
    bench.rows.push(
        Row::new(
            3,
            "load Stripe component, cold (compile)",
            Samples::new(cold),
        )
        .note(format!(
            "{} KiB component; compile part {}",
            size / 1024,
            cold_compile.median().map(fmt_duration).unwrap_or_default()
        )),
    );
    let warm = Samples::new(warm);
    let warm_median = warm.median();
    bench.rows.push(
        Row::new(3, "load Stripe component, warm (artifact cache)", warm).note(format!(
            "read + checksum + deserialize part {}; rest: validate, link, describe",
            warm_deserialize
                .median()
                .map(fmt_duration)
                .unwrap_or_default()
        )),
    );
    bench.rows.push(Row::new(
        3,
        "load Stripe component again in the same runtime (memory)",
        Samples::new(memory),
    ));
    bench.verdicts.push(Verdict {
        section: 3,
        target: "warm load of the Stripe component <= 10 ms (median)".into(),
        met: warm_median.map(|m| m <= Duration::from_millis(10)),
        figure: warm_median.map(fmt_duration).unwrap_or_else(|| "-".into()),
    });
    Ok(())
}

// ---- 4: TLS: pooled host client vs fresh connections vs native keep-alive ----

async fn tls(bench: &mut Bench) -> Result<()> {
    let o = &bench.options;
    let (warmup, n) = (o.count(50, 5), o.count(1000, 40));
    let tls_base = bench.emulator.tls_base_url.clone();
    let gateway = bench
        .runtime
        .load(
            "stripe-tls",
            &stripe_config(&bench.path(STRIPE_WASM), &tls_base),
        )
        .await?;
    let ca = bench.emulator.ca_pem.clone();
    let keep_alive = NativeClient::new(&tls_base, Some(&ca), Connections::KeepAlive)?;
    let fresh = NativeClient::new(&tls_base, Some(&ca), Connections::Fresh)?;
    let mut versions = (None, None);
    for _ in 0..warmup {
        bench.charges.component_charge(&gateway).await?;
        versions.0 = Some(bench.charges.native_charge(&keep_alive).await?);
        versions.1 = Some(bench.charges.native_charge(&fresh).await?);
    }
    let (mut c, mut k, mut f) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..n {
        let t = Instant::now();
        bench.charges.component_charge(&gateway).await?;
        c.push(t.elapsed());
        let t = Instant::now();
        bench.charges.native_charge(&keep_alive).await?;
        k.push(t.elapsed());
        let t = Instant::now();
        bench.charges.native_charge(&fresh).await?;
        f.push(t.elapsed());
    }
    let (c, k, f) = (Samples::new(c), Samples::new(k), Samples::new(f));
    let pooled_ratio = ratio(c.median(), k.median());
    let speedup = ratio(f.median(), c.median());
    // What the component would cost with the stock hook: its pooled figure plus what a fresh
    // TLS connection costs over a pooled one.
    let stock_estimate = match (c.median(), f.median(), k.median()) {
        (Some(c), Some(f), Some(k)) => Some(c + f.saturating_sub(k)),
        _ => None,
    };
    let fresh_over_keep = ratio(f.median(), k.median());
    bench.rows.push(
        Row::new(4, "charge over TLS, component (host pooled client), c=1", c).note(format!(
            "ratio to native keep-alive {}; speed-up over native fresh-connection {}; est. component with stock per-request connections {}",
            fx(pooled_ratio),
            fx(speedup),
            stock_estimate.map(fmt_duration).unwrap_or_default()
        )),
    );
    bench.rows.push(
        Row::new(4, "charge over TLS, native keep-alive, c=1", k)
            .note(format!("{:?}", versions.0.unwrap_or_default())),
    );
    bench.rows.push(
        Row::new(
            4,
            "charge over TLS, native fresh TCP+TLS connection per request (stock behaviour), c=1",
            f,
        )
        .note(format!(
            "{:?}; {} of keep-alive",
            versions.1.unwrap_or_default(),
            fx(fresh_over_keep)
        )),
    );
    bench.verdicts.push(Verdict {
        section: 4,
        target: "pooled TLS component <= 1.2x native keep-alive TLS (median)".into(),
        met: pooled_ratio.map(|r| r <= 1.2),
        figure: format!(
            "{} (speed-up over fresh connections {})",
            fx(pooled_ratio),
            fx(speedup)
        ),
    });
    Ok(())
}

// ---- 6: memory with 1,000 calls in flight ----

async fn memory(bench: &mut Bench) -> Result<()> {
    let (in_flight, latency_ms) = if bench.options.quick {
        (200, 1500)
    } else {
        (1000, 3000)
    };
    let admin = NativeClient::new(&bench.emulator.base_url, None, Connections::KeepAlive)?;
    admin
        .admin_post("/_emulator/faults/latency", &format!("ms={latency_ms}"))
        .await
        .context("setting the emulator's latency")?;
    // A runtime with an instance slot for every call (the default `max_instances` is lower:
    // calls beyond it wait for a slot without an instance).
    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: Some(bench.cache_dir.path().join("artifacts")),
        max_instances: in_flight as u32 + 24,
        ..Default::default()
    })?;
    let gateway = runtime
        .load(
            "stripe",
            &stripe_config(&bench.path(STRIPE_WASM), &bench.emulator.base_url),
        )
        .await?;
    let shared = bench.charges.clone();
    let mut waves = Vec::new();
    for wave in 0..2 {
        let (per_call, peak_in_flight, errors) = rss_wave(in_flight, latency_ms as u64, || {
            let (s, g) = (shared.clone(), gateway.clone());
            async move { s.component_charge(&g).await }
        })
        .await;
        waves.push((wave, per_call, peak_in_flight, errors));
    }
    // The same with native requests: what the HTTP client and tokio alone cost per request.
    let native = NativeClient::new(&bench.emulator.base_url, None, Connections::KeepAlive)?;
    let (native_per_call, _, _) = rss_wave(in_flight, latency_ms as u64, || {
        let (s, c) = (shared.clone(), native.clone());
        async move { s.native_charge(&c).await }
    })
    .await;
    admin
        .admin_post("/_emulator/faults/latency", "ms=0")
        .await
        .context("clearing the emulator's latency")?;

    let first = waves[0].1;
    for (wave, per_call, peak, errors) in &waves {
        bench.rows.push(
            Row::new(
                6,
                format!(
                    "RSS per component call in flight ({in_flight} at once, {})",
                    if *wave == 0 {
                        "first wave"
                    } else {
                        "second wave"
                    }
                ),
                Samples::default(),
            )
            .note(join_notes(&[
                format!(
                    "{:.0} KiB per call; {peak} in flight at the sample",
                    per_call / 1024.0
                ),
                if *errors > 0 {
                    format!("{errors} errors")
                } else {
                    String::new()
                },
            ])),
        );
    }
    bench.rows.push(
        Row::new(
            6,
            format!("RSS per native request in flight ({in_flight} at once)"),
            Samples::default(),
        )
        .note(format!("{:.0} KiB per request", native_per_call / 1024.0)),
    );
    bench.verdicts.push(Verdict {
        section: 6,
        target: "resident memory <= 1 MiB per call in flight".into(),
        met: Some(first <= MIB),
        figure: format!("{:.0} KiB per call (first wave)", first / 1024.0),
    });
    Ok(())
}

/// Starts `n` calls of `call` at once (the emulator holds each open for `latency_ms`) and
/// samples the process's resident memory at the peak: (bytes per call in flight, calls in flight
/// at the sample, calls that failed).
async fn rss_wave<F, Fut, T>(n: usize, latency_ms: u64, call: F) -> (f64, usize, usize)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let before = trimmed_rss_bytes();
    let started = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (st, fin, call) = (started.clone(), finished.clone(), call());
        tasks.spawn(async move {
            st.fetch_add(1, Ordering::SeqCst);
            let r = call.await;
            fin.fetch_add(1, Ordering::SeqCst);
            r
        });
    }
    let (peak, in_flight) = sample_peak(&started, &finished, n, latency_ms).await;
    let mut errors = 0;
    while let Some(r) = tasks.join_next().await {
        if !matches!(r, Ok(Ok(_))) {
            errors += 1;
        }
    }
    (
        peak.saturating_sub(before) as f64 / n as f64,
        in_flight,
        errors,
    )
}

async fn sample_peak(
    started: &AtomicUsize,
    finished: &AtomicUsize,
    n: usize,
    latency_ms: u64,
) -> (u64, usize) {
    let begin = Instant::now();
    let window = Duration::from_millis(latency_ms);
    let mut peak = 0;
    let mut in_flight = 0;
    while begin.elapsed() < window {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let s = started.load(Ordering::SeqCst);
        let f = finished.load(Ordering::SeqCst);
        if s == n && f == 0 {
            let rss = rss_bytes();
            if rss > peak {
                peak = rss;
                in_flight = s - f;
            }
        } else if f > 0 {
            break;
        }
    }
    (peak, in_flight)
}
