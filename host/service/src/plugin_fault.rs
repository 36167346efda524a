//! What a plugin's failure may say to whom. A trap's text (the panic message, a wasm backtrace,
//! the plugin's stderr) and the detail of an instantiation failure are for the operator: they
//! go to the log with a reference, and everything after the gateway call (API answers, the
//! ledger's `last_error`) sees only a short message naming that reference.
//!
//! The runtime already keeps a trap's detail apart ([`PluginTrap`]: its text is the reference
//! only, and the runtime logs the detail under it). [`client_safe`] is the one place of the
//! service that looks at a plugin's failure text: it logs the reference with the gateway and
//! the call, and replaces the detail of an instantiation failure with a reference of its own.
//! Every gateway call of the live gateways ([`crate::live_gateways`]) and the webhook path go
//! through it.
//!
//! [`PluginTrap`]: omnicrm_host::error::PluginTrap

use omnicrm_host::error::CallError;

/// The start of the runtime's message for a plugin that could not be instantiated; what
/// follows is the runtime's detail.
const INSTANTIATE_PREFIX: &str = "cannot instantiate the plugin";

/// The error as API clients and the ledger may see it: a trap names its reference only (its
/// detail was logged by the runtime under that reference); an instantiation failure's detail is
/// logged here under a new reference and replaced by it.
pub fn client_safe(gateway: &str, call: &str, error: CallError) -> CallError {
    match error {
        CallError::Trap(trap) => {
            tracing::error!(
                gateway,
                call,
                reference = trap.reference(),
                "the gateway plugin failed: its detail is logged under this reference"
            );
            CallError::Trap(trap)
        }
        CallError::Host(detail) if detail.starts_with(INSTANTIATE_PREFIX) => {
            let reference = crate::ledger::new_key("fault");
            tracing::error!(gateway, call, %reference, %detail, "the gateway plugin could not start");
            CallError::Host(format!(
                "the gateway plugin could not start (reference {reference}; details in the service's log)"
            ))
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_detail_is_replaced_by_a_reference() {
        let e = client_safe(
            "g",
            "charge",
            CallError::Trap("panicked at 'sk_live_secret'; plugin stderr: boom".into()),
        );
        let text = e.to_string();
        assert!(
            !text.contains("sk_live") && !text.contains("boom"),
            "{text}"
        );
        assert!(text.contains("reference trap-"), "{text}");
        let e = client_safe(
            "g",
            "charge",
            CallError::Host("cannot instantiate the plugin: start trapped: secret".into()),
        );
        assert!(!e.to_string().contains("secret"), "{e}");
        let e = client_safe(
            "g",
            "charge",
            CallError::Host("no instance slot free".into()),
        );
        assert_eq!(
            e.to_string(),
            "the host could not run the call: no instance slot free"
        );
    }
}
