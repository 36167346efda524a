//! Rust SDK for OmniCRM payment gateway components.
//!
//! A gateway is a `cdylib` crate built for `wasm32-wasip2` that implements the `Guest` traits of
//! the contract's exported interfaces and registers them with [`export_gateway!`]:
//!
//! ```ignore
//! struct MyGateway;
//! impl omnicrm_gateway_sdk::exports::omnicrm::payments::info::Guest for MyGateway { /* ... */ }
//! // ... tokens, charging, invoicing, metrics, webhooks ...
//! omnicrm_gateway_sdk::export_gateway!(MyGateway with_types_in omnicrm_gateway_sdk);
//! ```
//!
//! The bindings are generated from the contract in `wit/` (package `omnicrm:payments`), including
//! the WASI interfaces the world imports. On top of them:
//!
//! - [`http`]: a small blocking HTTP client over `wasi:http/outgoing-handler` whose errors tell
//!   "nothing was sent" from "sent, but no response" (outcome unknown);
//! - [`settings`]: the plugin's settings from the host's configuration, parsed with defaults;
//! - [`time`]: the call's deadline, the time left, sleeping, the wall clock;
//! - [`log!`]: `format!`-style logging into the host's log.

wit_bindgen::generate!({
    path: "../../wit",
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
