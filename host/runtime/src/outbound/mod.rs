//! Outbound HTTP of plugins: the only way out of the sandbox.
//!
//! [`OutboundHooks`] are the `wasi:http` hooks of every call (`hooks`): the allow-list
//! (`policy`), credential injection and its scope (`auth`, with OAuth tokens from `oauth`), the
//! response bodies handed to the plugin, scanned for injected credentials (`response`), each
//! gateway's pooled client (`client`) with its guarded resolver and per-origin connection slots
//! (`connector`), the classification of its failures (`errors`), and the hook test harnesses
//! use to watch requests and inject faults (`intercept`).

mod auth;
mod client;
mod connector;
mod errors;
mod hooks;
mod intercept;
mod oauth;
mod policy;
mod response;

pub(crate) use auth::{Authenticator, CredentialScope};
pub use client::client_tls_config;
pub(crate) use client::{ClientFactory, ClientSettings, NetworkRules};
pub(crate) use hooks::{CallHooks, OutboundHooks};
pub use intercept::{InterceptedRequest, Interception, OutboundInterceptor};
pub(crate) use policy::OutboundPolicy;
