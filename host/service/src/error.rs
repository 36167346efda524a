//! The service's error: what the API answers, with an HTTP status, a machine-readable code and
//! the field at fault.

use serde::Serialize;

use crate::ledger::LedgerError;
use omnicrm_host::contract::GatewayError;
use omnicrm_host::error::CallError;

/// An error answered to an API client. Messages never contain secrets or card data.
#[derive(Debug, Clone, Serialize, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ServiceError {
    /// HTTP status.
    #[serde(skip)]
    pub status: u16,
    /// Machine-readable code (`invalid_request`, `not_found`, `card_declined`, ...).
    pub code: &'static str,
    /// The request field at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What is wrong, for people.
    pub message: String,
    /// Extra details (the transaction or invoice concerned, the decline).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

impl ServiceError {
    fn new(
        status: u16,
        code: &'static str,
        field: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        ServiceError {
            status,
            code,
            field: field.map(str::to_string),
            message: message.into(),
            details: None,
        }
    }

    /// Any status, code and field.
    pub fn new_status(
        status: u16,
        code: &'static str,
        field: &str,
        message: impl Into<String>,
    ) -> Self {
        Self::new(status, code, Some(field), message)
    }

    /// 400: a field of the request is wrong.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::new(400, "invalid_request", Some(field), message)
    }

    /// 404: an object named by the request does not exist.
    pub fn not_found(field: &str, message: impl Into<String>) -> Self {
        Self::new(404, "not_found", Some(field), message)
    }

    /// 409: the object is not in a state that allows the request.
    pub fn conflict(field: &str, message: impl Into<String>) -> Self {
        Self::new(409, "conflict", Some(field), message)
    }

    /// 401.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, "unauthorized", Some("authorization"), message)
    }

    /// 403.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "forbidden", Some("authorization"), message)
    }

    /// 500: the ledger failed.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "internal_error", None, message)
    }

    /// Adds details.
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    /// Maps a gateway call's failure.
    pub fn from_call(e: &CallError) -> Self {
        match e {
            CallError::Gateway(g) => match g {
                GatewayError::Declined(d) => {
                    let mut err = Self::new(
                        402,
                        "card_declined",
                        Some("card_id"),
                        d.customer_message.clone(),
                    );
                    err.details = Some(serde_json::json!({
                        "decline_code": d.code, "decline_reason": d.decline_reason,
                    }));
                    err
                }
                GatewayError::ActionRequired(a) => Self::new(
                    402,
                    "authentication_required",
                    Some("card_id"),
                    a.customer_message.clone(),
                ),
                GatewayError::InvalidInput(i) => Self::new(
                    400,
                    "invalid_request",
                    Some(&map_field(&i.field)),
                    i.message.clone(),
                ),
                GatewayError::NotFound(n) => Self::new(
                    404,
                    "not_found",
                    Some(&map_field(&n.kind)),
                    format!("the gateway has no {} {}", n.kind, n.id),
                ),
                GatewayError::RateLimited(_) => Self::new(429, "rate_limited", None, g.summary()),
                GatewayError::Unsupported(_) => Self::new(501, "unsupported", None, g.summary()),
                GatewayError::Configuration(_) => {
                    Self::new(502, "gateway_configuration", None, g.summary())
                }
                GatewayError::NotAttempted(_) | GatewayError::IdempotencyConflict(_) => {
                    Self::new(503, "gateway_unavailable", None, g.summary())
                }
                GatewayError::OutcomeUnknown(_) => {
                    Self::new(504, "outcome_unknown", None, g.summary())
                }
            },
            CallError::Timeout { .. } | CallError::Trap(_) => {
                Self::new(504, "outcome_unknown", None, e.to_string())
            }
            CallError::Host(_) => Self::new(503, "gateway_unavailable", None, e.to_string()),
        }
    }
}

/// Maps a contract field or object kind to the API's field name.
fn map_field(f: &str) -> String {
    match f {
        "customer" => "customer_id".into(),
        "card" | "token" => if f == "token" { "token" } else { "card_id" }.into(),
        "payment" => "transaction_id".into(),
        "invoice" => "invoice_id".into(),
        other => other.to_string(),
    }
}

impl From<LedgerError> for ServiceError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::NotFound { kind, id } => {
                ServiceError::not_found(&format!("{kind}_id"), format!("no {kind} {id}"))
            }
            LedgerError::Conflict { field, message } => ServiceError::conflict(field, message),
            LedgerError::RefundExceeds {
                requested,
                remaining,
            } => ServiceError::invalid(
                "amount",
                format!("refund of {requested} exceeds the {remaining} that remains refundable"),
            ),
            other => {
                tracing::error!(error = %other, "ledger failure");
                ServiceError::internal("the ledger failed; nothing was changed")
            }
        }
    }
}
