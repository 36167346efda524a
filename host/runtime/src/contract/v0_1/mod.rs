//! Contract version 0.1 (`omnicrm:payments@0.1.x`): its bindings, the interfaces a component of
//! this version must export and may import, the export indices the host resolves once per
//! loaded gateway, what a 0.1 component can do in terms of the newest contract
//! ([`capabilities`]), and the conversions between its types and the newest ones: requests down
//! to 0.1 (`requests`), answers up to the model (`answers`, `events`).
//!
//! Where 0.1 says less than the model, the mapping is a choice, documented at each conversion:
//! - capabilities: what 0.1 has ([`capabilities`]);
//! - a decline's category is read from the well-known codes (`answers::decline_category`);
//! - `redirect-to-url(u)` is a `get` redirect to `u`; `confirm-with-client-sdk(secret)` is a
//!   `client-sdk` action of the SDK named like the plugin, with `{"client_secret": secret}`;
//! - a capture or cancel answered with the payment is a `succeeded` modification whose id is the
//!   payment's, with the payment as `payment-after`;
//! - `complete-action` is `get-payment`: the customer confirmed on-session;
//! - a verified event is a webhook outcome of that one event, answered `200 {"received":true}`;
//!   a refund event is a `modification` of kind `refund`;
//! - `start-card-session` and `get-refund` are `unsupported`;
//! - fields 0.1 does not have are absent (`none`, empty), and request fields 0.1 cannot take are
//!   dropped: a 0.1 charge is the off-session charge 0.1 makes, whatever its stored-credential use.

mod answers;
mod events;
mod requests;

pub(crate) use answers::{ModificationOf, Upgrade};
pub(crate) use events::webhook_outcome;

use super::Capabilities;
use super::version::Version;
use std::sync::OnceLock;
use wasmtime::component::{HasSelf, InstancePre, Linker};

/// The raw output of `wasmtime::component::bindgen!` for the world `omnicrm:payments/gateway`
/// at version 0.1.0.
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../../wit/v0.1.0",
        world: "omnicrm:payments/gateway",
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

use bindings::exports::omnicrm::payments::{charging, invoicing, metrics, tokens, webhooks};
use bindings::omnicrm::payments::{call_context, config, credentials, logging, types};

/// A list of one version's values as the other version's.
fn vec<A, B: From<A>>(items: Vec<A>) -> Vec<B> {
    items.into_iter().map(B::from).collect()
}

/// The oldest component version these bindings serve: 0.1.0, the version of the WIT they are
/// generated from.
pub(crate) const MIN_VERSION: Version = Version::new(0, 1, 0);

/// The first component version these bindings do not serve (`0.2.0`): they serve the `0.1`
/// line, whose versions differ only in additions these bindings do not call.
pub(crate) const MAX_VERSION: Version = MIN_VERSION.next_breaking();

/// The interfaces a gateway of this version must export.
pub(crate) const REQUIRED_EXPORTS: &[&str] = &[
    "info",
    "tokens",
    "charging",
    "invoicing",
    "metrics",
    "webhooks",
];

/// What a 0.1 component can do, in the terms of the newest contract's capabilities.
///
/// Everything 0.1 has: partial captures (0.1 `capture` takes an amount), payment lookups
/// (`get-payment`), invoicing and metrics (0.1 requires both), fees on payments, disputes by
/// events, and customer actions: 0.1 has no `complete-action`, so completing one is looking the
/// payment up once the customer confirmed it on-session. Not what 0.1 lacks: card sessions,
/// refund lookups, several captures of one authorization, and modifications answered later
/// (0.1 answers captures and cancels with the payment as it then stands).
pub(crate) fn capabilities() -> Capabilities {
    Capabilities::PARTIAL_CAPTURE
        | Capabilities::PAYMENT_LOOKUP
        | Capabilities::INVOICING
        | Capabilities::METRICS
        | Capabilities::PAYMENT_FEES
        | Capabilities::DISPUTES
        | Capabilities::CUSTOMER_ACTIONS
}

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
    /// Every export of the world (all interfaces, fully type-checked): used at load time.
    pub(crate) world: bindings::GatewayIndices,
    pub(crate) tokens: tokens::GuestIndices,
    pub(crate) charging: charging::GuestIndices,
    pub(crate) invoicing: invoicing::GuestIndices,
    pub(crate) metrics: metrics::GuestIndices,
    pub(crate) webhooks: webhooks::GuestIndices,
    /// The plugin's name (`info.describe`), set when it describes itself at load: 0.1 next
    /// actions name no client SDK, so the plugin's name stands for it.
    plugin: OnceLock<String>,
}

impl Exports {
    /// Looks every contract export of `pre`'s component up. Fails if one is missing.
    pub(crate) fn new<T>(pre: &InstancePre<T>) -> wasmtime::Result<Exports> {
        Ok(Exports {
            world: bindings::GatewayIndices::new(pre)?,
            tokens: tokens::GuestIndices::new(pre)?,
            charging: charging::GuestIndices::new(pre)?,
            invoicing: invoicing::GuestIndices::new(pre)?,
            metrics: metrics::GuestIndices::new(pre)?,
            webhooks: webhooks::GuestIndices::new(pre)?,
            plugin: OnceLock::new(),
        })
    }

    /// Records the plugin's name, from its description.
    pub(crate) fn described_as(&self, plugin: &str) {
        // Loading describes a plugin once; a second description changes nothing.
        let _ = self.plugin.set(plugin.to_owned());
    }

    /// The converter of this component's answers into the newest types.
    pub(crate) fn upgrade(&self) -> Upgrade<'_> {
        Upgrade {
            plugin: self.plugin.get().map_or("", String::as_str),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_constants_agree() {
        assert_eq!(MIN_VERSION, Version::new(0, 1, 0));
        assert_eq!(MAX_VERSION, Version::new(0, 2, 0));
    }
}
