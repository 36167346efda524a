//! The contract's exports of one loaded component, looked up once at load time.
//!
//! The generated `GatewayPre::instantiate_async` loads every export of the world into each new
//! instance: 21 functions found and type-checked per call, a few microseconds that
//! every call paid for one function. Here the export indices are resolved once per gateway,
//! and a call loads only the interface it calls (`tokens::GuestIndices::load` and so on).
//!
//! Type-checking per interface is sound because the check is of the component's types, which
//! every instance of one `InstancePre` shares: the whole world is type-checked once, when the
//! gateway is loaded (the `info.describe` call loads [`Exports::world`]), and the per-call
//! loads repeat only the small check of the interface they use.

use crate::contract::bindings::GatewayIndices;
use crate::contract::bindings::exports::omnicrm::payments::{
    charging, invoicing, metrics, tokens, webhooks,
};
use wasmtime::component::InstancePre;

/// Export indices of one component, per exported interface.
pub(crate) struct Exports {
    /// Every export of the world (all interfaces, fully type-checked): used at load time.
    pub(crate) world: GatewayIndices,
    pub(crate) tokens: tokens::GuestIndices,
    pub(crate) charging: charging::GuestIndices,
    pub(crate) invoicing: invoicing::GuestIndices,
    pub(crate) metrics: metrics::GuestIndices,
    pub(crate) webhooks: webhooks::GuestIndices,
}

impl Exports {
    /// Looks every contract export of `pre`'s component up. Fails if one is missing.
    pub(crate) fn new<T>(pre: &InstancePre<T>) -> wasmtime::Result<Exports> {
        Ok(Exports {
            world: GatewayIndices::new(pre)?,
            tokens: tokens::GuestIndices::new(pre)?,
            charging: charging::GuestIndices::new(pre)?,
            invoicing: invoicing::GuestIndices::new(pre)?,
            metrics: metrics::GuestIndices::new(pre)?,
            webhooks: webhooks::GuestIndices::new(pre)?,
        })
    }
}
