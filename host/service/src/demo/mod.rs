//! `omnicrm-pay demo`: the whole story, end to end, through the service's own HTTP API.
//!
//! - `stripe` (the default): without `STRIPE_SECRET_KEY` it starts the Stripe emulator
//!   in-process (webhooks delivered, signed, to the service); with an `sk_test_` key it uses
//!   Stripe's test mode ([`stripe`]).
//! - `offline`: the offline plugin, the same story (its dispute arrives as a self-signed webhook).
//! - `adyen`: the Adyen plugin against the Adyen emulator started in-process, whose signed
//!   notification batches settle captures and refunds and report the chargeback ([`adyen`]).
//!
//! Either way the service runs for real: a ledger in a temporary directory, the plugin loaded by
//! the runtime, the API on a loopback port, and every step is an HTTP request to it. With
//! `keep_serving` the service stays up afterwards with the story's data, and the operator
//! console (`/console`) can be opened with the sign-in printed.

mod adyen;
mod output;
mod stripe;

use std::path::{Path, PathBuf};

use tokio::net::TcpListener;

use crate::client::ApiClient;
use crate::config::console::{ConsoleUser, Role, hash_password};
use crate::config::{
    ApiKeyConfig, GatewayEntry, Scope, ServiceConfig, generate_api_key, hash_api_key,
};
use crate::server;
use omnicrm_host::config::{GatewayConfig, SecretSource};

pub use output::DemoError;
pub use stripe::offline_signature;

use output::err;

/// Options of the demo.
#[derive(Debug, Clone, Default)]
pub struct DemoOptions {
    /// `stripe`, `adyen` or `offline`.
    pub gateway: String,
    /// Where the built plugins are.
    pub components: Option<PathBuf>,
    /// A configuration file whose default gateway to use instead.
    pub config: Option<PathBuf>,
    /// Print the raw JSON of responses.
    pub verbose: bool,
    /// After the story, keep the service running with its data (until Ctrl-C) and print the
    /// console's address and a sign-in.
    pub keep_serving: bool,
}

/// Where the built components are: the option, else where
/// [`omnicrm_host::built::component_dir`] finds them (`$OMNICRM_COMPONENT_DIR`, or the target
/// directory the binary was built in).
pub fn component_dir(explicit: Option<&Path>) -> PathBuf {
    match explicit {
        Some(dir) => dir.to_path_buf(),
        None => omnicrm_host::built::component_dir(),
    }
}

/// Runs the demo.
pub async fn run(opts: DemoOptions) -> Result<(), DemoError> {
    let dir = std::env::temp_dir().join(format!(
        "omnicrm-demo-{}",
        hex::encode(rand::random::<[u8; 6]>())
    ));
    std::fs::create_dir_all(&dir).map_err(|e| err(format!("creating {}: {e}", dir.display())))?;
    let result = run_in(&opts, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Which story the demo tells, and what it needs besides the service.
enum Story {
    /// Stripe's (and the offline plugin's), with the offline gateway's webhook secret to sign
    /// its simulated dispute.
    Stripe { offline_secret: Option<String> },
    /// Adyen's, with the base URL of the emulator whose pages the customer visits.
    Adyen { emulator: String },
}

async fn run_in(opts: &DemoOptions, dir: &Path) -> Result<(), DemoError> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| err(e.to_string()))?;
    let addr = listener.local_addr().map_err(|e| err(e.to_string()))?;
    let components = component_dir(opts.components.as_deref());
    let key = generate_api_key();
    let mut config = ServiceConfig::default();
    config.service.database = dir.join("ledger.db");
    config.service.watch_components = false;
    config.service.api_keys = vec![ApiKeyConfig {
        name: "demo".into(),
        sha256: hash_api_key(&key),
        scopes: vec![Scope::Read, Scope::Write],
    }];
    // The console's sign-in, when the service stays up afterwards.
    let console_password = if opts.keep_serving {
        let password = hex::encode(rand::random::<[u8; 9]>());
        config.service.console.users = vec![ConsoleUser {
            name: CONSOLE_USER.into(),
            password_hash: hash_password(&password).map_err(|e| err(e.to_string()))?,
            role: Role::Write,
        }];
        Some(password)
    } else {
        None
    };
    // Kept alive until the story ends.
    let mut _stripe_emulator = None;
    let mut _adyen_emulator = None;
    let (gateway, mode, mut story) = if let Some(path) = &opts.config {
        let file = ServiceConfig::load(path).map_err(|e| err(e.to_string()))?;
        let name = file
            .default_gateway()
            .map(str::to_string)
            .ok_or_else(|| err("the configuration names no default gateway"))?;
        let entry = file.gateways.get(&name);
        // An offline gateway's webhook secret, to sign its (simulated) dispute event.
        let offline_secret = match entry.and_then(|g| g.config.secrets.get("webhook-secret")) {
            Some(SecretSource::Env(var)) => std::env::var(var).ok(),
            _ => None,
        };
        // An Adyen gateway's emulator: where its `base-url` points.
        let emulator = entry.and_then(|g| g.config.settings.get("base-url").cloned());
        let story = match emulator {
            Some(emulator) if name == "adyen" => Story::Adyen { emulator },
            _ => Story::Stripe { offline_secret },
        };
        config.gateways = file.gateways;
        config.service.default_gateway = Some(name.clone());
        let mode = format!("gateway {name} from {}", path.display());
        (name, mode, story)
    } else {
        match opts.gateway.as_str() {
            "offline" => {
                let component = components.join("omnicrm_offline_gateway.wasm");
                check_component(&component)?;
                let secret = format!("whsec_demo_{}", hex::encode(rand::random::<[u8; 12]>()));
                let gc = GatewayConfig::new(component)
                    .with_secret("webhook-secret", SecretSource::value(secret.clone()));
                config
                    .gateways
                    .insert("offline".into(), GatewayEntry::new(gc));
                (
                    "offline".to_string(),
                    "the offline plugin (no network; figures are synthetic)".to_string(),
                    Story::Stripe {
                        offline_secret: Some(secret),
                    },
                )
            }
            "stripe" => {
                let component = components.join("omnicrm_stripe_gateway.wasm");
                check_component(&component)?;
                let (gc, emulator) = stripe::gateway(&component, addr).await?;
                let gc = with_card_form(gc, emulator.as_ref());
                let mode = if emulator.is_some() {
                    "Stripe plugin -> Stripe emulator (in-process; set STRIPE_SECRET_KEY=sk_test_... for Stripe test mode)"
                } else {
                    "Stripe plugin -> Stripe test mode (api.stripe.com)"
                };
                _stripe_emulator = emulator;
                let mut entry = GatewayEntry::new(gc);
                entry.requests_per_second = Some(20.0);
                config.gateways.insert("stripe".into(), entry);
                (
                    "stripe".to_string(),
                    mode.to_string(),
                    Story::Stripe {
                        offline_secret: None,
                    },
                )
            }
            "adyen" => {
                let component = components.join("omnicrm_adyen_gateway.wasm");
                check_component(&component)?;
                let (gc, emulator) = adyen::gateway(&component, addr).await?;
                let base = adyen::emulator_url(&emulator);
                _adyen_emulator = Some(emulator);
                config
                    .gateways
                    .insert("adyen".into(), GatewayEntry::new(gc));
                (
                    "adyen".to_string(),
                    "Adyen plugin -> Adyen emulator (in-process, Checkout API v71)".to_string(),
                    Story::Adyen { emulator: base },
                )
            }
            other => {
                return Err(err(format!(
                    "unknown gateway {other:?}: use stripe, adyen or offline"
                )));
            }
        }
    };
    config.validate().map_err(|e| err(e.to_string()))?;

    println!("OmniCRM Payments demo");
    println!("   {:<22} {mode}", "gateway");
    let runtime_opts = server::runtime_options(&config).map_err(|e| err(e.to_string()))?;
    let service = server::build(&config, runtime_opts)
        .await
        .map_err(|e| err(e.to_string()))?;
    // Only the offline plugin gets a self-signed dispute event (the others simulate their own).
    let is_offline = service
        .gateways
        .get(&gateway)
        .and_then(|g| g.gateway())
        .map(|g| g.describe().name == "offline")
        .unwrap_or(false);
    if let Story::Stripe { offline_secret } = &mut story
        && !is_offline
    {
        *offline_secret = None;
    }
    let running = server::start(&config, service, Some(listener))
        .await
        .map_err(|e| err(e.to_string()))?;
    println!(
        "   {:<22} http://{} (ledger {})",
        "service",
        running.addr,
        config.service.database.display()
    );
    let api = ApiClient::new(format!("http://{}", running.addr), Some(key.clone()));
    let result = match &story {
        Story::Stripe { offline_secret } => {
            stripe::story(&api, &gateway, offline_secret.as_deref(), opts.verbose).await
        }
        Story::Adyen { emulator } => adyen::story(&api, &gateway, emulator, opts.verbose).await,
    };
    if let (Ok(()), Some(password)) = (&result, console_password) {
        println!();
        println!("The service keeps running with the demo's data (Ctrl-C stops it):");
        println!("   {:<22} http://{}/console", "console", running.addr);
        println!("   {:<22} {CONSOLE_USER} / {password}", "sign in");
        println!("   {:<22} {}", "or the API key", key);
        println!(
            "   {:<22} http://{}/v1/ (Authorization: Bearer <the key>)",
            "API", running.addr
        );
        server::shutdown_signal().await;
    }
    running.shutdown().await;
    result
}

/// The console user the demo creates with `keep_serving`.
const CONSOLE_USER: &str = "operator";

/// The Stripe gateway against the in-process emulator gets a publishable key and the emulator's
/// test card form, so that the console's card sessions work offline.
#[cfg(feature = "emulator")]
fn with_card_form(gc: GatewayConfig, emulator: Option<&stripe::Emulator>) -> GatewayConfig {
    match emulator {
        Some(e) => gc
            .with_setting("publishable-key", "pk_test_omnicrm_demo")
            .with_setting(
                "card-form-url",
                format!("{}/_emulator/card-form", e.base_url()),
            ),
        None => gc,
    }
}

/// Without the emulator there is no test card form.
#[cfg(not(feature = "emulator"))]
fn with_card_form(gc: GatewayConfig, _emulator: Option<&stripe::Emulator>) -> GatewayConfig {
    gc
}

fn check_component(path: &Path) -> Result<(), DemoError> {
    if path.exists() {
        Ok(())
    } else {
        Err(err(format!(
            "{} is missing: build the plugins first with `cargo xtask plugins` (or run `cargo xtask demo`)",
            path.display()
        )))
    }
}
