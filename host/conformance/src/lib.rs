//! The OmniCRM conformance kit: loads any gateway component through the real runtime
//! (`omnicrm_host`) and checks the promises of the `omnicrm:payments@0.2` contract, with the kit
//! sitting in the runtime's outbound path (see [`omnicrm_host::OutboundInterceptor`]) to watch
//! every request the plugin sends and inject network faults into them.
//!
//! `omnicrm-pay conformance --component G.wasm --config G.toml --fixtures F.toml [--cache-dir
//! DIR] [--junit out.xml] [--json out.json]` runs it; [`run`] is the same from Rust.
//!
//! # What is checked
//!
//! Each check has a stable id (`<area>.<name>`) and ends passed, failed (with the reason), or
//! not applicable (with the reason: a capability the gateway does not declare, or a fixture the
//! author did not give; not counted as passed):
//!
//! - `setup.*`, `exports.*`, `capabilities.*`: a customer and a card can be set up; every export
//!   answers within its deadline without trapping or breaking the contract; `invoicing` and
//!   `metrics` are declared exactly when exported, and declared lookups are not `unsupported`.
//! - `idempotency.*`: the same key returns the same customer, payment (money moved once) and
//!   refund; a new key charges again.
//! - `input.*`, `references.*`: invalid input names the field; references the gateway never
//!   issued are `not-found`; another customer's card is refused (`not-found`, or `invalid-input`
//!   naming `card`).
//! - `bounds.*`: no capture above the authorization, no refund above the capture.
//! - `declines.*`: a decline carries the payment's reference and a normalized category; a card
//!   that needs the customer is `action-required` with the waiting payment.
//! - `faults.*`: connection refused, reset after sending, 500, 429 with `Retry-After`, a slow
//!   answer, each injected into every request of a charge: classified as `not-attempted`,
//!   `outcome-unknown` or `rate-limited`, retried only safely, settled by repeating the key.
//! - `webhooks.*`: a good signature normalizes; a wrong one, a stale one and a replay change
//!   nothing.
//! - `outbound.*`: over the whole run, the plugin never set `Authorization` (or the host's
//!   credential header) and never called a host outside its allow-list.
//!
//! # The fixture file
//!
//! ```toml
//! currency = "USD"                  # the test charges' currency (required)
//! amount = 2000                     # their amount in minor units (default 2000)
//!
//! [cards]                           # tokens the gateway's card form hands back
//! succeeds = "pm_card_visa"         # required
//! declines = "pm_card_chargeDeclined"               # optional: declines.reference-and-category
//! decline_category = "do-not-honor"                 # optional: the category it must carry
//! customer_action = "pm_card_authenticationRequired" # optional: declines.customer-action
//!
//! [references]                      # references in the gateway's format that name nothing
//! payment = "pi_conformance_missing"  # defaults: conformance_missing_payment, ...
//! refund = "re_conformance_missing"
//! customer = "cus_conformance_missing"      # "" when the gateway has no customer objects
//!
//! [outbound]
//! idempotency_header = "idempotency-key"   # the header carrying the key on the wire (default)
//!
//! [faults]
//! slow_response_ms = 1500           # how long a slow answer is held back (default 1500)
//! retry_after_secs = 2              # the injected 429's Retry-After (default 2)
//!
//! [webhooks]                        # optional: how the gateway signs (the kit plays the gateway)
//! secret_name = "webhook-secret"    # the secret the plugin verifies with: set to `secret` for the run
//! secret = "whsec_conformance"
//! algorithm = "hmac-sha256"         # or hmac-sha512, hmac-sha1
//! key_encoding = "raw"              # or hex, base64
//! signature_encoding = "hex"        # or base64
//! signed_payload = "{timestamp}.{body}"
//! tolerance_secs = 300              # optional: the stale check signs 10x older
//! event_id = "evt_conformance_1"    # the id the good sample normalizes to
//! body = '{"id": "evt_conformance_1", "created": {timestamp}, "type": "..."}'
//! [webhooks.headers]
//! stripe-signature = "t={timestamp},v1={signature}"
//! content-type = "application/json"
//! ```
//!
//! Templates take `{timestamp}` and `{signature}` (and `{body}` in `signed_payload`); `${NAME}`
//! anywhere is replaced by a variable or the environment (see [`fixtures`]).

pub mod cli;
pub mod faults;
pub mod fixtures;
pub mod kit;
pub mod report;
pub mod wiretap;

mod checks;

use fixtures::{FixtureError, Fixtures};
use kit::Kit;
use omnicrm_host::{
    GatewayConfig, GatewaysFile, OutboundAuth, Runtime, RuntimeOptions, SecretSource,
};
use report::Report;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wiretap::Wiretap;

/// What to run the kit on.
#[derive(Debug, Clone)]
pub struct Target {
    /// The gateway's name (the key of its `[gateways.NAME]` table).
    pub name: String,
    /// Its configuration: component, allowed hosts, auth, secrets, settings, limits.
    pub config: GatewayConfig,
    /// The author's fixtures.
    pub fixtures: Fixtures,
    /// An extra trusted CA (PEM) for a test server over TLS.
    pub extra_ca_pem: Option<Vec<u8>>,
    /// Where to cache compiled components (none: compile every run).
    pub cache_dir: Option<PathBuf>,
}

/// Why the kit could not run (a check failing is not an error: see [`Report`]).
#[derive(Debug, thiserror::Error)]
pub enum KitError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The gateway configuration file is invalid.
    #[error("{path}: {reason}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The fixture file is invalid.
    #[error("{path}: {source}")]
    Fixtures {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: FixtureError,
    },
    /// The runtime could not be created.
    #[error(transparent)]
    Runtime(#[from] omnicrm_host::RuntimeError),
    /// The component could not be loaded (not a gateway, invalid configuration, ...).
    #[error(transparent)]
    Load(#[from] omnicrm_host::LoadError),
}

/// Reads a target from files: the gateway configuration (a file with one `[gateways.NAME]`
/// table, or several and `gateway` naming one), the component (overriding the file's
/// `component`) and the fixtures. `${NAME}` in both files is replaced from `vars` or the
/// environment.
pub fn target_from_files(
    component: &Path,
    config: &Path,
    gateway: Option<&str>,
    fixtures: &Path,
    vars: &BTreeMap<String, String>,
) -> Result<Target, KitError> {
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|source| KitError::Read {
            path: path.to_owned(),
            source,
        })
    };
    let bad_config = |reason: String| KitError::Config {
        path: config.to_owned(),
        reason,
    };
    let text = fixtures::expand(&read(config)?, vars).map_err(|e| bad_config(e.to_string()))?;
    let mut file = GatewaysFile::from_toml_str(&text).map_err(|e| bad_config(e.to_string()))?;
    let name = match gateway {
        Some(name) => name.to_owned(),
        None if file.gateways.len() == 1 => {
            file.gateways.keys().next().cloned().unwrap_or_default()
        }
        None => {
            return Err(bad_config(format!(
                "name the gateway to check (--gateway): the file configures {}",
                if file.gateways.is_empty() {
                    "none".to_string()
                } else {
                    file.gateways.keys().cloned().collect::<Vec<_>>().join(", ")
                }
            )));
        }
    };
    let mut gateway_config = file
        .gateways
        .remove(&name)
        .ok_or_else(|| bad_config(format!("no [gateways.{name}] table")))?;
    gateway_config.component = component.to_owned();
    let fixtures =
        Fixtures::parse(&read(fixtures)?, vars).map_err(|source| KitError::Fixtures {
            path: fixtures.to_owned(),
            source,
        })?;
    Ok(Target {
        name,
        config: gateway_config,
        fixtures,
        extra_ca_pem: None,
        cache_dir: None,
    })
}

/// Loads the target's component through the runtime, with the kit in its outbound path, and
/// runs every check.
pub async fn run(target: Target) -> Result<Report, KitError> {
    let Target {
        name,
        mut config,
        fixtures,
        extra_ca_pem,
        cache_dir,
    } = target;
    if let Some(webhooks) = &fixtures.webhooks {
        config.secrets.insert(
            webhooks.secret_name.clone(),
            SecretSource::value(webhooks.secret.clone()),
        );
    }
    let credential_header = match &config.auth {
        OutboundAuth::Header { name, .. } => Some(name.clone()),
        _ => None,
    };
    let wiretap = Arc::new(Wiretap::new(
        &fixtures.outbound.idempotency_header,
        credential_header.as_deref(),
    ));
    let defaults = RuntimeOptions::default();
    let runtime = Runtime::new(RuntimeOptions {
        cache_dir,
        extra_ca_pem,
        max_instances: 16,
        // The service's memory slots (the default, unless the gateway asks for more): the
        // compiled artifact depends on them, so the same cache directory serves the kit, the
        // service and other runtimes with the default options without compiling twice.
        max_memory_mib: config.limits.memory_mib.max(defaults.max_memory_mib),
        outbound_interceptor: Some(wiretap.clone()),
        ..defaults
    })?;
    let component = std::fs::read(&config.component).map_err(|source| KitError::Read {
        path: config.component.clone(),
        source,
    })?;
    let gateway = runtime.load(&name, &config).await?;
    let info = gateway.info().clone();
    let contract = gateway.contract_version().to_owned();
    let kit = Kit::new(gateway, fixtures, wiretap, component);
    let checks = checks::run_all(&kit).await;
    Ok(Report {
        gateway: format!("{} {}", info.name, info.version),
        contract,
        checks,
    })
}
