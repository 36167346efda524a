//! The live gateways: one slot per configured gateway, holding its [`PaymentGateway`] behind a
//! lock that is held only to clone it, the per-gateway limits (concurrency, pacing), retries of
//! calls that did nothing ([`crate::retry`]), and hot reload of component files.
//!
//! A slot is `loading` until its component is compiled and has described itself, then `ready`,
//! or `failed` with the reason. The service may serve while slots load ([`Gateways::configure`],
//! then [`Gateways::load_pending`] in the background): a call to a slot that is not ready fails
//! at once, and the service answers it as such ([`SlotState`]). A failed slot is loaded again
//! when its component file changes.
//!
//! A call clones the slot's current gateway and runs on that clone, so a reload (which swaps
//! the slot's value) never disturbs calls in flight: they finish on the old component, and new
//! calls start on the new one.
//!
//! On a ledger shared by several instances ([`Gateways::share_pacing`]) a gateway's
//! `requests_per_second` holds across all of them: each call also takes its start slot from the
//! ledger ([`crate::ledger::Ledger::pace`]) after the in-process budget admitted it.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::call_budget::CallBudget;
pub use crate::call_budget::{LOOKUP_SHARE, Lane};
use crate::config::{GatewayEntry, ServiceConfig};
use crate::gateway::PaymentGateway;
use crate::ledger::{Db, Ts, now};
use crate::plugin_fault::client_safe;
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

/// Where a slot stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SlotState {
    /// Its component is being compiled and loaded.
    Loading,
    /// Loaded: calls run.
    Ready,
    /// Its component did not load; the reason is in [`GatewayStatus::error`].
    Failed,
}

/// What a slot holds.
#[derive(Clone)]
enum Held {
    Loading {
        since: Ts,
    },
    Failed {
        reason: String,
        at: Ts,
        file_stamp: Option<(SystemTime, u64)>,
    },
    Ready(Loaded),
}

/// What `/gateways` shows about one gateway.
#[derive(Debug, Clone, Serialize)]
pub struct GatewayStatus {
    /// Configured name.
    pub name: String,
    /// Loading, ready or failed.
    pub state: SlotState,
    /// Why it failed to load (a failed slot only).
    pub error: Option<String>,
    /// Since when it is loading, or when it failed (Unix seconds); none once ready.
    pub state_since: Option<Ts>,
    /// The plugin's display name (empty until loaded).
    pub display_name: String,
    /// The plugin's own version (empty until loaded).
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
    current: RwLock<Held>,
    budget: CallBudget,
    calls: AtomicU64,
    failed_calls: AtomicU64,
    /// The pacing shared with the other instances on the same ledger, when there are any.
    shared_pacing: OnceLock<SharedPacing>,
}

/// A gateway's pacing kept in a shared ledger: calls start `interval` apart across instances.
struct SharedPacing {
    db: Db,
    interval: Duration,
}

impl SharedPacing {
    /// Waits for this call's start slot; a ledger that cannot say leaves the in-process pacing
    /// alone in charge.
    async fn wait(&self, gateway: &str) {
        let (name, interval) = (gateway.to_string(), self.interval);
        match self.db.run(move |l| l.pace(&name, interval)).await {
            Ok(wait) => tokio::time::sleep(wait).await,
            Err(e) => tracing::warn!(gateway, error = %e, "shared pacing unavailable"),
        }
    }
}

/// How many calls a gateway's slot made since the service started, and how many failed (each
/// attempt counts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CallCounts {
    /// Calls made.
    pub calls: u64,
    /// Of those, calls that ended in an error (a decline included).
    pub errors: u64,
}

impl GatewaySlot {
    /// The configured name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn held(&self) -> Held {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The gateway loaded now (calls in flight keep their own clone); none while it loads or
    /// after it failed to load.
    pub fn gateway(&self) -> Option<Arc<dyn PaymentGateway>> {
        match &*self.current.read().unwrap_or_else(|p| p.into_inner()) {
            Held::Ready(l) => Some(l.gateway.clone()),
            _ => None,
        }
    }

    /// Loading, ready or failed.
    pub fn state(&self) -> SlotState {
        match &*self.current.read().unwrap_or_else(|p| p.into_inner()) {
            Held::Loading { .. } => SlotState::Loading,
            Held::Ready(_) => SlotState::Ready,
            Held::Failed { .. } => SlotState::Failed,
        }
    }

    /// Why the slot's component failed to load, when it did.
    pub fn load_error(&self) -> Option<String> {
        match &*self.current.read().unwrap_or_else(|p| p.into_inner()) {
            Held::Failed { reason, .. } => Some(reason.clone()),
            _ => None,
        }
    }

    /// What the gateway loaded now declared it supports beyond the common operations (none
    /// until loaded).
    pub fn capabilities(&self) -> Capabilities {
        self.gateway()
            .map(|g| g.capabilities())
            .unwrap_or(Capabilities::empty())
    }

    /// ISO currencies the plugin accepts (empty: any; empty until loaded).
    pub fn currencies(&self) -> Vec<String> {
        self.gateway()
            .map(|g| g.describe().currencies.clone())
            .unwrap_or_default()
    }

    /// The configuration entry.
    pub fn entry(&self) -> &GatewayEntry {
        &self.entry
    }

    /// The calls made through this slot since the service started.
    pub fn call_counts(&self) -> CallCounts {
        CallCounts {
            calls: self.calls.load(Ordering::Relaxed),
            errors: self.failed_calls.load(Ordering::Relaxed),
        }
    }

    /// The status shown by `/gateways`.
    pub fn status(&self) -> GatewayStatus {
        let (state, error, since) = match self.held() {
            Held::Ready(l) => return self.ready_status(l),
            Held::Loading { since } => (SlotState::Loading, None, since),
            Held::Failed { reason, at, .. } => (SlotState::Failed, Some(reason), at),
        };
        GatewayStatus {
            name: self.name.clone(),
            state,
            error,
            state_since: Some(since),
            display_name: String::new(),
            version: String::new(),
            contract_version: String::new(),
            currencies: Vec::new(),
            default: self.is_default,
            component: self.entry.config.component.display().to_string(),
            component_sha256: String::new(),
            loaded_at: 0,
            generation: 0,
            max_concurrency: self.entry.max_concurrency,
            requests_per_second: self.entry.requests_per_second,
            capabilities: Capabilities::empty(),
        }
    }

    fn ready_status(&self, l: Loaded) -> GatewayStatus {
        let info = l.gateway.describe();
        GatewayStatus {
            name: self.name.clone(),
            state: SlotState::Ready,
            error: None,
            state_since: None,
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
                let gateway = self.gateway().ok_or_else(|| {
                    CallError::Host(format!("gateway {} is not loaded", self.name))
                })?;
                let _admitted = self
                    .budget
                    .admit(lane)
                    .await
                    .map_err(|_| CallError::Host("gateway limiter closed".into()))?;
                if let Some(shared) = self.shared_pacing.get() {
                    shared.wait(&self.name).await;
                }
                self.calls.fetch_add(1, Ordering::Relaxed);
                f(gateway)
                    .await
                    .map_err(|e| client_safe(&self.name, what, e))
            };
            if result.is_err() {
                self.failed_calls.fetch_add(1, Ordering::Relaxed);
            }
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
    /// Loads the components; none for gateways given in memory, which never reload.
    runtime: Option<Arc<Runtime>>,
    slots: BTreeMap<String, Arc<GatewaySlot>>,
    default: Option<String>,
    /// Held for reading by every load; [`Gateways::hold_loading`] holds it for writing.
    load_gate: Arc<tokio::sync::RwLock<()>>,
    /// Bumped whenever a slot leaves `loading`.
    settled: tokio::sync::watch::Sender<u64>,
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

/// Why a component did not load, as the operator and `/v1/gateways` see it: the runtime's
/// reason, with a plugin's own failure text (a trap while describing itself) replaced by a
/// reference to the log.
fn load_reason(name: &str, error: &LoadError) -> String {
    match error {
        LoadError::Describe { gateway, source } => format!(
            "gateway `{gateway}` failed to describe itself: {}",
            client_safe(name, "describe", (**source).clone())
        ),
        other => other.to_string(),
    }
}

impl Gateways {
    /// Every configured gateway, none loaded yet: each slot is `loading` until
    /// [`Gateways::load_pending`] loads it.
    pub fn configure(runtime: Arc<Runtime>, config: &ServiceConfig) -> Self {
        let default = config.default_gateway().map(str::to_string);
        let since = now();
        let slots = config
            .gateways
            .iter()
            .map(|(name, entry)| {
                let slot = GatewaySlot {
                    name: name.clone(),
                    is_default: default.as_deref() == Some(name.as_str()),
                    current: RwLock::new(Held::Loading { since }),
                    budget: CallBudget::new(entry),
                    shared_pacing: OnceLock::new(),
                    entry: entry.clone(),
                    calls: AtomicU64::new(0),
                    failed_calls: AtomicU64::new(0),
                };
                (name.clone(), Arc::new(slot))
            })
            .collect();
        Gateways {
            runtime: Some(runtime),
            slots,
            default,
            load_gate: Arc::new(tokio::sync::RwLock::new(())),
            settled: tokio::sync::watch::channel(0).0,
        }
    }

    /// Loads every configured gateway; the first that does not load is the error.
    pub async fn load(
        runtime: Arc<Runtime>,
        config: &ServiceConfig,
    ) -> Result<Self, GatewayLoadError> {
        let gateways = Self::configure(runtime, config);
        match gateways.load_pending().await.into_iter().next() {
            Some(e) => Err(e),
            None => Ok(gateways),
        }
    }

    /// Loads every slot still `loading`, all at once; returns the errors of those that did not
    /// load (they are `failed`, with the reason). Slots already loaded or failed are left alone.
    pub async fn load_pending(&self) -> Vec<GatewayLoadError> {
        let pending: Vec<_> = self
            .slots
            .values()
            .filter(|s| s.state() == SlotState::Loading)
            .map(|s| self.load_slot(s))
            .collect();
        futures_util::future::join_all(pending)
            .await
            .into_iter()
            .filter_map(Result::err)
            .collect()
    }

    /// Loads one slot's component and makes the slot `ready`, or `failed` with the reason.
    async fn load_slot(&self, slot: &GatewaySlot) -> Result<(), GatewayLoadError> {
        let Some(runtime) = &self.runtime else {
            return Ok(());
        };
        let _gate = self.load_gate.read().await;
        let name = slot.name.clone();
        let stamp = file_stamp(&slot.entry.config.component);
        let started = std::time::Instant::now();
        let result = runtime.load(&name, &slot.entry.config).await;
        let held = match &result {
            Ok(gateway) => {
                tracing::info!(
                    gateway = %name,
                    plugin = %gateway.info().name,
                    version = %gateway.info().version,
                    contract = %gateway.contract_version(),
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "gateway loaded"
                );
                None
            }
            Err(e) => {
                tracing::error!(gateway = %name, error = %e, "gateway did not load");
                Some(Held::Failed {
                    reason: load_reason(&name, e),
                    at: now(),
                    file_stamp: stamp,
                })
            }
        };
        let outcome = match result {
            Ok(gateway) => {
                *slot.current.write().unwrap_or_else(|p| p.into_inner()) = Held::Ready(Loaded {
                    sha256: loaded_sha256(&gateway),
                    gateway: Arc::new(gateway),
                    loaded_at: now(),
                    generation: 1,
                    file_stamp: stamp,
                });
                Ok(())
            }
            Err(source) => {
                if let Some(h) = held {
                    *slot.current.write().unwrap_or_else(|p| p.into_inner()) = h;
                }
                Err(GatewayLoadError { name, source })
            }
        };
        self.settled.send_modify(|n| *n += 1);
        outcome
    }

    /// Holds every load that has not started until the guard is dropped (tests use it to see
    /// the service while a slow component compiles; loads take the same path).
    pub async fn hold_loading(&self) -> tokio::sync::OwnedRwLockWriteGuard<()> {
        self.load_gate.clone().write_owned().await
    }

    /// Whether no slot is `loading`.
    pub fn all_settled(&self) -> bool {
        self.slots.values().all(|s| s.state() != SlotState::Loading)
    }

    /// Waits until no slot is `loading` (each is ready or failed).
    pub async fn wait_settled(&self) {
        let mut rx = self.settled.subscribe();
        while !self.all_settled() {
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// Paces each gateway's calls across every instance sharing `db`'s ledger (a ledger of one
    /// process leaves the in-process pacing alone).
    pub fn share_pacing(&self, db: &Db) {
        if !db.ledger().shared() {
            return;
        }
        for slot in self.slots.values() {
            let rate = slot.entry.requests_per_second;
            if let Some(rate) = rate.filter(|r| r.is_finite() && *r > 0.0) {
                let _ = slot.shared_pacing.set(SharedPacing {
                    db: db.clone(),
                    interval: Duration::from_secs_f64(1.0 / rate),
                });
            }
        }
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
                    current: RwLock::new(Held::Ready(Loaded {
                        gateway,
                        sha256: String::new(),
                        loaded_at: now(),
                        generation: 1,
                        file_stamp: None,
                    })),
                    budget: CallBudget::new(&entry),
                    shared_pacing: OnceLock::new(),
                    entry,
                    calls: AtomicU64::new(0),
                    failed_calls: AtomicU64::new(0),
                };
                (name, Arc::new(slot))
            })
            .collect();
        Gateways {
            runtime: None,
            slots,
            default,
            load_gate: Arc::new(tokio::sync::RwLock::new(())),
            settled: tokio::sync::watch::channel(0).0,
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
        let old_stamp = match slot.held() {
            Held::Ready(l) => l.file_stamp,
            // Still loading: the load under way reads the file.
            Held::Loading { .. } => return Ok(false),
            Held::Failed { file_stamp, .. } => {
                if stamp.is_none() || stamp == file_stamp {
                    return Ok(false);
                }
                // A failed component was replaced: load it as at start-up.
                *slot.current.write().unwrap_or_else(|p| p.into_inner()) =
                    Held::Loading { since: now() };
                return self.load_slot(&slot).await.map(|()| true);
            }
        };
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
        let mut held = slot.current.write().unwrap_or_else(|p| p.into_inner());
        let Held::Ready(current) = &mut *held else {
            return Ok(false);
        };
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
