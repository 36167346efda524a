//! Typed errors of loading a gateway and of calling it. None of them ever contains a secret.

use crate::contract::GatewayError;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Why a gateway component could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The component file could not be read.
    #[error("cannot read gateway component {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a WebAssembly component (a core module, or not WebAssembly at all).
    #[error("{path} is not a WebAssembly component: {reason}")]
    NotAComponent {
        /// The file.
        path: PathBuf,
        /// What it is instead.
        reason: String,
    },
    /// The component could not be compiled (invalid WebAssembly).
    #[error("cannot compile gateway component {path}: {reason}")]
    Compile {
        /// The file.
        path: PathBuf,
        /// The compiler's message.
        reason: String,
    },
    /// The component does not implement the contract this host supports.
    #[error("{path} is not a gateway this host can load: {}", join(problems))]
    Incompatible {
        /// The file.
        path: PathBuf,
        /// Every problem found.
        problems: Vec<ContractProblem>,
    },
    /// The gateway's configuration is invalid.
    #[error("invalid configuration of gateway `{gateway}`: {reason}")]
    Config {
        /// The gateway's name.
        gateway: String,
        /// What is wrong.
        reason: String,
    },
    /// The runtime could not set the gateway up (instantiation, artifact cache, ...).
    #[error("cannot set up gateway `{gateway}`: {reason}")]
    Setup {
        /// The gateway's name.
        gateway: String,
        /// What failed.
        reason: String,
    },
    /// Calling `info.describe` while loading failed.
    #[error("gateway `{gateway}` failed to describe itself: {source}")]
    Describe {
        /// The gateway's name.
        gateway: String,
        /// The call's error.
        #[source]
        source: Box<CallError>,
    },
}

fn join(problems: &[ContractProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// One way a component fails to match the contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContractProblem {
    /// A required export (an interface of the contract, such as `omnicrm:payments/charging`)
    /// is missing.
    MissingExport {
        /// The interface, `omnicrm:payments/NAME@0.2.x`.
        interface: String,
    },
    /// An interface of the contract is exported at a version this host does not support.
    WrongVersion {
        /// The export's full name, such as `omnicrm:payments/charging@0.3.0`.
        export: String,
        /// Its version.
        found: String,
        /// The versions this host supports (`0.1.x or 0.2.x`).
        supported: String,
    },
    /// The component declares a capability (`info.describe`) whose interface it does not export.
    DeclaredNotExported {
        /// The capability, `invoicing`.
        capability: String,
        /// The interface it needs, `omnicrm:payments/invoicing@0.2.x`.
        interface: String,
    },
    /// The component imports something the host does not provide.
    UnsupportedImport {
        /// The import's name.
        import: String,
    },
    /// The export or import exists but its types do not match the contract.
    Mismatch {
        /// The runtime's message.
        detail: String,
    },
}

impl fmt::Display for ContractProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContractProblem::MissingExport { interface } => {
                write!(f, "missing export {interface}")
            }
            ContractProblem::WrongVersion {
                export, supported, ..
            } => write!(f, "exports {export} but this host supports {supported}"),
            ContractProblem::DeclaredNotExported {
                capability,
                interface,
            } => write!(
                f,
                "declares the capability `{capability}` but does not export {interface}"
            ),
            ContractProblem::UnsupportedImport { import } => {
                write!(f, "imports {import}, which this host does not provide")
            }
            ContractProblem::Mismatch { detail } => {
                write!(f, "does not match the contract: {detail}")
            }
        }
    }
}

/// Why a call into a gateway failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    /// The gateway answered with an error of the contract.
    #[error("gateway error: {}", .0.summary())]
    Gateway(GatewayError),
    /// The call did not finish before its deadline; the host stopped it. The operation may
    /// have reached the gateway.
    #[error("the call timed out after {after:?}")]
    Timeout {
        /// The deadline that passed.
        after: Duration,
    },
    /// The plugin trapped (panicked, ran out of memory, misbehaved). The operation may have
    /// reached the gateway.
    #[error("the plugin trapped: {0}")]
    Trap(String),
    /// The host could not run the call (no instance slot free, internal error). The plugin
    /// did not run.
    #[error("the host could not run the call: {0}")]
    Host(String),
}

impl CallError {
    /// Whether money may have moved although the call failed: the caller must reconcile
    /// (repeat with the same idempotency key, or look the object up) before anything else.
    pub fn may_have_moved_money(&self) -> bool {
        matches!(
            self,
            CallError::Gateway(GatewayError::OutcomeUnknown(_))
                | CallError::Timeout { .. }
                | CallError::Trap(_)
        )
    }
}
