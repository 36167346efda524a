//! Rust SDK for OmniCRM payment gateway components (contract `omnicrm:payments@0.2.0`).
//!
//! A gateway is a `cdylib` crate built for `wasm32-wasip2` that implements [`Gateway`] on a type
//! and registers it with [`register_gateway!`]. Optional parts of the contract are separate
//! traits, compiled in by this crate's features, which also choose the world the component
//! targets:
//!
//! | features of `omnicrm-gateway-sdk` | world | implement |
//! |---|---|---|
//! | none | `gateway` | [`Gateway`] |
//! | `invoicing` | `gateway-with-invoicing` | [`Gateway`], [`Invoicing`] |
//! | `metrics` | `gateway-with-metrics` | [`Gateway`], [`Metrics`] |
//! | `invoicing`, `metrics` | `full-gateway` | [`Gateway`], [`Invoicing`], [`Metrics`] |
//!
//! Cargo unifies features across the packages of one build: components that want different
//! worlds are built in separate `cargo build` runs (each with its own `--target-dir`), or a
//! component gets the other's world and fails to compile for want of the traits it lacks.
//!
//! ```ignore
//! use omnicrm_gateway_sdk::prelude::*;
//! use omnicrm_gateway_sdk::{http, settings, time};
//!
//! struct MyGateway;
//!
//! impl Gateway for MyGateway {
//!     fn describe() -> GatewayInfo {
//!         GatewayInfo {
//!             name: "mygateway".into(),
//!             display_name: "My Gateway".into(),
//!             version: env!("CARGO_PKG_VERSION").into(),
//!             currencies: vec![],
//!             // Only what the gateway does; `invoicing` and `metrics` are set from the world.
//!             capabilities: Capabilities::PARTIAL_CAPTURE | Capabilities::PAYMENT_LOOKUP,
//!         }
//!     }
//!
//!     fn get_payment(payment: PaymentRef) -> Result<Payment, GatewayError> {
//!         let base = settings::get("base-url").unwrap_or_else(|| "https://api.example.com".into());
//!         // The host adds the credentials; the whole exchange ends before the call's deadline.
//!         let request = http::Request::new(http::Method::Get, format!("{base}/payments/{payment}"));
//!         match http::send_until(&request, time::deadline()) {
//!             Ok(response) if response.status == 404 => Err(GatewayError::not_found("payment", payment)),
//!             Ok(response) => parse_payment(&response.body),
//!             // A lookup changes nothing: whatever went wrong, nothing happened.
//!             Err(e) => Err(GatewayError::not_attempted(e.to_string())),
//!         }
//!     }
//!
//!     // ... ensure_customer, store_card, list_cards, set_default_card, remove_card, charge,
//!     // capture_payment, void_payment, refund_payment, handle_webhook; the other optional
//!     // operations answer `unsupported` unless implemented.
//! #   fn ensure_customer(r: CustomerRequest, k: IdempotencyKey) -> Result<Customer, GatewayError> { todo!() }
//! #   fn store_card(r: StoreCardRequest) -> Result<StoredCard, GatewayError> { todo!() }
//! #   fn list_cards(c: CustomerRef) -> Result<Vec<StoredCard>, GatewayError> { todo!() }
//! #   fn set_default_card(c: CustomerRef, card: CardRef) -> Result<(), GatewayError> { todo!() }
//! #   fn remove_card(c: CustomerRef, card: CardRef) -> Result<(), GatewayError> { todo!() }
//! #   fn charge(r: ChargeRequest) -> Result<Payment, GatewayError> { todo!() }
//! #   fn capture_payment(r: CaptureRequest) -> Result<Modification, GatewayError> { todo!() }
//! #   fn void_payment(r: VoidRequest) -> Result<Modification, GatewayError> { todo!() }
//! #   fn refund_payment(r: RefundRequest) -> Result<Refund, GatewayError> { todo!() }
//! #   fn handle_webhook(r: WebhookRequest) -> Result<WebhookOutcome, Rejection> { todo!() }
//! }
//!
//! /// Reads the gateway's JSON into the contract's payment (with serde_json, say).
//! fn parse_payment(body: &[u8]) -> Result<Payment, GatewayError> {
//!     // ...
//! #   unimplemented!()
//! }
//!
//! omnicrm_gateway_sdk::register_gateway!(MyGateway);
//! ```
//!
//! # Every call is a fresh instance
//!
//! The host runs each call of the contract in a new instance of the component: nothing survives
//! from one call to the next, not a static, not a cache, not a connection. That is why the
//! traits' methods take no `self`. Everything a gateway needs to continue an operation later must
//! be in the references it returns (which name one object for its whole life) or at the gateway;
//! repeating an operation with the same idempotency key must give the same outcome, so keys sent
//! to the gateway are derived from the caller's, never made up per call when the operation moves
//! money.
//!
//! # What the crate offers
//!
//! - The contract's types, by interface: [`types`] (money, references, errors, next actions),
//!   [`info`], [`tokens`], [`charging`], [`webhooks`], and with their features [`invoicing`] and
//!   [`metrics`]; the [`prelude`] re-exports the traits, the macros and the types their
//!   signatures use.
//! - Error constructors on [`types::GatewayError`] (`invalid_input`, `not_found`, `unsupported`,
//!   `not_attempted`, `outcome_unknown`, `declined`, `rate_limited`, ...) and [`types::Decline`].
//! - [`http`]: a small blocking HTTP client over `wasi:http/outgoing-handler` whose errors tell
//!   "nothing was sent" (safe to retry) from "sent, but no response" (outcome unknown);
//! - [`settings`]: the plugin's settings from the host's configuration, parsed with defaults;
//! - [`time`]: the call's deadline, the time left, sleeping, the wall clock, random numbers;
//! - [`mac`]: MACs computed and verified by the host with named secrets (webhook signatures);
//! - [`log!`]: `format!`-style logging into the host's log (never card data or secrets).
//!
//! Secrets never enter the component: the host authenticates outbound requests to the allowed
//! hosts and computes MACs with named secrets. The raw `wit-bindgen` bindings are in a hidden
//! module; plugin code does not need them.

#[doc(hidden)]
pub mod bindings;
mod error;
mod gateway;
#[doc(hidden)]
pub mod glue;
pub mod http;
pub mod mac;
pub mod settings;
pub mod time;
mod webhook;

#[cfg(feature = "invoicing")]
pub use gateway::Invoicing;
#[cfg(feature = "metrics")]
pub use gateway::Metrics;
pub use gateway::{Gateway, WORLD_CAPABILITIES};

/// The types every part of the contract shares (`omnicrm:payments/types`).
pub mod types {
    pub use crate::bindings::omnicrm::payments::types::{
        ActionRequired, CardRef, CustomerRef, Decline, DeclineCategory, DisputeRef, Failure,
        GatewayError, IdempotencyKey, InvalidInput, InvoiceRef, InvoiceStatus, Metadata,
        ModificationRef, Money, NextAction, NotFound, PageRequest, PaymentRef, RateLimited,
        Redirect, RedirectMethod, RefundRef, SdkAction, TimeRange, Timestamp,
    };
}

/// Who the plugin is and what it can do (`omnicrm:payments/info`).
pub mod info {
    pub use crate::bindings::exports::omnicrm::payments::info::{Capabilities, GatewayInfo};
}

/// Customers and stored cards (`omnicrm:payments/tokens`).
pub mod tokens {
    pub use crate::bindings::exports::omnicrm::payments::tokens::{
        CardFunding, CardSession, CardSessionRequest, Customer, CustomerRequest, StoreCardRequest,
        StoredCard,
    };
}

/// Charges, captures, voids, refunds and customer actions (`omnicrm:payments/charging`).
pub mod charging {
    pub use crate::bindings::exports::omnicrm::payments::charging::{
        ActionCompletion, CaptureMode, CaptureRequest, ChargeRequest, Modification,
        ModificationStatus, Payment, PaymentStatus, Refund, RefundReason, RefundRequest,
        RefundStatus, StoredCredentialUse, VoidRequest,
    };
}

/// Webhook requests, their events and answers (`omnicrm:payments/webhooks`).
pub mod webhooks {
    pub use crate::bindings::exports::omnicrm::payments::webhooks::{
        CardUpdate, DisputeStatus, DisputeUpdate, EventKind, GatewayEvent, InvoiceUpdate,
        ModificationKind, ModificationUpdate, PaymentUpdate, Rejection, WebhookOutcome,
        WebhookRequest, WebhookResponse,
    };
}

/// Invoices kept at the gateway (`omnicrm:payments/invoicing`; feature `invoicing`).
#[cfg(feature = "invoicing")]
pub mod invoicing {
    pub use crate::bindings::exports::omnicrm::payments::invoicing::{
        CollectionMethod, Invoice, InvoiceFilter, InvoiceLine, InvoicePage, InvoiceRequest,
        LineItem,
    };
    pub use crate::types::InvoiceStatus;
}

/// The gateway's financial figures (`omnicrm:payments/metrics`; feature `metrics`).
#[cfg(feature = "metrics")]
pub mod metrics {
    pub use crate::bindings::exports::omnicrm::payments::metrics::{
        BalanceFilter, BalanceKind, BalancePage, BalanceTransaction, FinancialSummary,
    };
}

/// What implementing a gateway needs: `use omnicrm_gateway_sdk::prelude::*;`.
pub mod prelude {
    pub use crate::charging::{
        ActionCompletion, CaptureMode, CaptureRequest, ChargeRequest, Modification,
        ModificationStatus, Payment, PaymentStatus, Refund, RefundReason, RefundRequest,
        RefundStatus, StoredCredentialUse, VoidRequest,
    };
    pub use crate::info::{Capabilities, GatewayInfo};
    pub use crate::tokens::{
        CardFunding, CardSession, CardSessionRequest, Customer, CustomerRequest, StoreCardRequest,
        StoredCard,
    };
    pub use crate::types::{
        ActionRequired, CardRef, CustomerRef, Decline, DeclineCategory, Failure, GatewayError,
        IdempotencyKey, Metadata, Money, NextAction, PaymentRef, Redirect, RedirectMethod,
        RefundRef, SdkAction,
    };
    pub use crate::webhooks::{Rejection, WebhookOutcome, WebhookRequest, WebhookResponse};
    pub use crate::{Gateway, log, register_gateway};

    #[cfg(feature = "invoicing")]
    pub use crate::Invoicing;
    #[cfg(feature = "metrics")]
    pub use crate::Metrics;
    #[cfg(feature = "invoicing")]
    pub use crate::invoicing::{Invoice, InvoiceFilter, InvoicePage, InvoiceRequest};
    #[cfg(feature = "metrics")]
    pub use crate::metrics::{BalanceFilter, BalancePage, FinancialSummary};
    #[cfg(feature = "invoicing")]
    pub use crate::types::InvoiceRef;
    #[cfg(any(feature = "invoicing", feature = "metrics"))]
    pub use crate::types::PageRequest;
    #[cfg(feature = "metrics")]
    pub use crate::types::TimeRange;
}

/// Exports a type implementing [`Gateway`] (and [`Invoicing`] / [`Metrics`] when the crate's
/// features compile them in) as the component's implementation of the contract:
/// `omnicrm_gateway_sdk::register_gateway!(MyGateway);`, once, in the plugin's crate.
#[macro_export]
macro_rules! register_gateway {
    ($gateway:ty) => {
        const _: () = {
            type __OmnicrmGatewayComponent = $crate::glue::Component<$gateway>;
            $crate::bindings::__export_gateway_bindings!(
                __OmnicrmGatewayComponent with_types_in $crate::bindings
            );
        };
    };
}

#[doc(hidden)]
pub use bindings::omnicrm::payments::logging::Level as __LogLevel;

/// Writes a message to the host's log: `log!(info, "charged {}", id)`.
///
/// The first argument is the level (`trace`, `debug`, `info`, `warn` or `error`); the rest is a
/// `format!` string and its arguments. Never log card data or secrets.
#[macro_export]
macro_rules! log {
    (trace, $($arg:tt)+) => { $crate::__log($crate::__LogLevel::Trace, ::core::format_args!($($arg)+)) };
    (debug, $($arg:tt)+) => { $crate::__log($crate::__LogLevel::Debug, ::core::format_args!($($arg)+)) };
    (info, $($arg:tt)+) => { $crate::__log($crate::__LogLevel::Info, ::core::format_args!($($arg)+)) };
    (warn, $($arg:tt)+) => { $crate::__log($crate::__LogLevel::Warn, ::core::format_args!($($arg)+)) };
    (error, $($arg:tt)+) => { $crate::__log($crate::__LogLevel::Error, ::core::format_args!($($arg)+)) };
}

#[doc(hidden)]
pub fn __log(level: __LogLevel, args: core::fmt::Arguments<'_>) {
    let message = match args.as_str() {
        Some(s) => s.to_owned(),
        None => args.to_string(),
    };
    bindings::omnicrm::payments::logging::log(level, &message);
}
