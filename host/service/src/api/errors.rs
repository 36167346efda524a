//! The API's errors: every domain [`Error`] mapped to an HTTP status and a machine-readable code,
//! plus the API's own (authentication, idempotency keys, bodies, routes and methods). The body is
//! always `{"error": {"code", "field"?, "message", "details"?}}`, whichever layer answers:
//! [`json_errors`] rewrites any other error response (axum's own rejections) into that shape.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::error::{Concerned, Error, ErrorKind, EventRejection};

/// An error answered to an API client. Messages never contain secrets or card data.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// The body's `error` object.
    pub body: ErrorBody,
    /// Seconds the client should wait before trying again (`Retry-After`), when known.
    pub retry_after: Option<u32>,
}

/// The `Retry-After` of a gateway still loading its component: compiling a large component
/// takes seconds to a minute.
const LOADING_RETRY_AFTER_SECS: u32 = 5;

/// The body of every error answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorResponse {
    /// What went wrong.
    pub error: ErrorBody,
}

/// The `error` object of an error response.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Machine-readable code (`invalid_request`, `not_found`, `conflict`, `card_declined`,
    /// `idempotency_key_reused`, `rate_limited`, `outcome_unknown`, ...).
    pub code: &'static str,
    /// The request field (or header, or `gateway`, `path`, `method`, `body`) at fault, when
    /// there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What is wrong, for people.
    pub message: String,
    /// Extra details (the transaction or invoice concerned, the decline).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
}

impl ApiError {
    /// An error of the API's own.
    pub fn new(
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
            retry_after: None,
        }
    }

    /// 400: a request field is wrong.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Error::invalid(field, message).into()
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

    /// 422: an `Idempotency-Key` used before with a different request; `difference` says what
    /// differs.
    pub fn idempotency_key_reused(difference: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "Idempotency-Key",
            format!(
                "this key was used with a different request: {}",
                difference.into()
            ),
        )
    }

    /// 409: a request with the same `Idempotency-Key` is still being answered.
    pub fn idempotency_key_in_use() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "idempotency_key_in_use",
            "Idempotency-Key",
            "a request with this key is still running; repeat it later to get its answer",
        )
    }

    /// 413: the body is larger than `limit` bytes.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "body",
            format!("the body is larger than {limit} bytes"),
        )
    }

    /// 415: a body that is not `application/json`.
    pub fn unsupported_media_type(found: Option<&str>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Content-Type",
            match found {
                Some(t) => format!("the body must be application/json, not {t:?}"),
                None => "the body must be application/json: send `Content-Type: application/json`"
                    .to_string(),
            },
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
        ErrorKind::GatewayLoading => (StatusCode::SERVICE_UNAVAILABLE, "gateway_loading"),
        ErrorKind::GatewayLoadFailed => (StatusCode::SERVICE_UNAVAILABLE, "gateway_load_failed"),
        ErrorKind::OutcomeUnknown => (StatusCode::GATEWAY_TIMEOUT, "outcome_unknown"),
        ErrorKind::Unsupported => (StatusCode::NOT_IMPLEMENTED, "unsupported"),
        ErrorKind::GatewayMisconfigured => (StatusCode::BAD_GATEWAY, "gateway_configuration"),
        ErrorKind::GatewayMismatch => (StatusCode::BAD_GATEWAY, "gateway_mismatch"),
        ErrorKind::HeldForReview => (StatusCode::BAD_GATEWAY, "held_for_review"),
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

/// The field an error of `kind` names when the domain named none: the gateway for the gateway's
/// own trouble, the event's signature for a rejected event.
fn default_field(kind: &ErrorKind) -> Option<&'static str> {
    match kind {
        ErrorKind::RateLimited
        | ErrorKind::GatewayUnavailable
        | ErrorKind::GatewayLoading
        | ErrorKind::GatewayLoadFailed
        | ErrorKind::OutcomeUnknown
        | ErrorKind::Unsupported
        | ErrorKind::GatewayMisconfigured
        | ErrorKind::GatewayMismatch
        | ErrorKind::HeldForReview
        | ErrorKind::EventUnverifiable => Some("gateway"),
        ErrorKind::EventRejected(EventRejection::Malformed) => Some("body"),
        ErrorKind::EventRejected(_) => Some("signature"),
        _ => None,
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
        let field = e
            .field
            .or_else(|| default_field(&e.kind).map(str::to_string));
        let retry_after = (e.kind == ErrorKind::GatewayLoading).then_some(LOADING_RETRY_AFTER_SECS);
        ApiError {
            status,
            body: ErrorBody {
                code,
                field,
                message: e.message,
                details,
            },
            retry_after,
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
        let mut resp =
            (self.status, axum::Json(ErrorResponse { error: self.body })).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

/// The error every layer below answers without a JSON body (axum's 405 and other rejections),
/// by status.
fn error_of_status(status: StatusCode, allow: Option<&HeaderValue>) -> ApiError {
    let (code, field, message) = match status {
        StatusCode::NOT_FOUND => (
            "not_found",
            "path",
            "no such route; see /openapi.json".into(),
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "method",
            match allow.and_then(|a| a.to_str().ok()) {
                Some(allowed) => format!("this route answers {allowed} only"),
                None => "this route does not answer this method".to_string(),
            },
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "payload_too_large",
            "body",
            "the body is too large".to_string(),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "Content-Type",
            "the body must be application/json".to_string(),
        ),
        s if s.is_client_error() => (
            "invalid_request",
            "request",
            s.canonical_reason()
                .unwrap_or("the request is not valid")
                .to_string(),
        ),
        s => (
            "internal_error",
            "service",
            s.canonical_reason()
                .unwrap_or("the service failed")
                .to_string(),
        ),
    };
    ApiError::new(status, code, field, message)
}

/// Makes every error answer the JSON error shape: an error response that is not JSON (one axum
/// made, such as a 405 with its `Allow` header) gets the body of its status, its headers kept.
pub async fn json_errors(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let (mut parts, _) = resp.into_parts();
    let error = error_of_status(status, parts.headers.get(header::ALLOW));
    let fresh = error.into_response();
    parts.headers.remove(header::CONTENT_LENGTH);
    for (name, value) in fresh.headers() {
        parts.headers.insert(name, value.clone());
    }
    Response::from_parts(parts, fresh.into_body())
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
            (ErrorKind::HeldForReview, 502, "held_for_review"),
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
        let e = ApiError::idempotency_key_reused("`amount` was 5000, now 7000");
        assert_eq!(
            (e.status.as_u16(), e.body.code),
            (422, "idempotency_key_reused")
        );
        assert!(e.body.message.ends_with("`amount` was 5000, now 7000"));
        let (status, body) = answer(Error::new(ErrorKind::RateLimited, None, "slow down"));
        assert_eq!((status, &body["error"]["field"]), (429, &json!("gateway")));
    }
}
