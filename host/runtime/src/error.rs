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
    /// The plugin trapped (panicked, ran out of memory or of its host buffer budget), or the
    /// host stopped it (a gateway response reflected the credential the host added). The
    /// operation may have reached the gateway. Its text names a reference only: the details,
    /// which may hold what the plugin wrote, go to the operator's log under that reference.
    #[error("{0}")]
    Trap(PluginTrap),
    /// The plugin answered with a value that breaks the contract (an amount other than the one
    /// asked, a malformed reference, ...). The call ran, so the operation may have reached the
    /// gateway: its outcome is unknown. The value was not handed on.
    #[error("the plugin broke the contract: `{field}` {problem}")]
    InvalidOutput {
        /// The offending field, as the contract names it (`payment.amount-captured`).
        field: String,
        /// What is wrong with it; never the value itself when it is text.
        problem: String,
    },
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
                | CallError::InvalidOutput { .. }
        )
    }

    /// The operator's details of a trap (what the plugin trapped with, the end of its stderr),
    /// control characters escaped; `None` for other errors, whose text says it all.
    pub fn detail(&self) -> Option<&str> {
        match self {
            CallError::Trap(trap) => Some(trap.detail()),
            _ => None,
        }
    }
}

/// A failed plugin call's details, kept for the operator: its [`Display`](fmt::Display) is a
/// short message with a reference, which the host's log line of the failure carries too.
#[derive(Debug, Clone)]
pub struct PluginTrap {
    reference: String,
    detail: String,
}

impl PluginTrap {
    /// A trap with `detail` (control characters escaped here) and a fresh reference.
    pub fn new(detail: &str) -> PluginTrap {
        PluginTrap {
            reference: new_reference(),
            detail: crate::text::escape_controls(detail),
        }
    }

    /// The reference the log line of this failure carries: `trap-` and 16 hex digits.
    pub fn reference(&self) -> &str {
        &self.reference
    }

    /// What happened, for the operator (never for API clients: it may quote the plugin).
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

impl fmt::Display for PluginTrap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the plugin failed unexpectedly (reference {}; details in the host's log)",
            self.reference
        )
    }
}

impl From<&str> for PluginTrap {
    fn from(detail: &str) -> Self {
        PluginTrap::new(detail)
    }
}

impl From<String> for PluginTrap {
    fn from(detail: String) -> Self {
        PluginTrap::new(&detail)
    }
}

/// A reference unlikely to repeat: a process-wide counter mixed with a per-process random key
/// (std's `RandomState` is seeded from the OS).
fn new_reference() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static KEYS: OnceLock<std::collections::hash_map::RandomState> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = KEYS.get_or_init(Default::default).build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    format!("trap-{:016x}", hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trap_shows_its_reference_and_keeps_its_detail() {
        let err = CallError::Trap("panicked at 'boom'\nINFO forged line".into());
        let CallError::Trap(trap) = &err else {
            unreachable!()
        };
        let shown = err.to_string();
        assert!(shown.contains(trap.reference()), "{shown}");
        assert!(!shown.contains("boom"), "{shown}");
        assert_eq!(err.detail(), Some("panicked at 'boom'\\nINFO forged line"));
        assert!(err.may_have_moved_money());
        let other = CallError::Trap("x".into());
        let CallError::Trap(other) = other else {
            unreachable!()
        };
        assert_ne!(trap.reference(), other.reference());
        assert_eq!(trap.reference().len(), "trap-".len() + 16);
    }

    #[test]
    fn an_invalid_output_may_have_moved_money() {
        let err = CallError::InvalidOutput {
            field: "payment.amount-captured".into(),
            problem: "is more than the amount".into(),
        };
        assert!(err.may_have_moved_money());
        assert_eq!(
            err.to_string(),
            "the plugin broke the contract: `payment.amount-captured` is more than the amount"
        );
        assert_eq!(err.detail(), None);
    }
}
