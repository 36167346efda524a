//! What the host provides to plugins: the state of each call's store, the sandboxed WASI and
//! `wasi:http` it reaches them through, and one module per import of the contract (`config`,
//! `logging`, `credentials` with the MACs of `mac`, `call_context`; `types` holds only types),
//! the limit on what plugins write to the log (`output`), and the bounds on what they store in
//! the requests they build (`request_bounds`).
//! Each module implements the import of every supported contract version, one implementation
//! behind all of them.

mod call_context;
mod clock;
mod config;
mod credentials;
mod limiter;
mod logging;
mod mac;
mod output;
mod request_bounds;
mod state;
mod wasi;

pub(crate) use clock::HostClock;
pub(crate) use state::{GatewayShared, HostState};

use crate::contract::{v0_1, v0_2};
use wasmtime::Engine;
use wasmtime::component::Linker;

impl v0_1::bindings::omnicrm::payments::types::Host for HostState {}
impl v0_2::bindings::omnicrm::payments::types::Host for HostState {}

/// The linker of a runtime: WASI 0.2 (sandboxed by each call's context), `wasi:http`'s
/// outgoing handler (through the outbound hooks) and the contract's imports of every supported
/// version. `validate` accepts exactly these imports.
pub(crate) fn new_linker(engine: &Engine) -> Result<Linker<HostState>, String> {
    let mut linker: Linker<HostState> = Linker::new(engine);
    let err = |e: wasmtime::Error| format!("{e:#}");
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(err)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(err)?;
    request_bounds::add_to_linker(&mut linker).map_err(err)?;
    crate::contract::add_to_linker(&mut linker).map_err(err)?;
    Ok(linker)
}
