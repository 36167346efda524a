//! Measurement 9: the same gateway work in Rust, Python and JavaScript components. The offline
//! Rust gateway beside the Python and JavaScript examples (`plugins/examples`, built by `cargo
//! xtask polyglot`): first load (compile) and the size of its cached artifact, load from the
//! artifact cache, instantiate + one call without I/O, and a charge of a stored card. None of
//! the three calls the network, so the rows compare what each language costs per call.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use omnicrm_host::contract::{
    CaptureMode, ChargeRequest, CustomerRequest, Money, PaymentStatus, StoreCardRequest,
    StoredCredentialUse,
};
use omnicrm_host::{
    ArtifactSource, Gateway, GatewayConfig, Limits, Runtime, RuntimeOptions, SecretSource,
};

use crate::measure::{Bench, OFFLINE_WASM};
use crate::stats::{Row, Samples, fmt_duration};

/// The components compared, by language.
const LANGUAGES: [(&str, &str); 3] = [
    ("Rust", OFFLINE_WASM),
    ("Python", "omnicrm_python_example.wasm"),
    ("JavaScript", "omnicrm_javascript_example.wasm"),
];

/// A configuration a third party would write for any of them: the Python and JavaScript
/// runtimes need 12 to 13 MiB before their first call.
fn config(component: &Path) -> GatewayConfig {
    GatewayConfig::new(component)
        .with_secret("webhook-secret", SecretSource::value("whsec_bench"))
        .with_limits(Limits {
            memory_mib: 32,
            ..Limits::default()
        })
}

/// Bytes of the files under `dir`.
fn size_of(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

pub async fn compare(bench: &mut Bench) -> Result<()> {
    let (warm_n, calls_n) = (bench.options.count(5, 2), bench.options.count(200, 20));
    for (language, file) in LANGUAGES {
        let path = bench.path(file);
        if !path.exists() {
            bail!(
                "{} is missing: build it with `cargo xtask polyglot` (`cargo xtask bench` does)",
                path.display()
            );
        }
        let config = config(&path);
        let component_size = std::fs::metadata(&path)?.len();
        let cache = bench.cache_dir.path().join(format!("languages-{language}"));

        // First load: an empty artifact cache, so the component is compiled.
        let runtime = Runtime::new(RuntimeOptions {
            cache_dir: Some(cache.clone()),
            ..Default::default()
        })?;
        let t = Instant::now();
        runtime
            .load(language, &config)
            .await
            .with_context(|| format!("loading {}", path.display()))?;
        let cold = t.elapsed();
        bench.rows.push(
            Row::new(
                9,
                format!("{language}: first load (compile)"),
                Samples::new(vec![cold]),
            )
            .note(format!(
                "{} component; cached artifact {}",
                mib(component_size),
                mib(size_of(&cache))
            )),
        );

        // Loads from the artifact cache, each in a new runtime (a restarted process).
        let mut warm = Vec::with_capacity(warm_n);
        let mut gateway = None;
        for _ in 0..warm_n {
            let runtime = Runtime::new(RuntimeOptions {
                cache_dir: Some(cache.clone()),
                ..Default::default()
            })?;
            let t = Instant::now();
            let loaded = runtime.load(language, &config).await?;
            warm.push(t.elapsed());
            if loaded.load_info().map(|i| i.artifact) != Some(ArtifactSource::DiskCache) {
                bail!("{language}: a warm load did not come from the artifact cache");
            }
            gateway = Some(loaded);
        }
        bench.rows.push(Row::new(
            9,
            format!("{language}: load from the artifact cache"),
            Samples::new(warm),
        ));
        let gateway = gateway.context("no warm load")?;

        let (customer, card) = customer_and_card(&gateway, language).await?;
        let mut listing = Vec::with_capacity(calls_n);
        let started = Instant::now();
        for _ in 0..calls_n {
            let t = Instant::now();
            gateway
                .list_cards(&customer)
                .await
                .map_err(|e| anyhow::anyhow!("{language}: list-cards: {e}"))?;
            listing.push(t.elapsed());
        }
        let rate = calls_n as f64 / started.elapsed().as_secs_f64();
        bench.rows.push(
            Row::new(
                9,
                format!("{language}: instantiate + list-cards, c=1"),
                Samples::new(listing),
            )
            .rate(rate),
        );

        let mut charges = Vec::with_capacity(calls_n);
        let started = Instant::now();
        for i in 0..calls_n {
            let key = format!("bench-{language}-{i}");
            let t = Instant::now();
            let payment = gateway
                .charge(ChargeRequest {
                    customer: customer.clone(),
                    card: card.clone(),
                    amount: Money {
                        amount: 1999,
                        currency: "USD".into(),
                    },
                    description: None,
                    metadata: vec![("crm_transaction_id".into(), key.clone())],
                    capture: CaptureMode::Automatic,
                    stored_credential: StoredCredentialUse::MerchantUnscheduled,
                    network_transaction_id: None,
                    return_url: None,
                    idempotency_key: key,
                })
                .await
                .map_err(|e| anyhow::anyhow!("{language}: charge: {e}"))?;
            charges.push(t.elapsed());
            if payment.status != PaymentStatus::Succeeded {
                bail!("{language}: charge answered {:?}", payment.status);
            }
        }
        let rate = calls_n as f64 / started.elapsed().as_secs_f64();
        let charges = Samples::new(charges);
        let note = charges
            .median()
            .map(|m| format!("median {} per charge", fmt_duration(m)))
            .unwrap_or_default();
        bench.rows.push(
            Row::new(
                9,
                format!("{language}: charge a stored card (no network), c=1"),
                charges,
            )
            .rate(rate)
            .note(note),
        );
    }
    Ok(())
}

/// A customer with a stored Visa card at `gateway`.
async fn customer_and_card(gateway: &Gateway, language: &str) -> Result<(String, String)> {
    let customer = gateway
        .ensure_customer(
            CustomerRequest {
                crm_customer_id: "bench-languages".into(),
                email: None,
                name: None,
                phone: None,
                metadata: Vec::new(),
            },
            &format!("bench-{language}-customer"),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{language}: ensure-customer: {e}"))?;
    let card = gateway
        .store_card(StoreCardRequest {
            customer: customer.id.clone(),
            token: "tok_visa".into(),
            make_default: true,
            return_url: None,
            idempotency_key: format!("bench-{language}-card"),
        })
        .await
        .map_err(|e| anyhow::anyhow!("{language}: store-card: {e}"))?;
    Ok((customer.id, card.id))
}
