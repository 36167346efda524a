//! What running a Python or JavaScript gateway costs, and how it is deployed: the memory it
//! needs before its first call, the artifact cache, a call's cost, and a service's
//! `[gateways.NAME]` configuration.

use super::*;
use omnicrm_host::GatewaysFile;
use omnicrm_host::contract::PaymentStatus;
use std::time::{Duration, Instant};

/// The smallest memory limit the component loads and describes itself with: what its language
/// runtime holds before the first call. A limit below it is refused when loading, naming the
/// limit.
pub async fn memory_before_the_first_call(example: &Example) {
    let loads = |mib: u32| async move {
        let limits = Limits {
            memory_mib: mib,
            ..limits()
        };
        let config = example.config().with_limits(limits);
        example.gateway().await; // compiled once, before the probes
        host().runtime.load(example.name, &config).await
    };
    let (mut fails, mut works) = (1, limits().memory_mib);
    assert!(loads(works).await.is_ok());
    let error = loads(fails).await.expect_err("1 MiB is too little");
    assert!(error.to_string().contains("memory"), "{error}");
    while works - fails > 1 {
        let mid = (works + fails) / 2;
        if loads(mid).await.is_ok() {
            works = mid
        } else {
            fails = mid
        }
    }
    println!(
        "{}: needs {works} MiB of memory to load and describe itself (a {fails} MiB limit refuses it)",
        example.name
    );
    assert!((4..=24).contains(&works), "{works} MiB");
}

/// A second runtime on the same cache directory (a restarted process) loads the compiled
/// artifact instead of compiling; the cost of a call, a fresh instance each time.
pub async fn the_artifact_cache_and_the_cost_of_a_call(example: &Example) {
    let first = example.gateway().await;
    let first_load = example.first_load().clone();
    let restarted = Runtime::new(options(&host().cache_dir)).unwrap();
    let gateway = restarted
        .load(example.name, &example.config())
        .await
        .unwrap();
    let cached = gateway.load_info().unwrap();
    assert_eq!(cached.artifact, ArtifactSource::DiskCache);
    assert_eq!(cached.component_sha256, first_load.component_sha256);
    if first_load.artifact == ArtifactSource::Compiled {
        assert!(
            cached.compile_time * 5 < first_load.compile_time,
            "{cached:?} vs {first_load:?}"
        );
    }
    let entry = std::fs::read_dir(&host().cache_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains(&first_load.component_sha256))
        .expect("a cache entry named by the component's digest");
    println!(
        "{}: cache entry {:.1} MB; a restarted runtime loads it in {:.0} ms ({:.0} ms with \
         linking and `describe`)",
        example.name,
        megabytes(std::fs::metadata(&entry).unwrap().len()),
        cached.compile_time.as_secs_f64() * 1000.0,
        cached.total_time.as_secs_f64() * 1000.0,
    );

    let (customer, card) = customer_with_card(&first, "crm-7", "tok_visa").await;
    let mut times = Vec::new();
    for i in 0..15 {
        let started = Instant::now();
        first
            .charge(charge_request(
                &customer,
                &card.id,
                100 + i,
                CaptureMode::Automatic,
                &format!("cost-{i}"),
            ))
            .await
            .unwrap();
        times.push(started.elapsed());
    }
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "{}: a charge (fresh instance + call) takes {:.2} ms (median of 15)",
        example.name,
        median.as_secs_f64() * 1000.0
    );
    assert!(median < Duration::from_millis(limits().call_timeout_ms / 5));
}

/// The service (`omnicrm-pay`) loads a gateway from its `[gateways.NAME]` table with its own
/// runtime options (`server::runtime_options`: the configured cache directory, and instance slots
/// for every gateway's `max_concurrency` plus 32): the same table and options here, with the
/// artifact the first load cached, and a charge through it.
pub async fn loads_from_a_service_configuration(example: &Example) {
    example.gateway().await;
    let name = example.name.trim_end_matches("-example");
    let toml = format!(
        r#"
[gateways.{name}]
component = "{component}"
[gateways.{name}.secrets]
webhook-secret = {{ env = "OMNICRM_POLYGLOT_TEST_WEBHOOK_SECRET" }}
[gateways.{name}.settings]
webhook-tolerance-secs = 300
[gateways.{name}.limits]
memory_mib = 32
call_timeout_ms = 5000
"#,
        component = example.path().display(),
    );
    let file = GatewaysFile::from_toml_str(&toml).unwrap();
    let max_concurrency = 8; // the service's default per gateway
    let runtime = Runtime::new(RuntimeOptions {
        max_instances: max_concurrency + 32,
        ..options(&host().cache_dir)
    })
    .unwrap();
    let gateway = runtime.load(name, &file.gateways[name]).await.unwrap();
    assert_eq!(
        gateway.load_info().unwrap().artifact,
        ArtifactSource::DiskCache
    );
    assert_eq!((gateway.name(), gateway.limits()), (name, limits()));
    let (customer, card) = customer_with_card(&gateway, "crm-service", "tok_visa").await;
    let request = charge_request(
        &customer,
        &card.id,
        4500,
        CaptureMode::Automatic,
        "order-1001",
    );
    let payment = gateway.charge(request).await.unwrap();
    assert_eq!(payment.status, PaymentStatus::Succeeded);
}
