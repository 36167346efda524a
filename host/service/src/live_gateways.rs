//! The live gateways: one slot per configured gateway, holding its [`PaymentGateway`] behind a
//! lock that is held only to clone it, the per-gateway limits (concurrency, pacing), retries of
//! calls that did nothing ([`crate::retry`]), and hot reload of component files.
//!
//! A call clones the slot's current gateway and runs on that clone, so a reload (which swaps
//! the slot's value) never disturbs calls in flight: they finish on the old component, and new
//! calls start on the new one.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::call_budget::CallBudget;
pub use crate::call_budget::{LOOKUP_SHARE, Lane};
use crate::config::{GatewayEntry, ServiceConfig};
use crate::gateway::PaymentGateway;
use crate::ledger::{Ts, now};
use crate::retry::{RetryPolicy, retryable};
use omnicrm_host::contract::{Capabilities, GatewayError};
use omnicrm_host::error::{CallError, LoadError};
use omnicrm_host::gateway::Gateway;
use omnicrm_host::runtime::Runtime;

/// A gateway that could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("gateway {name}: {source}")]
pub struct GatewayLoadError {
    /// The gateway's configured name.
    pub name: String,
    /// Why.
    #[source]
    pub source: LoadError,
}

/// The loaded component of a slot.
#[derive(Clone)]
struct Loaded {
    gateway: Arc<dyn PaymentGateway>,
    sha256: String,
    loaded_at: Ts,
    generation: u64,
    file_stamp: Option<(SystemTime, u64)>,
}

/// What `/gateways` shows about one gateway.
#[derive(Debug, Clone, Serialize)]
pub struct GatewayStatus {
    /// Configured name.
    pub name: String,
    /// The plugin's display name.
    pub display_name: String,
    /// The plugin's own version.
    pub version: String,
    /// The contract version the plugin was built against.
    pub contract_version: String,
    /// Currencies the gateway accepts (empty: any).
    pub currencies: Vec<String>,
    /// Whether it is the default gateway.
    pub default: bool,
    /// The component file.
    pub component: String,
    /// SHA-256 of the loaded component.
    pub component_sha256: String,
    /// When it was (re)loaded.
    pub loaded_at: Ts,
    /// How many times it was loaded (1 + reloads).
    pub generation: u64,
    /// Calls in flight at once, at most.
    pub max_concurrency: usize,
    /// Calls per second, at most.
    pub requests_per_second: Option<f64>,
    /// What the gateway declared it supports beyond the common operations (WIT names).
    pub capabilities: Capabilities,
}

/// One configured gateway.
pub struct GatewaySlot {
    name: String,
    entry: GatewayEntry,
    is_default: bool,
    current: RwLock<Loaded>,
    budget: CallBudget,
}

impl GatewaySlot {
    /// The configured name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The gateway loaded now (calls in flight keep their own clone).
    pub fn gateway(&self) -> Arc<dyn PaymentGateway> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .gateway
            .clone()
    }

    /// What the gateway loaded now declared it supports beyond the common operations.
    pub fn capabilities(&self) -> Capabilities {
        self.gateway().capabilities()
    }

    /// ISO currencies the plugin accepts (empty: any).
    pub fn currencies(&self) -> Vec<String> {
        self.gateway().describe().currencies.clone()
    }

    /// The configuration entry.
    pub fn entry(&self) -> &GatewayEntry {
        &self.entry
    }

    /// The status shown by `/gateways`.
    pub fn status(&self) -> GatewayStatus {
        let l = self
            .current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let info = l.gateway.describe();
        GatewayStatus {
            name: self.name.clone(),
            display_name: info.display_name.clone(),
            version: info.version.clone(),
            contract_version: l.gateway.contract_version().to_string(),
            currencies: info.currencies.clone(),
            default: self.is_default,
            component: self.entry.config.component.display().to_string(),
            component_sha256: l.sha256,
            loaded_at: l.loaded_at,
            generation: l.generation,
            max_concurrency: self.entry.max_concurrency,
            requests_per_second: self.entry.requests_per_second,
            capabilities: info.capabilities,
        }
    }

    /// Runs one gateway call within the slot's limits, in the foreground lane (calls that move
    /// money or answer a caller): see [`GatewaySlot::call_in`].
    pub async fn call<T, F, Fut>(
        &self,
        what: &str,
        policy: RetryPolicy,
        f: F,
    ) -> Result<T, CallError>
    where
        F: Fn(Arc<dyn PaymentGateway>) -> Fut,
        Fut: std::future::Future<Output = Result<T, CallError>>,
    {
        self.call_in(Lane::Foreground, what, policy, f).await
    }

    /// Runs one gateway call within the slot's limits, drawing on `lane`'s budget (lookups have
    /// their own share, so they never starve charges: see [`crate::call_budget`]), repeating it
    /// (with the same inputs, hence the same idempotency key) while the gateway says nothing
    /// happened, up to the policy's attempts. Each attempt runs on the gateway loaded when it
    /// starts.
    pub async fn call_in<T, F, Fut>(
        &self,
        lane: Lane,
        what: &str,
        policy: RetryPolicy,
        f: F,
    ) -> Result<T, CallError>
    where
        F: Fn(Arc<dyn PaymentGateway>) -> Fut,
        Fut: std::future::Future<Output = Result<T, CallError>>,
    {
        let mut attempt = 0;
        loop {
            let result = {
                let _admitted = self
                    .budget
                    .admit(lane)
                    .await
                    .map_err(|_| CallError::Host("gateway limiter closed".into()))?;
                f(self.gateway()).await
            };
            match result {
                Err(e) if attempt + 1 < policy.attempts.max(1) => match retryable(&e) {
                    Some(hint) => {
                        let delay = policy.delay(attempt, hint);
                        if matches!(e, CallError::Gateway(GatewayError::RateLimited(_))) {
                            self.budget.push_back(delay);
                        }
                        tracing::debug!(gateway = %self.name, call = what, error = %e, ?delay, "retrying a call that did nothing");
                        tokio::time::sleep(delay).await;
                        attempt += 1;
                    }
                    None => return Err(e),
                },
                other => return other,
            }
        }
    }
}

/// Every configured gateway.
pub struct Gateways {
    /// Loads changed component files; none for gateways given in memory, which never reload.
    runtime: Option<Arc<Runtime>>,
    slots: BTreeMap<String, Arc<GatewaySlot>>,
    default: Option<String>,
}

fn file_stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// The SHA-256 of the bytes the gateway was compiled from (not of the file now on disk, which a
/// build may be rewriting).
fn loaded_sha256(gateway: &Gateway) -> String {
    gateway
        .load_info()
        .map(|info| info.component_sha256.clone())
        .unwrap_or_default()
}

impl Gateways {
    /// Loads every configured gateway.
    pub async fn load(
        runtime: Arc<Runtime>,
        config: &ServiceConfig,
    ) -> Result<Self, GatewayLoadError> {
        let default = config.default_gateway().map(str::to_string);
        let mut slots = BTreeMap::new();
        for (name, entry) in &config.gateways {
            let stamp = file_stamp(&entry.config.component);
            let gateway =
                runtime
                    .load(name, &entry.config)
                    .await
                    .map_err(|source| GatewayLoadError {
                        name: name.clone(),
                        source,
                    })?;
            tracing::info!(
                gateway = %name,
                plugin = %gateway.info().name,
                version = %gateway.info().version,
                contract = %gateway.contract_version(),
                "gateway loaded"
            );
            slots.insert(
                name.clone(),
                Arc::new(GatewaySlot {
                    name: name.clone(),
                    is_default: default.as_deref() == Some(name.as_str()),
                    current: RwLock::new(Loaded {
                        sha256: loaded_sha256(&gateway),
                        gateway: Arc::new(gateway),
                        loaded_at: now(),
                        generation: 1,
                        file_stamp: stamp,
                    }),
                    budget: CallBudget::new(entry),
                    entry: entry.clone(),
                }),
            );
        }
        Ok(Gateways {
            runtime: Some(runtime),
            slots,
            default,
        })
    }

    /// Gateways given in memory (a scripted fake in tests, a gateway built by the caller): each
    /// with its name and configuration entry (for its limits). They are never reloaded.
    pub fn from_gateways(
        gateways: Vec<(String, GatewayEntry, Arc<dyn PaymentGateway>)>,
        default: Option<String>,
    ) -> Self {
        let slots = gateways
            .into_iter()
            .map(|(name, entry, gateway)| {
                let slot = GatewaySlot {
                    name: name.clone(),
                    is_default: default.as_deref() == Some(name.as_str()),
                    current: RwLock::new(Loaded {
                        gateway,
                        sha256: String::new(),
                        loaded_at: now(),
                        generation: 1,
                        file_stamp: None,
                    }),
                    budget: CallBudget::new(&entry),
                    entry,
                };
                (name, Arc::new(slot))
            })
            .collect();
        Gateways {
            runtime: None,
            slots,
            default,
        }
    }

    /// A gateway by name.
    pub fn get(&self, name: &str) -> Option<Arc<GatewaySlot>> {
        self.slots.get(name).cloned()
    }

    /// The default gateway's name.
    pub fn default_name(&self) -> Option<&str> {
        self.default.as_deref()
    }

    /// Every gateway's name.
    pub fn names(&self) -> Vec<String> {
        self.slots.keys().cloned().collect()
    }

    /// Statuses of every gateway.
    pub fn statuses(&self) -> Vec<GatewayStatus> {
        self.slots.values().map(|s| s.status()).collect()
    }

    /// Checks one gateway's component file and reloads it when its content changed. Returns
    /// whether it was swapped. A file that does not load (half-written, broken) leaves the
    /// running gateway in place; it is tried again at the next check.
    pub async fn reload_if_changed(&self, name: &str) -> Result<bool, GatewayLoadError> {
        let (Some(slot), Some(runtime)) = (self.get(name), &self.runtime) else {
            return Ok(false);
        };
        let path = slot.entry.config.component.clone();
        let stamp = file_stamp(&path);
        let old_stamp = slot
            .current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .file_stamp;
        if stamp.is_none() || stamp == old_stamp {
            return Ok(false);
        }
        // An unchanged component comes back from the runtime's memory at no cost.
        let gateway = runtime
            .load(name, &slot.entry.config)
            .await
            .map_err(|source| GatewayLoadError {
                name: name.to_string(),
                source,
            })?;
        let sha = loaded_sha256(&gateway);
        let mut current = slot.current.write().unwrap_or_else(|p| p.into_inner());
        if sha == current.sha256 {
            current.file_stamp = stamp;
            return Ok(false);
        }
        let generation = current.generation + 1;
        tracing::info!(
            gateway = %name,
            plugin = %gateway.info().name,
            version = %gateway.info().version,
            generation,
            "gateway component changed: reloaded"
        );
        *current = Loaded {
            gateway: Arc::new(gateway),
            sha256: sha,
            loaded_at: now(),
            generation,
            file_stamp: stamp,
        };
        Ok(true)
    }

    /// Checks every component file every `interval` until `shutdown` fires.
    pub async fn watch(
        self: Arc<Self>,
        interval: Duration,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut failed: BTreeMap<String, (SystemTime, u64)> = BTreeMap::new();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = shutdown.changed() => return,
            }
            for name in self.names() {
                let stamp = self
                    .get(&name)
                    .and_then(|s| file_stamp(&s.entry.config.component));
                if let (Some(s), Some(f)) = (stamp, failed.get(&name))
                    && s == *f
                {
                    continue; // the same broken file: wait for the next change
                }
                match self.reload_if_changed(&name).await {
                    Ok(_) => {
                        failed.remove(&name);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "the new component did not load; the running one stays");
                        if let Some(s) = stamp {
                            failed.insert(name.clone(), s);
                        }
                    }
                }
            }
        }
    }
}
