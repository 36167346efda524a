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
//! the WASI interfaces the world imports. [`http`] is a small blocking HTTP client over
//! `wasi:http/outgoing-handler` for gateways that speak HTTP.

wit_bindgen::generate!({
    path: "../../wit",
    world: "omnicrm:payments/gateway",
    pub_export_macro: true,
    export_macro_name: "export_gateway",
    default_bindings_module: "omnicrm_gateway_sdk",
    generate_all,
});
