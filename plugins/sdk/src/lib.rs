//! Rust SDK for OmniCRM payment gateway components.
//!
//! A gateway is a `cdylib` crate built for `wasm32-wasip2` (`crate-type = ["cdylib"]`) that
//! implements the `Guest` traits of the contract's six exported interfaces (`info`, `tokens`,
//! `charging`, `invoicing`, `metrics`, `webhooks`) on one type and registers it with
//! [`export_gateway!`]:
//!
//! ```ignore
//! use omnicrm_gateway_sdk::exports::omnicrm::payments::info::{self, GatewayInfo};
//! use omnicrm_gateway_sdk::exports::omnicrm::payments::charging;
//! use omnicrm_gateway_sdk::omnicrm::payments::types::{Failure, GatewayError, NotFound};
//! use omnicrm_gateway_sdk::{http, log, settings, time};
//!
//! struct MyGateway;
//!
//! impl info::Guest for MyGateway {
//!     fn describe() -> GatewayInfo {
//!         GatewayInfo {
//!             name: "mygateway".into(),
//!             display_name: "My Gateway".into(),
//!             version: env!("CARGO_PKG_VERSION").into(),
//!             currencies: vec![],
//!         }
//!     }
//! }
//!
//! impl charging::Guest for MyGateway {
//!     fn get_payment(payment: String) -> Result<charging::Payment, GatewayError> {
//!         let base = settings::get("base-url").unwrap_or_else(|| "https://api.example.com".into());
//!         // The host adds the credentials; the whole exchange ends before the call's deadline.
//!         let request = http::Request::new(http::Method::Get, format!("{base}/payments/{payment}"));
//!         match http::send_until(&request, time::deadline()) {
//!             Ok(response) if response.status == 404 => Err(GatewayError::NotFound(NotFound {
//!                 kind: "payment".into(),
//!                 id: payment,
//!             })),
//!             Ok(response) => parse_payment(&response.body),
//!             // Nothing reached the server: the caller may simply retry.
//!             Err(e) if e.is_not_sent() => Err(GatewayError::NotAttempted(Failure {
//!                 message: e.to_string(),
//!                 request_id: None,
//!             })),
//!             // The server may have acted: for a request that moves money, say so.
//!             Err(e) => {
//!                 log!(warn, "GET payment {payment}: {e}");
//!                 Err(GatewayError::OutcomeUnknown(Failure { message: e.to_string(), request_id: None }))
//!             }
//!         }
//!     }
//!     // ... charge, capture, cancel, refund_payment ...
//! }
//!
//! /// Reads the gateway's JSON into the contract's payment (with serde_json or a small reader).
//! fn parse_payment(body: &[u8]) -> Result<charging::Payment, GatewayError> {
//!     // ...
//! #   unimplemented!()
//! }
//!
//! // ... tokens, invoicing, metrics, webhooks ...
//!
//! omnicrm_gateway_sdk::export_gateway!(MyGateway with_types_in omnicrm_gateway_sdk);
//! ```
//!
//! The bindings are generated from the contract in `wit/` (package `omnicrm:payments`), including
//! the WASI interfaces the world imports: contract types are under [`omnicrm::payments`], the
//! traits to implement under [`exports::omnicrm::payments`]. On top of them:
//!
//! - [`http`]: a small blocking HTTP client over `wasi:http/outgoing-handler` whose errors tell
//!   "nothing was sent" (safe to retry) from "sent, but no response" (outcome unknown);
//! - [`settings`]: the plugin's settings from the host's configuration, parsed with defaults;
//! - [`time`]: the call's deadline, the time left, sleeping, the wall clock, random numbers;
//! - [`log!`]: `format!`-style logging into the host's log (never card data or secrets).
//!
//! Secrets never enter the component: the host authenticates outbound requests to the allowed
//! hosts and computes MACs with named secrets (`omnicrm::payments::credentials`).

wit_bindgen::generate!({
    path: "../../wit/v0.1.0",
    world: "omnicrm:payments/gateway",
    pub_export_macro: true,
    export_macro_name: "export_gateway",
    default_bindings_module: "omnicrm_gateway_sdk",
    generate_all,
});

pub mod http;
pub mod settings;
pub mod time;

#[doc(hidden)]
pub use omnicrm::payments::logging::Level as __LogLevel;

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
pub fn __log(level: omnicrm::payments::logging::Level, args: core::fmt::Arguments<'_>) {
    let message = match args.as_str() {
        Some(s) => s.to_owned(),
        None => args.to_string(),
    };
    omnicrm::payments::logging::log(level, &message);
}
