//! Runs the Adyen emulator standalone: `cargo run -p adyen-emulator -- --port 12121 [--tls]`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use adyen_emulator::{Emulator, EmulatorOptions, SettleDelay};
use anyhow::Context;
use clap::Parser;

/// A stateful Adyen Checkout API (v71) emulator on loopback.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1", env = "ADYEN_EMULATOR_HOST")]
    host: IpAddr,
    /// Port of the HTTP listener (0 = any free port).
    #[arg(long, default_value_t = 12121, env = "ADYEN_EMULATOR_PORT")]
    port: u16,
    /// Also serve HTTPS with a certificate generated at start.
    #[arg(long)]
    tls: bool,
    /// Port of the HTTPS listener (default: the HTTP port + 1, or any free port when that is 0).
    #[arg(long)]
    tls_port: Option<u16>,
    /// Where to write the CA certificate (PEM) of the HTTPS listener.
    #[arg(long, default_value = "adyen-emulator-ca.pem")]
    ca_out: PathBuf,
    /// Worker threads serving requests.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Register a webhook endpoint (repeatable); its HMAC key is printed.
    #[arg(long = "webhook")]
    webhooks: Vec<String>,
    /// The HMAC key (hex) of the `--webhook` endpoints, instead of new ones.
    #[arg(long)]
    webhook_hmac_key: Option<String>,
    /// Accept only this `X-API-Key` (repeatable; default: any non-empty key).
    #[arg(long = "api-key")]
    api_keys: Vec<String>,
    /// Accept only this merchant account (repeatable; default: any non-empty name).
    #[arg(long = "merchant-account")]
    merchant_accounts: Vec<String>,
    /// Milliseconds between a modification's answer and its notification.
    #[arg(long, default_value_t = 300)]
    settle_delay_ms: u64,
    /// Settle modifications only when released (`POST /_emulator/settlements/release`).
    #[arg(long)]
    manual_settlement: bool,
    /// A partial capture releases the rest of the authorisation.
    #[arg(long)]
    single_partial_capture: bool,
}

// The emulator runs on its own runtime; this one only waits for Ctrl-C.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let args = Args::parse();
    let tls_port = args.tls_port.unwrap_or(if args.port == 0 {
        0
    } else {
        args.port.saturating_add(1)
    });
    let emulator = Emulator::start(EmulatorOptions {
        addr: SocketAddr::new(args.host, args.port),
        tls: args.tls,
        tls_addr: SocketAddr::new(args.host, tls_port),
        clock_start: None,
        worker_threads: args.workers,
        api_keys: args.api_keys,
        merchant_accounts: args.merchant_accounts,
        settle_delay: if args.manual_settlement {
            SettleDelay::Manual
        } else {
            SettleDelay::After(Duration::from_millis(args.settle_delay_ms))
        },
        multiple_partial_captures: !args.single_partial_capture,
    })
    .await
    .context("starting the emulator")?;
    println!(
        "Adyen emulator (Checkout API v{}) listening on {}",
        adyen_emulator::API_VERSION,
        emulator.api_base_url()
    );
    println!("  any `X-API-Key` works unless --api-key is given; admin routes under /_emulator/");
    if let (Some(url), Some(pem)) = (emulator.tls_base_url(), emulator.ca_certificate_pem()) {
        std::fs::write(&args.ca_out, pem)
            .with_context(|| format!("writing the CA certificate to {}", args.ca_out.display()))?;
        println!(
            "  HTTPS on {url} (CA certificate: {})",
            args.ca_out.display()
        );
    }
    for url in &args.webhooks {
        let endpoint = match &args.webhook_hmac_key {
            Some(key) => emulator.add_webhook_endpoint_with_key(url, key),
            None => emulator.add_webhook_endpoint(url),
        }
        .with_context(|| format!("registering the webhook endpoint {url}"))?;
        println!("  webhook endpoint {url} HMAC key {}", endpoint.hmac_key);
    }
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    drop(emulator);
    Ok(())
}
