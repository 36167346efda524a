//! The OmniCRM gateway runtime: loads payment gateway components at run time.
//!
//! [`runtime::Runtime`] loads a gateway component from a file (validated
//! against the contract, compiled once, cached on disk) into a [`gateway::Gateway`] whose typed
//! async methods call the plugin in a fresh, sandboxed instance per call.

pub mod config;
pub mod contract;
pub mod error;
pub mod gateway;
pub mod runtime;

mod cache;
mod exports;
mod host_api;
mod oauth;
mod outbound;
mod secrets;
mod validate;

pub use config::{GatewayConfig, GatewaysFile, Limits, OutboundAuth, Secret, SecretSource};
pub use error::{CallError, ContractProblem, LoadError};
pub use gateway::Gateway;
pub use runtime::{ArtifactSource, LoadInfo, Runtime, RuntimeError, RuntimeOptions};
