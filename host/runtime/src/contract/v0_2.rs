//! Contract version 0.2 (`omnicrm:payments@0.2.x`), the newest: its bindings (whose types are the
//! runtime's public model, re-exported by [`crate::contract`]), the interfaces a component of this
//! version must or may export and may import, and the export indices the host resolves once per
//! loaded gateway.

use super::version::Version;
use wasmtime::component::{HasSelf, InstancePre, Linker};

/// The raw output of `wasmtime::component::bindgen!` for the world
/// `omnicrm:payments/full-gateway` at version 0.2.0: every interface of the contract, the
/// optional `invoicing` and `metrics` included (a component exporting fewer is served by the
/// same bindings, interface by interface).
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "omnicrm:payments/full-gateway",
        imports: { default: async },
        exports: { default: async },
        require_store_data_send: true,
        additional_derives: [serde::Serialize, serde::Deserialize, PartialEq, Eq],
        with: {
            "wasi:io": wasmtime_wasi::p2::bindings::io,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        },
    });
}

use bindings::exports::omnicrm::payments::{charging, info, invoicing, metrics, tokens, webhooks};
use bindings::omnicrm::payments::{call_context, config, credentials, logging, types};

/// The version of the WIT these bindings are generated from.
pub(crate) const VERSION: &str = "0.2.0";

/// The oldest component version these bindings serve: [`VERSION`].
pub(crate) const MIN_VERSION: Version = Version::new(0, 2, 0);

/// The first component version these bindings do not serve (`0.3.0`): they serve the `0.2`
/// line, whose versions differ only in additions these bindings do not call.
pub(crate) const MAX_VERSION: Version = MIN_VERSION.next_breaking();

/// The interfaces every gateway of this version exports (world `gateway`).
pub(crate) const REQUIRED_EXPORTS: &[&str] = &["info", "tokens", "charging", "webhooks"];

/// The interfaces a gateway of this version may export, each with the capability that declares
/// it (worlds `gateway-with-invoicing`, `gateway-with-metrics`, `full-gateway`).
pub(crate) const OPTIONAL_EXPORTS: &[&str] = &["invoicing", "metrics"];

/// The interfaces of this version the host provides to plugins.
pub(crate) const PROVIDED_IMPORTS: &[&str] =
    &["types", "config", "logging", "credentials", "call-context"];

/// The host side of this version's imports, as the store data implements it.
pub(crate) trait Imports:
    types::Host + config::Host + logging::Host + credentials::Host + call_context::Host + Send + 'static
{
}

impl<T> Imports for T where
    T: types::Host
        + config::Host
        + logging::Host
        + credentials::Host
        + call_context::Host
        + Send
        + 'static
{
}

/// Defines this version's imports in `linker`, implemented by the store data itself.
pub(crate) fn add_to_linker<T: Imports>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    types::add_to_linker::<_, HasSelf<_>>(linker, |s| s)?;
    config::add_to_linker::<_, HasSelf<_>>(linker, |s| s)?;
    logging::add_to_linker::<_, HasSelf<_>>(linker, |s| s)?;
    credentials::add_to_linker::<_, HasSelf<_>>(linker, |s| s)?;
    call_context::add_to_linker::<_, HasSelf<_>>(linker, |s| s)?;
    Ok(())
}

/// The export indices of one component of this version, per exported interface.
pub(crate) struct Exports {
    pub(crate) info: info::GuestIndices,
    pub(crate) tokens: tokens::GuestIndices,
    pub(crate) charging: charging::GuestIndices,
    pub(crate) webhooks: webhooks::GuestIndices,
    /// `None` when the component does not export `invoicing`.
    pub(crate) invoicing: Option<invoicing::GuestIndices>,
    /// `None` when the component does not export `metrics`.
    pub(crate) metrics: Option<metrics::GuestIndices>,
}

impl Exports {
    /// Looks the contract exports of `pre`'s component up: the required ones, and those of
    /// `optional` (the optional interfaces it exports, as validation found them). Fails if one
    /// is missing.
    pub(crate) fn new<T>(pre: &InstancePre<T>, optional: &[&str]) -> wasmtime::Result<Exports> {
        Ok(Exports {
            info: info::GuestIndices::new(pre)?,
            tokens: tokens::GuestIndices::new(pre)?,
            charging: charging::GuestIndices::new(pre)?,
            webhooks: webhooks::GuestIndices::new(pre)?,
            invoicing: optional
                .contains(&"invoicing")
                .then(|| invoicing::GuestIndices::new(pre))
                .transpose()?,
            metrics: optional
                .contains(&"metrics")
                .then(|| metrics::GuestIndices::new(pre))
                .transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_constants_agree() {
        assert_eq!(Version::parse(VERSION), Some(MIN_VERSION));
        assert_eq!(MAX_VERSION, Version::new(0, 3, 0));
    }
}
