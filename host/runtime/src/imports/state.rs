//! The data of one call's store, and the WASI and `wasi:http` views wasmtime's host
//! implementations reach it through.

use super::clock::HostClock;
use super::limiter::GuestLimiter;
use super::output::OutputGate;
use super::wasi::sandboxed_wasi;
use crate::diagnostics::{Diagnostics, HANDLE_BYTES};
use crate::outbound::CallHooks;
use crate::secrets::SecretStore;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// The gateway-wide facts every call's state refers to.
pub(crate) struct GatewayShared {
    pub(in crate::imports) name: Arc<str>,
    pub(in crate::imports) settings: BTreeMap<String, String>,
    pub(in crate::imports) secrets: Arc<SecretStore>,
    pub(in crate::imports) output: OutputGate,
}

impl GatewayShared {
    /// The gateway `name`, with its settings (visible to the plugin) and secrets (never), whose
    /// calls may log `log_bytes_per_second` together.
    pub(crate) fn new(
        name: Arc<str>,
        settings: BTreeMap<String, String>,
        secrets: Arc<SecretStore>,
        log_bytes_per_second: u32,
    ) -> Self {
        GatewayShared {
            name,
            settings,
            secrets,
            output: OutputGate::new(log_bytes_per_second),
        }
    }

    /// The name the gateway was loaded under.
    pub(crate) fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// Log lines and bytes of the gateway's plugin dropped since it was loaded.
    pub(crate) fn log_dropped(&self) -> (u64, u64) {
        self.output.dropped()
    }
}

/// The data of one call's `Store`.
pub(crate) struct HostState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: CallHooks,
    limiter: GuestLimiter,
    pub(in crate::imports) shared: Arc<GatewayShared>,
    pub(in crate::imports) diagnostics: Arc<Diagnostics>,
    /// `call-context.deadline`, in the guest's monotonic clock.
    pub(in crate::imports) deadline: u64,
}

impl HostState {
    /// The state of one call of the gateway `shared`, with `memory_limit` bytes of linear
    /// memory, due at `deadline`, whose measures go to `diagnostics` and outbound requests
    /// through `hooks`.
    pub(crate) fn new(
        shared: &Arc<GatewayShared>,
        hooks: CallHooks,
        clock: HostClock,
        deadline: Instant,
        memory_limit: usize,
        diagnostics: Arc<Diagnostics>,
    ) -> HostState {
        let wasi = sandboxed_wasi(shared, clock, &diagnostics);
        let mut http = WasiHttpCtx::new();
        http.set_field_size_limit(HANDLE_BYTES);
        let mut table = ResourceTable::new();
        table.set_max_capacity(diagnostics.count_handles(0));
        HostState {
            wasi,
            http,
            table,
            hooks,
            limiter: GuestLimiter::new(memory_limit, diagnostics.clone()),
            shared: shared.clone(),
            diagnostics,
            deadline: clock.instant_of(deadline),
        }
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
    /// Every `wasi:http` call starts here: the handles the plugin holds are counted against its
    /// host buffers, and the table may grow only by what the budget has room for.
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        let handles = self.table.iter_mut().count();
        self.table
            .set_max_capacity(self.diagnostics.count_handles(handles));
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}
