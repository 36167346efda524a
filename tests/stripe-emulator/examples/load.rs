//! A bounded load loop against an in-process emulator (or `--url` of a running one):
//! `cargo run --release -p stripe-emulator --example load -- [--seconds 5] [--connections 32] [--url http://127.0.0.1:12111]`.
//! Each connection repeats `GET /v1/customers/{id}` for the given time; prints requests per second.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use stripe_emulator::{Emulator, EmulatorOptions};

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
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(connections)
        .build_http();
    let create = http::Request::post(format!("{base}/v1/customers"))
        .header("authorization", "Bearer sk_test_load")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from("email=load%40example.com")))?;
    let body = client
        .request(create)
        .await?
        .into_body()
        .collect()
        .await?
        .to_bytes();
    let customer: serde_json::Value = serde_json::from_slice(&body)?;
    let url = format!(
        "{base}/v1/customers/{}",
        customer["id"].as_str().unwrap_or_default()
    );

    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (client, url, done, errors) =
            (client.clone(), url.clone(), done.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let request = http::Request::get(&url)
                    .header("authorization", "Bearer sk_test_load")
                    .body(Full::new(Bytes::new()))
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
        "{n} requests in {elapsed:.2}s over {connections} connections: {:.0} requests/s ({} errors)",
        n as f64 / elapsed,
        errors.load(Ordering::Relaxed)
    );
    Ok(())
}
