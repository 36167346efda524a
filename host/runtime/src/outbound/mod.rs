//! Outbound HTTP of plugins: the only way out of the sandbox.
//!
//! [`OutboundHooks`] are the `wasi:http` hooks of every call (`hooks`): the allow-list
//! (`policy`), credential injection (`auth`, with OAuth tokens from `oauth`), the shared pooled
//! client (`client`) and the classification of its failures (`errors`).

mod auth;
mod client;
mod errors;
mod hooks;
mod oauth;
mod policy;

pub(crate) use auth::Authenticator;
pub(crate) use client::{ClientSettings, OutboundClient};
pub(crate) use hooks::OutboundHooks;
pub(crate) use policy::OutboundPolicy;
