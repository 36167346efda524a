//! Hot swap: the Stripe component file is replaced while requests are in flight (first by a
//! rebuilt Stripe plugin, then by the offline plugin) without a restart and without a failed
//! request.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::common::{EnvOptions, component, start};
use omnicrm_pay::client::ApiClient;
use serde_json::json;

fn leb128(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// The same component with a custom section appended: a "rebuild" with other bytes and the
/// same behaviour.
fn rebuilt(original: &[u8], tag: &str) -> Vec<u8> {
    let name = b"omnicrm-rebuild";
    let mut content = Vec::new();
    leb128(name.len(), &mut content);
    content.extend_from_slice(name);
    content.extend_from_slice(tag.as_bytes());
    let mut out = original.to_vec();
    out.push(0); // custom section
    leb128(content.len(), &mut out);
    out.extend_from_slice(&content);
    out
}

/// Replaces a file atomically (write, then rename), as a deployment would.
fn replace(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("wasm.new");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

async fn wait_for_generation(api: &ApiClient, generation: u64) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = api.get("/v1/gateways").await.unwrap();
        let g = r.json["gateways"][0].clone();
        if g["generation"].as_u64() == Some(generation) {
            return g;
        }
        assert!(
            Instant::now() < deadline,
            "the new component was not loaded: {g}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_the_component_takes_effect_without_a_restart_or_a_failed_request() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("stripe.wasm");
    let stripe = std::fs::read(component("omnicrm_stripe_gateway")).unwrap();
    std::fs::write(&live, &stripe).unwrap();
    let mut env = start(EnvOptions {
        component: Some(live.clone()),
        watch: true,
        ..Default::default()
    })
    .await;
    env.customer_with_card("c-1", "pm_card_visa").await;
    let before = wait_for_generation(&env.api, 1).await;

    // Phase 1: charges in flight (the gateway answers slowly) while a rebuilt Stripe plugin
    // replaces the file.
    env.emulator.faults().set_latency(Duration::from_millis(40));
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for w in 0..4 {
        let (api, stop, ok, failed) = (env.api.clone(), stop.clone(), ok.clone(), failed.clone());
        workers.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                i += 1;
                let r = api
                    .post(
                        "/v1/transactions",
                        json!({ "customer_id": "c-1", "amount": 100 + w * 1000 + i, "currency": "USD" }),
                    )
                    .await
                    .unwrap();
                if r.status == 201 && r.json["status"] == "succeeded" {
                    ok.fetch_add(1, Ordering::SeqCst);
                } else {
                    failed.fetch_add(1, Ordering::SeqCst);
                    eprintln!("failed request during the swap: {} {}", r.status, r.json);
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    replace(&live, &rebuilt(&stripe, "phase-1"));
    let after = wait_for_generation(&env.api, 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.await.unwrap();
    }
    assert_ne!(before["component_sha256"], after["component_sha256"]);
    assert_eq!(after["display_name"], "Stripe");
    assert_eq!(failed.load(Ordering::SeqCst), 0, "no request failed");
    assert!(
        ok.load(Ordering::SeqCst) >= 8,
        "requests ran during the swap"
    );
    env.emulator.faults().set_latency(Duration::ZERO);

    // Phase 2: the offline plugin replaces it while gateway calls (the financial summary) run.
    let stop = Arc::new(AtomicBool::new(false));
    let failed = Arc::new(AtomicU64::new(0));
    let served_by = Arc::new(std::sync::Mutex::new(std::collections::BTreeSet::new()));
    let mut workers = Vec::new();
    for _ in 0..3 {
        let (api, stop, failed, served_by) = (
            env.api.clone(),
            stop.clone(),
            failed.clone(),
            served_by.clone(),
        );
        workers.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let r = api
                    .get("/v1/summary?currency=USD&from=2026-01-01&to=2027-01-01")
                    .await
                    .unwrap();
                if r.status != 200 {
                    failed.fetch_add(1, Ordering::SeqCst);
                    eprintln!("failed request during the swap: {} {}", r.status, r.json);
                }
                let g = api.get("/v1/gateways").await.unwrap();
                served_by.lock().unwrap().insert(
                    g.json["gateways"][0]["display_name"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                );
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    replace(
        &live,
        &std::fs::read(component("omnicrm_offline_gateway")).unwrap(),
    );
    let offline = wait_for_generation(&env.api, 3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.await.unwrap();
    }
    assert_eq!(failed.load(Ordering::SeqCst), 0, "no request failed");
    assert_eq!(offline["display_name"], "Offline (no network)");
    let seen = served_by.lock().unwrap().clone();
    assert!(
        seen.contains("Stripe") && seen.contains("Offline (no network)"),
        "{seen:?}"
    );

    // A broken file does not replace the running gateway.
    replace(&live, b"not a component");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let r = env.api.get("/v1/gateways").await.unwrap();
    assert_eq!(r.json["gateways"][0]["generation"], 3);
    let r = env.api.get("/v1/summary?currency=USD").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.json);
    env.stop().await;
}
