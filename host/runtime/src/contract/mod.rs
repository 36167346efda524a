//! The gateway contract: the WIT package `omnicrm:payments` (directory `wit/` of the repository
//! for the newest version, `wit/v0.1.0` for the frozen 0.1.0), the versions of it this host
//! loads, and the Rust types of its newest version: the runtime's public model.
//!
//! Every WIT type of the newest contract is re-exported here under its Rust name (`Money`,
//! `GatewayError`, `ChargeRequest`, `Modification`, ...). All of them implement `Clone`, `Debug`,
//! `serde::Serialize` and `serde::Deserialize`, so the service can return them as JSON.
//!
//! Each supported version has a module of its own (`v0_1`, `v0_2`: bindings generated from that
//! version's WIT, the interfaces it requires, allows and provides, its export indices), and the
//! crate-internal `ContractVersion` names them: loading picks the version a component exports,
//! and the gateway's calls dispatch on it. An older version's module also converts between its
//! types and the newest ones (`v0_1`), so the gateway speaks one model whatever the plugin's
//! version. Adding a version is a new module here (bindings generated from a frozen copy of the
//! WIT), a variant of `ContractVersion`, conversions from the older modules' types, and an arm
//! per call in the gateway's call dispatch.
//!
//! The raw bindings of the newest version (the generated world, its `Pre` and the host traits)
//! are in [`bindings`].

mod capabilities;
pub(crate) mod v0_1;
pub(crate) mod v0_2;
mod version;

pub use capabilities::CAPABILITY_NAMES;
pub(crate) use capabilities::EXPORT_CAPABILITIES;
pub(crate) use v0_2 as latest;
pub(crate) use version::Version;

/// The raw output of `wasmtime::component::bindgen!` for the world
/// `omnicrm:payments/full-gateway` of the newest contract version.
pub use latest::bindings;

/// The newest version of the contract this host implements (`omnicrm:payments@0.2.0`): the
/// version of the types of this module. Plugins of every supported version load (`0.1.x` and
/// `0.2.x`); [`Gateway::contract_version`](crate::Gateway::contract_version) tells which one a
/// plugin exports.
pub const CONTRACT_VERSION: &str = latest::VERSION;

/// The WIT package of the contract.
pub const CONTRACT_PACKAGE: &str = "omnicrm:payments";

/// The oldest contract version this host loads.
const MIN_VERSION: Version = v0_1::MIN_VERSION;

/// The first contract version this host does not load.
const MAX_VERSION: Version = latest::MAX_VERSION;

/// A version line of the contract this host has bindings for. A component is served by the
/// bindings of the line its exports' version belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContractVersion {
    /// `0.1.x`, through [`v0_1`] and its conversions to the newest types.
    V0_1,
    /// `0.2.x`, through [`v0_2`], whose types are the public model.
    V0_2,
}

impl ContractVersion {
    /// Every supported line, newest first.
    pub(crate) const ALL: &[ContractVersion] = &[ContractVersion::V0_2, ContractVersion::V0_1];

    /// The newest line: what a component that exports no supported version is checked against.
    pub(crate) const LATEST: ContractVersion = ContractVersion::V0_2;

    /// The line serving a component version (`0.1.7`), if this host supports it.
    pub(crate) fn of(version: &str) -> Option<ContractVersion> {
        let version = Version::parse(version)?;
        if !(MIN_VERSION..MAX_VERSION).contains(&version) {
            return None;
        }
        Self::ALL
            .iter()
            .copied()
            .find(|line| (line.min_version()..line.max_version()).contains(&version))
    }

    fn min_version(self) -> Version {
        match self {
            ContractVersion::V0_1 => v0_1::MIN_VERSION,
            ContractVersion::V0_2 => v0_2::MIN_VERSION,
        }
    }

    fn max_version(self) -> Version {
        match self {
            ContractVersion::V0_1 => v0_1::MAX_VERSION,
            ContractVersion::V0_2 => v0_2::MAX_VERSION,
        }
    }

    /// The versions of this line as messages quote them (`0.1.x`).
    pub(crate) fn range(self) -> String {
        self.min_version().range_to(self.max_version())
    }

    /// The interfaces a gateway of this line must export.
    pub(crate) fn required_exports(self) -> &'static [&'static str] {
        match self {
            ContractVersion::V0_1 => v0_1::REQUIRED_EXPORTS,
            ContractVersion::V0_2 => v0_2::REQUIRED_EXPORTS,
        }
    }

    /// The interfaces a gateway of this line may export (declared by a capability).
    pub(crate) fn optional_exports(self) -> &'static [&'static str] {
        match self {
            ContractVersion::V0_1 => &[],
            ContractVersion::V0_2 => v0_2::OPTIONAL_EXPORTS,
        }
    }

    /// The interfaces of this line the host provides to plugins.
    pub(crate) fn provided_imports(self) -> &'static [&'static str] {
        match self {
            ContractVersion::V0_1 => v0_1::PROVIDED_IMPORTS,
            ContractVersion::V0_2 => v0_2::PROVIDED_IMPORTS,
        }
    }
}

/// Every contract version this host loads, oldest first, as messages quote them
/// (`0.1.x or 0.2.x`).
pub(crate) fn supported_range() -> String {
    let mut lines: Vec<String> = ContractVersion::ALL.iter().map(|v| v.range()).collect();
    lines.reverse();
    lines.join(" or ")
}

/// The host side of every supported version's imports, as the store data implements it.
pub(crate) trait Imports: v0_1::Imports + v0_2::Imports {}

impl<T: v0_1::Imports + v0_2::Imports> Imports for T {}

/// Defines the imports of every supported version in `linker` (each version's interfaces have
/// names of their own, `omnicrm:payments/config@0.1.0` and `@0.2.0`, so they live side by side).
pub(crate) fn add_to_linker<T: Imports>(
    linker: &mut wasmtime::component::Linker<T>,
) -> wasmtime::Result<()> {
    v0_1::add_to_linker(linker)?;
    v0_2::add_to_linker(linker)
}

pub use latest::bindings::exports::omnicrm::payments::charging::{
    ActionCompletion, CaptureMode, CaptureRequest, ChargeRequest, Modification, ModificationStatus,
    Payment, PaymentStatus, Refund, RefundReason, RefundRequest, RefundStatus, StoredCredentialUse,
    VoidRequest,
};
pub use latest::bindings::exports::omnicrm::payments::info::{Capabilities, GatewayInfo};
pub use latest::bindings::exports::omnicrm::payments::invoicing::{
    CollectionMethod, Invoice, InvoiceFilter, InvoiceLine, InvoicePage, InvoiceRequest, LineItem,
};
pub use latest::bindings::exports::omnicrm::payments::metrics::{
    BalanceFilter, BalanceKind, BalancePage, BalanceTransaction, FinancialSummary,
};
pub use latest::bindings::exports::omnicrm::payments::tokens::{
    CardFunding, CardSession, CardSessionRequest, Customer, CustomerRequest, StoreCardRequest,
    StoredCard,
};
pub use latest::bindings::exports::omnicrm::payments::webhooks::{
    CardUpdate, DisputeStatus, DisputeUpdate, EventKind, GatewayEvent, InvoiceUpdate,
    ModificationKind, ModificationUpdate, PaymentUpdate, Rejection, WebhookOutcome, WebhookRequest,
    WebhookResponse,
};
pub use latest::bindings::omnicrm::payments::credentials::{
    CredentialError, KeyEncoding, MacAlgorithm, MacKey,
};
pub use latest::bindings::omnicrm::payments::logging::Level;
pub use latest::bindings::omnicrm::payments::types::{
    ActionRequired, CardRef, CustomerRef, Decline, DeclineCategory, DisputeRef, Failure,
    GatewayError, IdempotencyKey, InvalidInput, InvoiceRef, InvoiceStatus, Metadata,
    ModificationRef, Money, NextAction, NotFound, PageRequest, PaymentRef, RateLimited, Redirect,
    RedirectMethod, RefundRef, SdkAction, TimeRange, Timestamp,
};

impl GatewayError {
    /// A short name of the variant (`declined`, `outcome-unknown`, ...), as in the WIT.
    pub fn kind(&self) -> &'static str {
        match self {
            GatewayError::Declined(_) => "declined",
            GatewayError::ActionRequired(_) => "action-required",
            GatewayError::InvalidInput(_) => "invalid-input",
            GatewayError::Configuration(_) => "configuration",
            GatewayError::RateLimited(_) => "rate-limited",
            GatewayError::IdempotencyConflict(_) => "idempotency-conflict",
            GatewayError::NotFound(_) => "not-found",
            GatewayError::Unsupported(_) => "unsupported",
            GatewayError::NotAttempted(_) => "not-attempted",
            GatewayError::OutcomeUnknown(_) => "outcome-unknown",
        }
    }

    /// A one-line description for operators (no secrets: plugins never hold them).
    pub fn summary(&self) -> String {
        match self {
            GatewayError::Declined(d) => match &d.decline_reason {
                Some(reason) => format!("declined: {} ({reason}): {}", d.code, d.customer_message),
                None => format!("declined: {}: {}", d.code, d.customer_message),
            },
            GatewayError::ActionRequired(a) => {
                format!("action required for {}: {}", a.payment, a.customer_message)
            }
            GatewayError::InvalidInput(i) => format!("invalid input `{}`: {}", i.field, i.message),
            GatewayError::Configuration(f) => format!("configuration: {}", f.message),
            GatewayError::RateLimited(r) => match r.retry_after_ms {
                Some(ms) => format!("rate limited (retry after {ms} ms): {}", r.message),
                None => format!("rate limited: {}", r.message),
            },
            GatewayError::IdempotencyConflict(f) => format!("idempotency conflict: {}", f.message),
            GatewayError::NotFound(n) => format!("{} not found: {}", n.kind, n.id),
            GatewayError::Unsupported(what) => format!("unsupported: {what}"),
            GatewayError::NotAttempted(f) => format!("not attempted: {}", f.message),
            GatewayError::OutcomeUnknown(f) => format!("outcome unknown: {}", f.message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_served_by_their_line() {
        assert_eq!(ContractVersion::of("0.1.0"), Some(ContractVersion::V0_1));
        assert_eq!(ContractVersion::of("0.1.7"), Some(ContractVersion::V0_1));
        assert_eq!(
            ContractVersion::of("0.1.0-rc.1"),
            Some(ContractVersion::V0_1)
        );
        assert_eq!(ContractVersion::of("0.2.0"), Some(ContractVersion::V0_2));
        assert_eq!(ContractVersion::of("0.2.3"), Some(ContractVersion::V0_2));
        assert_eq!(ContractVersion::of("0.3.0"), None);
        assert_eq!(ContractVersion::of("0.0.9"), None);
        assert_eq!(ContractVersion::of("1.1.0"), None);
        assert_eq!(ContractVersion::of("latest"), None);
        assert_eq!(supported_range(), "0.1.x or 0.2.x");
        assert_eq!(
            ContractVersion::of(CONTRACT_VERSION),
            Some(ContractVersion::LATEST)
        );
    }
}
