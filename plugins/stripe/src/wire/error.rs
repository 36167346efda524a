//! The error body of a non-2xx answer: `{"error": {...}}`. Read leniently: whatever its shape,
//! an error answer still maps onto a contract error (with what could be read).

use omnicrm_gateway_sdk::types::NextAction as ContractNextAction;
use serde::Deserialize;

use super::common::{NextAction, next_action};

/// `{"error": {...}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ErrorBody {
    /// The error.
    #[serde(default)]
    pub error: ApiError,
}

impl ErrorBody {
    /// The error of a body; an empty one when the body is not Stripe's error JSON.
    pub fn parse(body: &[u8]) -> ErrorBody {
        serde_json::from_slice(body).unwrap_or_default()
    }
}

/// Stripe's error object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ApiError {
    /// `card_error`, `invalid_request_error`, `idempotency_error`, `api_error`, ...
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// `card_declined`, `resource_missing`, `lock_timeout`, ...
    pub code: Option<String>,
    /// The issuer's reason, for card errors.
    pub decline_code: Option<String>,
    /// A human-readable message (safe to show to the customer for card errors).
    pub message: Option<String>,
    /// The parameter at fault.
    pub param: Option<String>,
    /// The PaymentIntent of a card error.
    pub payment_intent: Option<ErrorIntent>,
    /// The SetupIntent of a card error.
    pub setup_intent: Option<ErrorIntent>,
}

/// The intent carried by a card error, read for what the customer must do. Every field is
/// optional: an incomplete intent still leaves the error readable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ErrorIntent {
    /// `pi_...` or `seti_...`.
    pub id: Option<String>,
    /// Its status.
    pub status: Option<String>,
    /// What the customer must do.
    pub next_action: Option<NextAction>,
    /// The secret for confirming it on-session.
    pub client_secret: Option<String>,
}

impl ErrorIntent {
    /// What the customer must do for this intent.
    pub fn next_action(&self) -> ContractNextAction {
        next_action(self.next_action.as_ref(), self.client_secret.as_deref())
    }
}

impl ApiError {
    /// The intent the error is about: the PaymentIntent, else the SetupIntent.
    pub fn intent(&self) -> Option<&ErrorIntent> {
        self.payment_intent.as_ref().or(self.setup_intent.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decline_as_stripe_sends_it() {
        let body = ErrorBody::parse(include_bytes!("fixtures/error_card_declined.json"));
        let e = &body.error;
        assert_eq!(e.kind.as_deref(), Some("card_error"));
        assert_eq!(e.code.as_deref(), Some("card_declined"));
        assert_eq!(e.decline_code.as_deref(), Some("insufficient_funds"));
        let intent = e.intent().unwrap();
        assert_eq!(intent.id.as_deref(), Some("pi_9gEz6MdguEVdiSH1W1jj8pRC"));
        assert_eq!(intent.status.as_deref(), Some("requires_payment_method"));
    }

    #[test]
    fn anything_else_is_an_empty_error() {
        for body in [&b""[..], b"not json", b"[]", br#"{"error":"x"}"#, b"{}"] {
            assert_eq!(ErrorBody::parse(body), ErrorBody::default());
        }
        let partial = ErrorBody::parse(br#"{"error":{"setup_intent":{"id":"seti_1"}}}"#);
        assert_eq!(
            partial.error.intent().and_then(|i| i.id.as_deref()),
            Some("seti_1")
        );
    }
}
