//! The service's error: what went wrong in the service's own terms (the input at fault, the
//! object not found, the decline, the gateway's trouble). It knows nothing of HTTP: the API
//! ([`crate::api`]) maps each [`ErrorKind`] to a status and a code; the command line prints it.

use crate::ledger::{InvoiceStatus, LedgerError};
use omnicrm_host::contract::GatewayError;
use omnicrm_host::error::CallError;

/// What kind of failure an [`Error`] is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// An input is wrong; [`Error::field`] names it.
    InvalidInput,
    /// An object named by the input does not exist.
    NotFound,
    /// The object is not in a state that allows the operation (or another request is changing
    /// it now).
    Conflict,
    /// The card was declined: no money moved.
    Declined(Decline),
    /// The customer must act (3-D Secure) before the payment can go on.
    ActionRequired,
    /// The gateway asked to slow down; nothing was done.
    RateLimited,
    /// The gateway could not be reached or did not attempt the operation; nothing was done.
    GatewayUnavailable,
    /// The gateway's component is still being compiled and loaded; nothing was done. Try again
    /// shortly.
    GatewayLoading,
    /// The gateway's component failed to load; nothing was done until it is fixed.
    GatewayLoadFailed,
    /// The gateway's answer was lost: money may have moved. The reconciler settles it by
    /// repeating the call with the same idempotency key.
    OutcomeUnknown,
    /// The gateway does not support the operation.
    Unsupported,
    /// The gateway's configuration or credentials are wrong.
    GatewayMisconfigured,
    /// The gateway answered about another object than the one asked for; nothing was recorded.
    GatewayMismatch,
    /// The gateway's answer broke the contract: money may have moved; the transaction is held
    /// for review.
    HeldForReview,
    /// The gateway's plugin could not verify an event now (the sender should deliver it again).
    EventUnverifiable,
    /// An event failed verification.
    EventRejected(EventRejection),
    /// The service itself failed (the ledger); nothing was changed.
    Internal,
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ErrorKind::InvalidInput => "invalid input",
            ErrorKind::NotFound => "not found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Declined(_) => "declined",
            ErrorKind::ActionRequired => "action required",
            ErrorKind::RateLimited => "rate limited",
            ErrorKind::GatewayUnavailable => "gateway unavailable",
            ErrorKind::GatewayLoading => "gateway loading",
            ErrorKind::GatewayLoadFailed => "gateway failed to load",
            ErrorKind::OutcomeUnknown => "outcome unknown",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::GatewayMisconfigured => "gateway misconfigured",
            ErrorKind::GatewayMismatch => "gateway mismatch",
            ErrorKind::HeldForReview => "held for review",
            ErrorKind::EventUnverifiable => "event not verifiable now",
            ErrorKind::EventRejected(_) => "event rejected",
            ErrorKind::Internal => "internal error",
        })
    }
}

/// A decline, as the gateway reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decline {
    /// The gateway's decline code (`card_declined`, `insufficient_funds`, ...).
    pub code: String,
    /// The issuer's reason, when the gateway gives one.
    pub reason: Option<String>,
}

/// Why an event failed verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventRejection {
    /// The signature header is missing.
    MissingSignature,
    /// No signature matches the body.
    BadSignature,
    /// The signed timestamp is too old or too new.
    OutsideTolerance,
    /// Verification is not configured (no signing secret).
    NotConfigured,
    /// The event could not be read.
    Malformed,
}

/// The object an error concerns, as it stands after the failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Concerned {
    /// An invoice whose payment failed.
    Invoice {
        /// The ledger's id.
        id: i64,
        /// Its status now.
        status: InvoiceStatus,
    },
}

/// An error of the service. Messages never contain secrets or card data.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct Error {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// The input at fault, named as the API names it (`amount`, `card_id`, ...), when there is
    /// one.
    pub field: Option<String>,
    /// What is wrong, for people.
    pub message: String,
    /// The object concerned, when the caller should be told how it stands.
    pub concerned: Option<Concerned>,
}

impl Error {
    /// Any kind, field and message.
    pub fn new(kind: ErrorKind, field: Option<&str>, message: impl Into<String>) -> Self {
        Error {
            kind,
            field: field.map(str::to_string),
            message: message.into(),
            concerned: None,
        }
    }

    /// An input is wrong.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, Some(field), message)
    }

    /// An object named by `field` does not exist.
    pub fn not_found(field: &str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, Some(field), message)
    }

    /// The object named by `field` is not in a state that allows the operation.
    pub fn conflict(field: &str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, Some(field), message)
    }

    /// The service failed.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, None, message)
    }

    /// Names the object the error concerns.
    pub fn concerning(mut self, concerned: Concerned) -> Self {
        self.concerned = Some(concerned);
        self
    }

    /// The error of a failed gateway call.
    pub fn from_call(e: &CallError) -> Self {
        match e {
            CallError::Gateway(g) => match g {
                GatewayError::Declined(d) => Self::new(
                    ErrorKind::Declined(Decline {
                        code: d.code.clone(),
                        reason: d.decline_reason.clone(),
                    }),
                    Some("card_id"),
                    d.customer_message.clone(),
                ),
                GatewayError::ActionRequired(a) => Self::new(
                    ErrorKind::ActionRequired,
                    Some("card_id"),
                    a.customer_message.clone(),
                ),
                GatewayError::InvalidInput(i) => Self::invalid(&field_of(&i.field), &i.message),
                GatewayError::NotFound(n) => Self::not_found(
                    &field_of(&n.kind),
                    format!("the gateway has no {} {}", n.kind, n.id),
                ),
                GatewayError::RateLimited(_) => {
                    Self::new(ErrorKind::RateLimited, None, g.summary())
                }
                GatewayError::Unsupported(_) => {
                    Self::new(ErrorKind::Unsupported, None, g.summary())
                }
                GatewayError::Configuration(_) => {
                    Self::new(ErrorKind::GatewayMisconfigured, None, g.summary())
                }
                GatewayError::NotAttempted(_) | GatewayError::IdempotencyConflict(_) => {
                    Self::new(ErrorKind::GatewayUnavailable, None, g.summary())
                }
                GatewayError::OutcomeUnknown(_) => {
                    Self::new(ErrorKind::OutcomeUnknown, None, g.summary())
                }
            },
            // The plugin ran: money may have moved. A trap's text is a reference to the
            // operator's log, never the plugin's own words.
            CallError::Timeout { .. } | CallError::Trap(_) | CallError::InvalidOutput { .. } => {
                Self::new(ErrorKind::OutcomeUnknown, None, e.to_string())
            }
            CallError::Host(_) => Self::new(ErrorKind::GatewayUnavailable, None, e.to_string()),
        }
    }
}

/// The service's name of a contract field or object kind.
fn field_of(f: &str) -> String {
    match f {
        "customer" => "customer_id".into(),
        "card" => "card_id".into(),
        "token" => "token".into(),
        "payment" => "transaction_id".into(),
        "invoice" => "invoice_id".into(),
        other => other.to_string(),
    }
}

impl From<LedgerError> for Error {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::NotFound { kind, id } => {
                Error::not_found(&format!("{kind}_id"), format!("no {kind} {id}"))
            }
            LedgerError::Conflict { field, message } => Error::conflict(field, message),
            LedgerError::RefundExceeds {
                requested,
                remaining,
            } => Error::invalid(
                "amount",
                format!("refund of {requested} exceeds the {remaining} that remains refundable"),
            ),
            other => {
                tracing::error!(error = %other, "ledger failure");
                Error::internal("the ledger failed; nothing was changed")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use omnicrm_host::contract::{self, Failure, InvalidInput, NotFound};

    #[test]
    fn gateway_failures_keep_their_meaning() {
        let decline = Error::from_call(&CallError::Gateway(GatewayError::Declined(
            contract::Decline {
                category: contract::DeclineCategory::InsufficientFunds,
                code: "card_declined".into(),
                decline_reason: Some("insufficient_funds".into()),
                customer_message: "Your card was declined.".into(),
                payment: None,
                request_id: None,
            },
        )));
        assert_eq!(
            decline.kind,
            ErrorKind::Declined(Decline {
                code: "card_declined".into(),
                reason: Some("insufficient_funds".into())
            })
        );
        assert_eq!(decline.field.as_deref(), Some("card_id"));
        assert_eq!(decline.message, "Your card was declined.");

        let invalid = Error::from_call(&CallError::Gateway(GatewayError::InvalidInput(
            InvalidInput {
                field: "customer".into(),
                message: "no such customer".into(),
                request_id: None,
            },
        )));
        assert_eq!(invalid.kind, ErrorKind::InvalidInput);
        assert_eq!(invalid.field.as_deref(), Some("customer_id"));

        let missing = Error::from_call(&CallError::Gateway(GatewayError::NotFound(NotFound {
            kind: "payment".into(),
            id: "pi_1".into(),
        })));
        assert_eq!(missing.kind, ErrorKind::NotFound);
        assert_eq!(missing.field.as_deref(), Some("transaction_id"));
        assert_eq!(missing.message, "the gateway has no payment pi_1");

        let failure = || Failure {
            message: "x".into(),
            request_id: None,
        };
        for (e, kind) in [
            (
                CallError::Gateway(GatewayError::OutcomeUnknown(failure())),
                ErrorKind::OutcomeUnknown,
            ),
            (CallError::Trap("boom".into()), ErrorKind::OutcomeUnknown),
            (
                CallError::InvalidOutput {
                    field: "payment.amount-captured".into(),
                    problem: "is more than the amount".into(),
                },
                ErrorKind::OutcomeUnknown,
            ),
            (
                CallError::Gateway(GatewayError::NotAttempted(failure())),
                ErrorKind::GatewayUnavailable,
            ),
            (
                CallError::Host("busy".into()),
                ErrorKind::GatewayUnavailable,
            ),
            (
                CallError::Gateway(GatewayError::Configuration(failure())),
                ErrorKind::GatewayMisconfigured,
            ),
        ] {
            let mapped = Error::from_call(&e);
            assert_eq!(mapped.kind, kind, "{e}");
            assert_eq!(mapped.field, None, "{e}");
        }
    }

    #[test]
    fn ledger_failures_name_the_field() {
        let e = Error::from(LedgerError::RefundExceeds {
            requested: 500,
            remaining: 200,
        });
        assert_eq!(e.kind, ErrorKind::InvalidInput);
        assert_eq!(e.field.as_deref(), Some("amount"));
        let e = Error::from(LedgerError::NotFound {
            kind: "transaction",
            id: "7".into(),
        });
        assert_eq!(
            (e.kind, e.field.as_deref()),
            (ErrorKind::NotFound, Some("transaction_id"))
        );
        let e = Error::from(LedgerError::Database("disk full".into()));
        assert_eq!(e.kind, ErrorKind::Internal);
        assert!(!e.message.contains("disk"), "{}", e.message);
    }
}
