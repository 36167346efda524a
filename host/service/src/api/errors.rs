//! The API's errors: every domain [`Error`] mapped to an HTTP status and a machine-readable code,
//! plus the API's own (authentication, idempotency keys). The body is always
//! `{"error": {"code", "field"?, "message", "details"?}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

use crate::error::{Concerned, Error, ErrorKind, EventRejection};

/// An error answered to an API client. Messages never contain secrets or card data.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// The body's `error` object.
    pub body: ErrorBody,
}

/// The `error` object of an error response.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorBody {
    /// Machine-readable code (`invalid_request`, `not_found`, `card_declined`, ...).
    pub code: &'static str,
    /// The request field at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What is wrong, for people.
    pub message: String,
    /// Extra details (the transaction or invoice concerned, the decline).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

impl ApiError {
    fn new(
        status: StatusCode,
        code: &'static str,
        field: &str,
        message: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            body: ErrorBody {
                code,
                field: Some(field.to_string()),
                message: message.into(),
                details: None,
            },
        }
    }

    /// 401: no valid API key.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "authorization",
            message,
        )
    }

    /// 403: the API key lacks the scope.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "authorization", message)
    }

    /// 422: an `Idempotency-Key` used before with a different request.
    pub fn idempotency_key_reused() -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "Idempotency-Key",
            "this key was used with a different request",
        )
    }

    /// Replaces the details.
    pub fn with_details(mut self, details: Value) -> Self {
        self.body.details = Some(details);
        self
    }
}

/// The status and code of a kind of domain error.
fn status_and_code(kind: &ErrorKind) -> (StatusCode, &'static str) {
    match kind {
        ErrorKind::InvalidInput => (StatusCode::BAD_REQUEST, "invalid_request"),
        ErrorKind::NotFound => (StatusCode::NOT_FOUND, "not_found"),
        ErrorKind::Conflict => (StatusCode::CONFLICT, "conflict"),
        ErrorKind::Declined(_) => (StatusCode::PAYMENT_REQUIRED, "card_declined"),
        ErrorKind::ActionRequired => (StatusCode::PAYMENT_REQUIRED, "authentication_required"),
        ErrorKind::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        ErrorKind::GatewayUnavailable => (StatusCode::SERVICE_UNAVAILABLE, "gateway_unavailable"),
        ErrorKind::OutcomeUnknown => (StatusCode::GATEWAY_TIMEOUT, "outcome_unknown"),
        ErrorKind::Unsupported => (StatusCode::NOT_IMPLEMENTED, "unsupported"),
        ErrorKind::GatewayMisconfigured => (StatusCode::BAD_GATEWAY, "gateway_configuration"),
        ErrorKind::GatewayMismatch => (StatusCode::BAD_GATEWAY, "gateway_mismatch"),
        ErrorKind::EventUnverifiable => {
            (StatusCode::SERVICE_UNAVAILABLE, "verification_unavailable")
        }
        ErrorKind::EventRejected(why) => (
            StatusCode::BAD_REQUEST,
            match why {
                EventRejection::MissingSignature => "missing_signature",
                EventRejection::BadSignature => "bad_signature",
                EventRejection::OutsideTolerance => "outside_tolerance",
                EventRejection::NotConfigured => "not_configured",
                EventRejection::Malformed => "malformed",
            },
        ),
        ErrorKind::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let (status, code) = status_and_code(&e.kind);
        let details = match (&e.concerned, &e.kind) {
            (Some(Concerned::Invoice { id, status }), _) => {
                Some(json!({ "invoice_id": id, "status": status }))
            }
            (None, ErrorKind::Declined(d)) => Some(json!({
                "decline_code": d.code, "decline_reason": d.reason,
            })),
            (None, _) => None,
        };
        ApiError {
            status,
            body: ErrorBody {
                code,
                field: e.field,
                message: e.message,
                details,
            },
        }
    }
}

impl From<crate::ledger::LedgerError> for ApiError {
    fn from(e: crate::ledger::LedgerError) -> Self {
        Error::from(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(json!({ "error": self.body }))).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Decline;
    use crate::ledger::InvoiceStatus;

    fn answer(e: Error) -> (u16, Value) {
        let e = ApiError::from(e);
        (e.status.as_u16(), json!({ "error": e.body }))
    }

    #[test]
    fn domain_errors_keep_their_status_and_body() {
        assert_eq!(
            answer(Error::invalid("amount", "must be positive")),
            (
                400,
                json!({"error": {"code": "invalid_request", "field": "amount", "message": "must be positive"}})
            )
        );
        assert_eq!(
            answer(Error::internal("the ledger failed")),
            (
                500,
                json!({"error": {"code": "internal_error", "message": "the ledger failed"}})
            )
        );
        let declined = Error::new(
            ErrorKind::Declined(Decline {
                code: "card_declined".into(),
                reason: None,
            }),
            Some("card_id"),
            "Your card was declined.",
        );
        assert_eq!(
            answer(declined.clone()),
            (
                402,
                json!({"error": {
                    "code": "card_declined", "field": "card_id", "message": "Your card was declined.",
                    "details": {"decline_code": "card_declined", "decline_reason": null},
                }})
            )
        );
        // The invoice concerned replaces the decline's details.
        let (status, body) = answer(declined.concerning(Concerned::Invoice {
            id: 4,
            status: InvoiceStatus::Open,
        }));
        assert_eq!(status, 402);
        assert_eq!(
            body["error"]["details"],
            json!({"invoice_id": 4, "status": "open"})
        );
        for (kind, status, code) in [
            (ErrorKind::NotFound, 404, "not_found"),
            (ErrorKind::Conflict, 409, "conflict"),
            (ErrorKind::ActionRequired, 402, "authentication_required"),
            (ErrorKind::RateLimited, 429, "rate_limited"),
            (ErrorKind::GatewayUnavailable, 503, "gateway_unavailable"),
            (ErrorKind::OutcomeUnknown, 504, "outcome_unknown"),
            (ErrorKind::Unsupported, 501, "unsupported"),
            (
                ErrorKind::GatewayMisconfigured,
                502,
                "gateway_configuration",
            ),
            (ErrorKind::GatewayMismatch, 502, "gateway_mismatch"),
            (
                ErrorKind::EventUnverifiable,
                503,
                "verification_unavailable",
            ),
            (
                ErrorKind::EventRejected(EventRejection::BadSignature),
                400,
                "bad_signature",
            ),
        ] {
            let (s, body) = answer(Error::new(kind, None, "x"));
            assert_eq!((s, body["error"]["code"].as_str()), (status, Some(code)));
        }
    }

    #[test]
    fn the_apis_own_errors() {
        let e = ApiError::unauthorized("missing API key");
        assert_eq!(e.status, StatusCode::UNAUTHORIZED);
        assert_eq!(e.body.field.as_deref(), Some("authorization"));
        let e = ApiError::idempotency_key_reused();
        assert_eq!(
            (e.status.as_u16(), e.body.code),
            (422, "idempotency_key_reused")
        );
    }
}
