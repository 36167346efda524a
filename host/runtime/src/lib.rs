//! The OmniCRM gateway runtime: loads payment gateway components at run time.
//!
//! [`runtime::Runtime`] loads a gateway component from a file (validated
//! against the contract, compiled once, cached on disk) into a [`gateway::Gateway`] whose typed
//! async methods call the plugin in a fresh, sandboxed instance per call.
//!
//! The gateway speaks the newest contract's types ([`contract`], `omnicrm:payments@0.2`) with
//! components of every supported version: a 0.1 component's requests and answers are converted.
//! What a plugin declares in `info.capabilities` decides what the host calls: an undeclared
//! capability is answered `unsupported` without entering the component.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use omnicrm_host::{GatewayConfig, Runtime, RuntimeOptions};
//!
//! let runtime = Runtime::new(RuntimeOptions::default())?;
//! let gateway = runtime
//!     .load("offline", &GatewayConfig::new("omnicrm_offline_gateway.wasm"))
//!     .await?;
//! println!(
//!     "{} speaks contract {} and can do: {}",
//!     gateway.info().display_name,
//!     gateway.contract_version(),
//!     gateway.capabilities().name()
//! );
//! # Ok(())
//! # }
//! ```
//!
//! `examples/embed.rs` is a whole program: it loads a component and charges a card.

// `CallError` carries the contract's `GatewayError` by value, so that callers match on its
// variants (`CallError::Gateway(GatewayError::Declined(d))`); the contract's errors are records
// of a few strings, past clippy's size threshold for `Err`. They are built once per failed call.
#![allow(clippy::result_large_err)]

pub mod built;
pub mod config;
pub mod contract;
pub mod error;
pub mod gateway;
pub mod runtime;

mod cache;
mod components;
mod diagnostics;
mod engine;
mod imports;
mod load_info;
mod outbound;
mod secrets;
mod text;
mod validate;

pub use config::{GatewayConfig, GatewaysFile, Limits, OutboundAuth, Secret, SecretSource};
pub use error::{CallError, ContractProblem, LoadError, PluginTrap};
pub use gateway::{Gateway, GatewayStats};
pub use outbound::{InterceptedRequest, Interception, OutboundInterceptor, client_tls_config};
pub use runtime::{ArtifactSource, LoadInfo, Runtime, RuntimeError, RuntimeOptions};
