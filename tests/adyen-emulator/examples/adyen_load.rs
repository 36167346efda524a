//! A bounded load loop against an in-process emulator (or `--url` of a running one):
//! `cargo run --release -p adyen-emulator --example adyen_load -- [--seconds 5] [--connections 32] [--url http://127.0.0.1:12121]`.
//! Each connection repeats `POST /v71/payments` (a new card, authorised and captured, with its
//! AUTHORISATION notification recorded) for the given time; prints payments per second.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use adyen_emulator::{Emulator, EmulatorOptions};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let seconds: u64 = arg("--seconds")
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(5)
        .min(60);
    let connections: usize = arg("--connections")
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(32)
        .min(512);
    let emulator = match arg("--url") {
        Some(_) => None,
        None => Some(Emulator::start(EmulatorOptions::default()).await?),
    };
    let base = arg("--url").unwrap_or_else(|| {
        emulator
            .as_ref()
            .map(|e| e.base_url().to_string())
            .unwrap_or_default()
    });
    let url = format!("{base}/v71/payments");
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(connections)
        .build_http();
    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..connections {
        let (client, url, done, errors) =
            (client.clone(), url.clone(), done.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                n += 1;
                let body = serde_json::json!({
                    "merchantAccount": "LoadTest",
                    "amount": {"value": 1000, "currency": "EUR"},
                    "reference": format!("load-{worker}-{n}"),
                    "returnUrl": "http://shop.example/return",
                    "paymentMethod": {
                        "type": "scheme",
                        "encryptedCardNumber": "test_4111111111111111",
                        "encryptedExpiryMonth": "test_03",
                        "encryptedExpiryYear": "test_2030",
                        "encryptedSecurityCode": "test_737",
                    },
                });
                let request = http::Request::post(&url)
                    .header("x-api-key", "AQE_load")
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from(body.to_string())))
                    .expect("valid request");
                match client.request(request).await {
                    Ok(response) if response.status().is_success() => {
                        let _ = response.into_body().collect().await;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let n = done.load(Ordering::Relaxed);
    println!(
        "{n} payments in {elapsed:.2}s over {connections} connections: {:.0} payments/s ({} errors)",
        n as f64 / elapsed,
        errors.load(Ordering::Relaxed)
    );
    Ok(())
}
