//! Constructors of the contract's errors, so that every plugin spells them the same way:
//! `GatewayError::invalid_input("amount", "must be positive")`,
//! `GatewayError::declined(Decline::new(DeclineCategory::InsufficientFunds, "card_declined", msg))`.

use core::time::Duration;

use crate::types::{
    Decline, DeclineCategory, Failure, GatewayError, InvalidInput, NotFound, RateLimited,
};

impl Failure {
    /// A failure with this message (for operators: no secrets, no card data) and no request id.
    pub fn new(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            request_id: None,
        }
    }
}

impl Decline {
    /// A decline with its normalized category, the gateway's code and a message safe for the
    /// customer; no reason, payment or request id (see the `with_` methods).
    pub fn new(
        category: DeclineCategory,
        code: impl Into<String>,
        customer_message: impl Into<String>,
    ) -> Self {
        Decline {
            category,
            code: code.into(),
            decline_reason: None,
            customer_message: customer_message.into(),
            payment: None,
            request_id: None,
        }
    }

    /// With the issuer's or gateway's reason.
    pub fn with_reason(mut self, reason: Option<String>) -> Self {
        self.decline_reason = reason;
        self
    }

    /// With the failed payment the gateway created.
    pub fn with_payment(mut self, payment: Option<String>) -> Self {
        self.payment = payment;
        self
    }
}

impl GatewayError {
    /// `invalid-input` on `field` (named as in the contract), found by the plugin: nothing was sent.
    pub fn invalid_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        GatewayError::InvalidInput(InvalidInput {
            field: field.into(),
            message: message.into(),
            request_id: None,
        })
    }

    /// `not-found`: no `kind` object (`customer`, `card`, `payment`, `modification`, `refund`,
    /// `invoice`, `dispute`) named `id`.
    pub fn not_found(kind: impl Into<String>, id: impl Into<String>) -> Self {
        GatewayError::NotFound(NotFound {
            kind: kind.into(),
            id: id.into(),
        })
    }

    /// `unsupported`: this gateway does not do `operation` (the contract's name of it).
    pub fn unsupported(operation: impl Into<String>) -> Self {
        GatewayError::Unsupported(operation.into())
    }

    /// `not-attempted`: the request never reached the gateway, or it says it processed nothing.
    /// Safe to retry with the same idempotency key.
    pub fn not_attempted(message: impl Into<String>) -> Self {
        GatewayError::NotAttempted(Failure::new(message))
    }

    /// `outcome-unknown`: the request may have been processed, and money may have moved.
    pub fn outcome_unknown(message: impl Into<String>) -> Self {
        GatewayError::OutcomeUnknown(Failure::new(message))
    }

    /// `configuration`: the gateway refused the plugin's settings or credentials.
    pub fn configuration(message: impl Into<String>) -> Self {
        GatewayError::Configuration(Failure::new(message))
    }

    /// `idempotency-conflict`: the key was used with other input, or is in use.
    pub fn idempotency_conflict(message: impl Into<String>) -> Self {
        GatewayError::IdempotencyConflict(Failure::new(message))
    }

    /// `declined`, with its category (see [`Decline::new`]).
    pub fn declined(decline: Decline) -> Self {
        GatewayError::Declined(decline)
    }

    /// `rate-limited`: retry after `retry_after` when the gateway says.
    pub fn rate_limited(retry_after: Option<Duration>, message: impl Into<String>) -> Self {
        GatewayError::RateLimited(RateLimited {
            retry_after_ms: retry_after.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            message: message.into(),
            request_id: None,
        })
    }

    /// The same error with the gateway's request identifier, on the variants that carry one.
    pub fn with_request_id(mut self, id: Option<String>) -> Self {
        match &mut self {
            GatewayError::Declined(d) => d.request_id = id,
            GatewayError::ActionRequired(a) => a.request_id = id,
            GatewayError::InvalidInput(i) => i.request_id = id,
            GatewayError::RateLimited(r) => r.request_id = id,
            GatewayError::Configuration(f)
            | GatewayError::IdempotencyConflict(f)
            | GatewayError::NotAttempted(f)
            | GatewayError::OutcomeUnknown(f) => f.request_id = id,
            GatewayError::NotFound(_) | GatewayError::Unsupported(_) => {}
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_fill_the_contract_records() {
        match GatewayError::invalid_input("amount", "must be positive") {
            GatewayError::InvalidInput(i) => {
                assert_eq!(
                    (i.field.as_str(), i.message.as_str()),
                    ("amount", "must be positive")
                );
                assert!(i.request_id.is_none());
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            GatewayError::not_found("card", "pm_1"),
            GatewayError::NotFound(n) if n.kind == "card" && n.id == "pm_1"
        ));
        assert!(matches!(
            GatewayError::unsupported("get-refund"),
            GatewayError::Unsupported(op) if op == "get-refund"
        ));
        assert!(matches!(
            GatewayError::rate_limited(Some(Duration::from_secs(2)), "slow down"),
            GatewayError::RateLimited(r) if r.retry_after_ms == Some(2000)
        ));
        let decline = Decline::new(
            DeclineCategory::InsufficientFunds,
            "card_declined",
            "No funds.",
        )
        .with_reason(Some("insufficient_funds".into()))
        .with_payment(Some("pi_1".into()));
        match GatewayError::declined(decline).with_request_id(Some("req_1".into())) {
            GatewayError::Declined(d) => {
                assert_eq!(d.category, DeclineCategory::InsufficientFunds);
                assert_eq!(d.decline_reason.as_deref(), Some("insufficient_funds"));
                assert_eq!(d.payment.as_deref(), Some("pi_1"));
                assert_eq!(d.request_id.as_deref(), Some("req_1"));
            }
            other => panic!("{other:?}"),
        }
        let unknown = GatewayError::outcome_unknown("no answer").with_request_id(Some("r".into()));
        assert!(matches!(unknown, GatewayError::OutcomeUnknown(f) if f.request_id.is_some()));
        assert!(matches!(
            GatewayError::not_attempted("refused"),
            GatewayError::NotAttempted(f) if f.message == "refused"
        ));
    }
}
