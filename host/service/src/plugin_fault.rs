//! What a plugin's failure may say to whom. A trap's text (the panic message, a wasm backtrace,
//! the plugin's stderr) and the detail of an instantiation failure are for the operator: they
//! go to the log with a reference, and everything after the gateway call (API answers, the
//! ledger's `last_error`) sees only a short message naming that reference.
//!
//! [`client_safe`] is the one place that reads a plugin's failure text; every gateway call of
//! the live gateways ([`crate::live_gateways`]) and the webhook path go through it.

use omnicrm_host::error::CallError;

/// The start of the runtime's message for a plugin that could not be instantiated; what
/// follows is the plugin's own detail.
const INSTANTIATE_PREFIX: &str = "cannot instantiate the plugin";

/// A new reference for one plugin failure (`fault-` and 32 hex digits).
fn new_reference() -> String {
    crate::ledger::new_key("fault")
}

/// The error with the plugin's detail replaced by a short message and a reference; the detail
/// is logged (at `error`) with that reference, the gateway and the call.
pub fn client_safe(gateway: &str, call: &str, error: CallError) -> CallError {
    match error {
        CallError::Trap(detail) => {
            let reference = new_reference();
            tracing::error!(gateway, call, %reference, %detail, "the gateway plugin trapped");
            CallError::Trap(format!(
                "the gateway plugin failed (reference {reference}; the detail is in the service's log)"
            ))
        }
        CallError::Host(detail) if detail.starts_with(INSTANTIATE_PREFIX) => {
            let reference = new_reference();
            tracing::error!(gateway, call, %reference, %detail, "the gateway plugin could not start");
            CallError::Host(format!(
                "the gateway plugin could not start (reference {reference}; the detail is in the service's log)"
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
        assert!(!text.contains("sk_live") && !text.contains("boom"), "{text}");
        assert!(text.contains("reference fault-"), "{text}");
        let e = client_safe(
            "g",
            "charge",
            CallError::Host("cannot instantiate the plugin: start trapped: secret".into()),
        );
        assert!(!e.to_string().contains("secret"), "{e}");
        let e = client_safe("g", "charge", CallError::Host("no instance slot free".into()));
        assert_eq!(e.to_string(), "the host could not run the call: no instance slot free");
    }
}
