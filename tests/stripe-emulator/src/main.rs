//! Runs the Stripe emulator standalone: `cargo run -p stripe-emulator -- --port 12111 [--tls]`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use stripe_emulator::{Emulator, EmulatorOptions};

/// A stateful Stripe API emulator on loopback.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1", env = "STRIPE_EMULATOR_HOST")]
    host: IpAddr,
    /// Port of the HTTP listener (0 = any free port).
    #[arg(long, default_value_t = 12111, env = "STRIPE_EMULATOR_PORT")]
    port: u16,
    /// Also serve HTTPS with a certificate generated at start.
    #[arg(long)]
    tls: bool,
    /// Port of the HTTPS listener (default: the HTTP port + 1, or any free port when that is 0).
    #[arg(long)]
    tls_port: Option<u16>,
    /// Where to write the CA certificate (PEM) of the HTTPS listener.
    #[arg(long, default_value = "stripe-emulator-ca.pem")]
    ca_out: PathBuf,
    /// Worker threads serving requests.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Register a webhook endpoint receiving every event (repeatable); its secret is printed.
    #[arg(long = "webhook")]
    webhooks: Vec<String>,
    /// Answer `GET /v1/customers/search` as an unknown URL, as Stripe does where search is not
    /// available.
    #[arg(long)]
    no_customer_search: bool,
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
        customer_search: !args.no_customer_search,
    })
    .await
    .context("starting the emulator")?;
    println!(
        "Stripe emulator (API version {}) listening on {}",
        stripe_emulator::API_VERSION,
        emulator.base_url()
    );
    println!("  any `Authorization: Bearer sk_test_...` key works; admin routes under /_emulator/");
    if let (Some(url), Some(pem)) = (emulator.tls_base_url(), emulator.ca_certificate_pem()) {
        std::fs::write(&args.ca_out, pem)
            .with_context(|| format!("writing the CA certificate to {}", args.ca_out.display()))?;
        println!(
            "  HTTPS on {url} (CA certificate: {})",
            args.ca_out.display()
        );
    }
    for url in &args.webhooks {
        let secret = emulator.add_webhook_endpoint(url);
        println!("  webhook endpoint {url} secret {secret}");
    }
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    drop(emulator);
    Ok(())
}
