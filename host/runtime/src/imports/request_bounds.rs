//! Bounds on the text a plugin stores in an outgoing request it builds. `wasi:http` keeps the
//! method, authority and path the plugin sets as given, in host memory, for as long as the
//! plugin holds the request: a request handle is charged a fixed size against the call's host
//! buffer budget, so these are bounded to fit that size (a plugin setting a 30 MiB authority on
//! each of a thousand requests would otherwise hold 30 GB of host memory). A value past its
//! bound is refused as `wasi:http` refuses an invalid one; valid requests are far below them.

use super::state::HostState;
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi_http::WasiHttpView;
// The trait whose setters the view implements (its name is the struct's below).
use wasmtime_wasi_http::p2::bindings::http::types::HostOutgoingRequest as _;
use wasmtime_wasi_http::p2::bindings::http::types::Method;
use wasmtime_wasi_http::p2::types::HostOutgoingRequest;

/// The `wasi:http/types` interface the runtime provides (`wasmtime-wasi-http`'s version).
const TYPES: &str = "wasi:http/types@0.2.12";

/// Longest authority (`host:port`): a DNS name is at most 253 bytes.
pub(crate) const MAX_AUTHORITY: usize = 1024;
/// Longest method: names of registered methods are at most 17 bytes.
pub(crate) const MAX_METHOD: usize = 64;
/// Longest path and query: what common servers accept in a request line (8 KiB) and more.
pub(crate) const MAX_PATH_WITH_QUERY: usize = 16 * 1024;

/// Replaces `wasmtime-wasi-http`'s setters of an outgoing request's method, authority and path
/// with ones that refuse values past their bounds, then hand over to `wasmtime-wasi-http`.
pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut types = linker.instance(TYPES)?;
    types.func_wrap(
        "[method]outgoing-request.set-method",
        |mut store: StoreContextMut<'_, HostState>,
         (request, method): (Resource<HostOutgoingRequest>, Method)| {
            if matches!(&method, Method::Other(m) if m.len() > MAX_METHOD) {
                return Ok((Err(()),));
            }
            Ok((store.data_mut().http().set_method(request, method)?,))
        },
    )?;
    types.func_wrap(
        "[method]outgoing-request.set-authority",
        |mut store: StoreContextMut<'_, HostState>,
         (request, authority): (Resource<HostOutgoingRequest>, Option<String>)| {
            if authority.as_ref().is_some_and(|a| a.len() > MAX_AUTHORITY) {
                return Ok((Err(()),));
            }
            Ok((store.data_mut().http().set_authority(request, authority)?,))
        },
    )?;
    types.func_wrap(
        "[method]outgoing-request.set-path-with-query",
        |mut store: StoreContextMut<'_, HostState>,
         (request, path): (Resource<HostOutgoingRequest>, Option<String>)| {
            if path.as_ref().is_some_and(|p| p.len() > MAX_PATH_WITH_QUERY) {
                return Ok((Err(()),));
            }
            Ok((store.data_mut().http().set_path_with_query(request, path)?,))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}
