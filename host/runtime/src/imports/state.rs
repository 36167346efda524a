//! The data of one call's store, and the WASI and `wasi:http` views wasmtime's host
//! implementations reach it through.

use super::clock::HostClock;
use super::diagnostics::Diagnostics;
use super::limiter::GuestLimiter;
use super::wasi::sandboxed_wasi;
use crate::outbound::OutboundHooks;
use crate::secrets::SecretStore;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// Most resources (HTTP requests, streams, fields, ...) a guest may hold at once in one call.
const MAX_RESOURCES: usize = 4096;
/// Roughly the most bytes of headers a guest may build in one `fields` resource.
const MAX_FIELD_BYTES: usize = 64 * 1024;

/// The gateway-wide facts every call's state refers to.
pub(crate) struct GatewayShared {
    pub(in crate::imports) name: Arc<str>,
    pub(in crate::imports) settings: BTreeMap<String, String>,
    pub(in crate::imports) secrets: Arc<SecretStore>,
}

impl GatewayShared {
    /// The gateway `name`, with its settings (visible to the plugin) and secrets (never).
    pub(crate) fn new(
        name: Arc<str>,
        settings: BTreeMap<String, String>,
        secrets: Arc<SecretStore>,
    ) -> Self {
        GatewayShared {
            name,
            settings,
            secrets,
        }
    }

    /// The name the gateway was loaded under.
    pub(crate) fn name(&self) -> &Arc<str> {
        &self.name
    }
}

/// The data of one call's `Store`.
pub(crate) struct HostState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: OutboundHooks,
    limiter: GuestLimiter,
    pub(in crate::imports) shared: Arc<GatewayShared>,
    /// `call-context.deadline`, in the guest's monotonic clock.
    pub(in crate::imports) deadline: u64,
}

impl HostState {
    /// The state of one call of the gateway `shared`, with `memory_limit` bytes of linear
    /// memory, due at `deadline`; and the diagnostics it leaves behind.
    pub(crate) fn new(
        shared: &Arc<GatewayShared>,
        hooks: OutboundHooks,
        clock: HostClock,
        deadline: Instant,
        memory_limit: usize,
    ) -> (HostState, Arc<Diagnostics>) {
        let diagnostics = Arc::new(Diagnostics::default());
        let wasi = sandboxed_wasi(&shared.name, clock, &diagnostics);
        let mut http = WasiHttpCtx::new();
        http.set_field_size_limit(MAX_FIELD_BYTES);
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_RESOURCES);
        let state = HostState {
            wasi,
            http,
            table,
            hooks,
            limiter: GuestLimiter::new(memory_limit, diagnostics.clone()),
            shared: shared.clone(),
            deadline: clock.instant_of(deadline),
        };
        (state, diagnostics)
    }

    /// The store's resource limiter.
    pub(crate) fn limiter(&mut self) -> &mut dyn ResourceLimiter {
        &mut self.limiter
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}
