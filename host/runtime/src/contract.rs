//! The gateway contract: Rust types and bindings generated from the WIT package
//! `omnicrm:payments@0.1.0` (world `gateway`, directory `wit/` of the repository).
//!
//! Every WIT type of the contract is re-exported here under its Rust name (`Money`,
//! `GatewayError`, `ChargeRequest`, ...). All of them implement `Clone`, `Debug`,
//! `serde::Serialize` and `serde::Deserialize`, so the service can return them as JSON.
//!
//! The raw bindings (the generated world, its `Pre` and the host traits) are in [`bindings`]
//! for the runtime's own use.

/// The raw output of `wasmtime::component::bindgen!` for the world `omnicrm:payments/gateway`.
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../../wit",
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

/// The version of the contract this host implements (`omnicrm:payments@0.1.0`). Plugins built
/// against any `0.1.x` load.
pub const CONTRACT_VERSION: &str = "0.1.0";

/// The WIT package of the contract.
pub const CONTRACT_PACKAGE: &str = "omnicrm:payments";

pub use bindings::exports::omnicrm::payments::charging::{
    CaptureMode, ChargeRequest, Payment, PaymentStatus, Refund, RefundReason, RefundRequest,
    RefundStatus,
};
pub use bindings::exports::omnicrm::payments::info::GatewayInfo;
pub use bindings::exports::omnicrm::payments::invoicing::{
    CollectionMethod, Invoice, InvoiceFilter, InvoiceLine, InvoicePage, InvoiceRequest,
    InvoiceStatus, LineItem,
};
pub use bindings::exports::omnicrm::payments::metrics::{
    BalanceFilter, BalanceKind, BalancePage, BalanceTransaction, FinancialSummary,
};
pub use bindings::exports::omnicrm::payments::tokens::{
    CardFunding, Customer, CustomerRequest, StoredCard,
};
pub use bindings::exports::omnicrm::payments::webhooks::{
    CardUpdate, DisputeStatus, DisputeUpdate, EventKind, GatewayEvent, InvoiceUpdate,
    PaymentUpdate, RefundUpdate, Rejection,
};
pub use bindings::omnicrm::payments::credentials::{CredentialError, MacAlgorithm};
pub use bindings::omnicrm::payments::logging::Level;
pub use bindings::omnicrm::payments::types::{
    ActionRequired, CardRef, CustomerRef, Decline, DisputeRef, Failure, GatewayError,
    IdempotencyKey, InvalidInput, InvoiceRef, Metadata, Money, NextAction, NotFound, PageRequest,
    PaymentRef, RateLimited, RefundRef, TimeRange, Timestamp,
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
