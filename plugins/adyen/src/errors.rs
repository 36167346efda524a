//! Mapping of Adyen's error answers and of transport failures onto the contract's
//! `gateway-error`, so that money is never moved twice: `not-attempted` only when nothing can
//! have happened at Adyen, `outcome-unknown` whenever something may have.
//!
//! Adyen answers errors with a `ServiceError` body (`status`, `errorCode`, `message`,
//! `errorType`, `pspReference`); the codes mapped here are those of docs.adyen.com
//! "development-resources/error-codes" and the Checkout API v71 spec's examples.

use omnicrm_gateway_sdk::http::{self, Method, Response};
use omnicrm_gateway_sdk::types::{Failure, GatewayError, InvalidInput, RateLimited};

use crate::wire::ServiceError;

/// What a request is about: names the object of `not-found` errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target<'a> {
    /// Contract kind: `customer`, `card`, `payment`.
    pub kind: &'static str,
    /// The identifier of that object, when the request names one.
    pub id: &'a str,
}

impl<'a> Target<'a> {
    /// A request about the object `id` of contract kind `kind`.
    pub const fn new(kind: &'static str, id: &'a str) -> Self {
        Target { kind, id }
    }
}

/// A `failure` record.
pub fn failure(message: impl Into<String>, request_id: Option<String>) -> Failure {
    Failure {
        request_id,
        ..Failure::new(message)
    }
}

/// `not-found` of the object `kind`: the target's id when the target is of that kind.
fn not_found(kind: &'static str, target: Target<'_>) -> GatewayError {
    let id = if target.kind == kind { target.id } else { "" };
    GatewayError::not_found(kind, id)
}

/// A transport failure after the retries: nothing sent means nothing happened; no answer to a
/// POST or DELETE means Adyen may have acted on it; a GET changes nothing. (The client upgrades
/// `not-attempted` to `outcome-unknown` when an earlier attempt may have been processed.)
pub fn from_transport(method: Method, error: &http::Error) -> GatewayError {
    let message = format!("Adyen API: {error}");
    if error.is_not_sent() || method == Method::Get {
        GatewayError::NotAttempted(failure(message, None))
    } else {
        GatewayError::OutcomeUnknown(failure(message, None))
    }
}

/// A 2xx answer the plugin can't use (it does not decode, or carries a value the plugin does
/// not know). After a POST or DELETE Adyen acted on the request and money may have moved:
/// `outcome-unknown` (repeating with the same key replays the same answer). After a GET nothing
/// changed: `not-attempted`.
pub fn unusable(
    method: Method,
    message: impl Into<String>,
    request_id: Option<String>,
) -> GatewayError {
    let message = format!("unusable Adyen answer: {}", message.into());
    if method == Method::Get {
        GatewayError::NotAttempted(failure(message, request_id))
    } else {
        GatewayError::OutcomeUnknown(failure(message, request_id))
    }
}

/// Adyen's reference of a request that failed: the `pspReference` header, else the body's.
pub fn request_id(response: &Response, body: &ServiceError) -> Option<String> {
    response
        .header("pspreference")
        .map(str::to_owned)
        .or_else(|| body.psp_reference.clone())
}

/// The contract field an Adyen validation error code is about.
fn field_of(code: &str) -> &'static str {
    match code {
        "137" => "amount",
        "138" => "currency",
        "177" | "178" => "metadata",
        // Card data that doesn't decrypt or validate: the card form's token.
        "101" | "103" | "129" | "174" | "905" | "14_007" => "token",
        "14_030" => "return-url",
        _ => "request",
    }
}

/// Maps a non-2xx answer (after the retries) of a request to `path`.
pub fn from_response(method: Method, response: &Response, target: Target<'_>) -> GatewayError {
    let body = ServiceError::parse(&response.body);
    let request_id = request_id(response, &body);
    let status = response.status;
    let code = body.code();
    let message = body
        .message
        .clone()
        .unwrap_or_else(|| format!("Adyen answered HTTP {status}"));
    match status {
        // Adyen's message adds nothing, and the host holds the key.
        401 => GatewayError::Configuration(failure(
            "Adyen rejected the API key (HTTP 401): check the `api-key` secret and the `X-API-Key` auth",
            request_id,
        )),
        // `901` "Invalid Merchant Account", `010` "Not allowed" (a role the credential lacks).
        403 => GatewayError::Configuration(failure(
            format!("Adyen refused the request (HTTP 403, {code}): {message}"),
            request_id,
        )),
        // Adyen answers 404 only for paths it doesn't have: objects it lacks are 422.
        404 => GatewayError::Configuration(failure(
            format!("Adyen has no such API path (HTTP 404): check `base-url` ({message})"),
            request_id,
        )),
        // `704`: the key is in use (409) or was used with another request (422).
        409 | 422 if code == "704" => {
            GatewayError::IdempotencyConflict(failure(message, request_id))
        }
        429 => GatewayError::RateLimited(RateLimited {
            retry_after_ms: response
                .header("retry-after")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|s| s.saturating_mul(1000)),
            message,
            request_id,
        }),
        s if s >= 500 => {
            let message = format!("Adyen API error (HTTP {s}, {code}): {message}");
            if method == Method::Get {
                GatewayError::NotAttempted(failure(message, request_id))
            } else {
                GatewayError::OutcomeUnknown(failure(message, request_id))
            }
        }
        _ => match code {
            // "Contract not found": no such stored method for the shopper.
            "800" => not_found("card", target),
            // "Original pspReference required for this operation": no such payment.
            "167" => not_found("payment", target),
            _ => GatewayError::InvalidInput(InvalidInput {
                field: field_of(code).into(),
                message: format!("{message} (Adyen {code})"),
                request_id,
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str) -> Response {
        Response {
            status,
            headers: vec![("pspreference".into(), b"REQ1".to_vec())],
            body: body.as_bytes().to_vec(),
        }
    }

    fn error(status: u16, code: &str, message: &str) -> Response {
        response(
            status,
            &format!(
                r#"{{"status":{status},"errorCode":"{code}","message":"{message}","errorType":"validation"}}"#
            ),
        )
    }

    #[test]
    fn maps_adyen_errors() {
        let card = Target::new("card", "STORED1");
        let payment = Target::new("payment", "PSP1");
        assert!(matches!(
            from_response(Method::Post, &error(422, "800", "Contract not found"), card),
            GatewayError::NotFound(n) if n.kind == "card" && n.id == "STORED1"
        ));
        assert!(matches!(
            from_response(Method::Post, &error(422, "167", "Original pspReference required"), payment),
            GatewayError::NotFound(n) if n.kind == "payment" && n.id == "PSP1"
        ));
        assert!(matches!(
            from_response(Method::Post, &error(422, "800", "Contract not found"), payment),
            GatewayError::NotFound(n) if n.kind == "card" && n.id.is_empty()
        ));
        for (code, field) in [
            ("137", "amount"),
            ("138", "currency"),
            ("177", "metadata"),
            ("174", "token"),
            ("14_030", "return-url"),
            ("702", "request"),
        ] {
            match from_response(Method::Post, &error(422, code, "m"), payment) {
                GatewayError::InvalidInput(i) => {
                    assert_eq!(i.field, field, "{code}");
                    assert!(i.message.contains(code));
                    assert_eq!(i.request_id.as_deref(), Some("REQ1"));
                }
                other => panic!("{code}: {other:?}"),
            }
        }
        assert!(matches!(
            from_response(Method::Post, &error(409, "704", "in progress"), payment),
            GatewayError::IdempotencyConflict(_)
        ));
        assert!(matches!(
            from_response(Method::Post, &error(422, "704", "other body"), payment),
            GatewayError::IdempotencyConflict(_)
        ));
        assert!(matches!(
            from_response(Method::Get, &error(401, "000", "Unauthorized"), payment),
            GatewayError::Configuration(f) if f.message.contains("api-key")
        ));
        assert!(matches!(
            from_response(Method::Post, &error(403, "901", "Invalid Merchant Account"), payment),
            GatewayError::Configuration(f) if f.message.contains("901")
        ));
        assert!(matches!(
            from_response(Method::Post, &error(404, "000", "Not Found"), payment),
            GatewayError::Configuration(_)
        ));
        let mut limited = error(429, "000", "Too many");
        limited.headers.push(("retry-after".into(), b"3".to_vec()));
        assert!(matches!(
            from_response(Method::Post, &limited, payment),
            GatewayError::RateLimited(r) if r.retry_after_ms == Some(3000)
        ));
        assert!(matches!(
            from_response(Method::Post, &error(500, "000", "boom"), payment),
            GatewayError::OutcomeUnknown(f) if f.request_id.as_deref() == Some("REQ1")
        ));
        assert!(matches!(
            from_response(Method::Delete, &error(503, "000", "down"), card),
            GatewayError::OutcomeUnknown(_)
        ));
        assert!(matches!(
            from_response(Method::Get, &error(503, "000", "down"), card),
            GatewayError::NotAttempted(_)
        ));
        // Not JSON: still mapped by status.
        assert!(matches!(
            from_response(Method::Post, &response(502, "<html>"), payment),
            GatewayError::OutcomeUnknown(f) if f.message.contains("HTTP 502")
        ));
        // The body's reference when the header is absent.
        let mut bare = error(422, "137", "Invalid amount");
        bare.headers.clear();
        bare.body =
            br#"{"status":422,"errorCode":"137","message":"m","pspReference":"BODY1"}"#.to_vec();
        assert!(matches!(
            from_response(Method::Post, &bare, payment),
            GatewayError::InvalidInput(i) if i.request_id.as_deref() == Some("BODY1")
        ));
    }

    #[test]
    fn transport_failures_and_unusable_answers() {
        let not_sent = http::Error::NotSent {
            reason: "refused".into(),
            timed_out: false,
        };
        let dropped = http::Error::NoResponse {
            reason: "reset".into(),
            timed_out: false,
        };
        assert!(matches!(
            from_transport(Method::Post, &not_sent),
            GatewayError::NotAttempted(_)
        ));
        assert!(matches!(
            from_transport(Method::Post, &dropped),
            GatewayError::OutcomeUnknown(_)
        ));
        assert!(matches!(
            from_transport(Method::Delete, &dropped),
            GatewayError::OutcomeUnknown(_)
        ));
        assert!(matches!(
            from_transport(Method::Get, &dropped),
            GatewayError::NotAttempted(_)
        ));
        assert!(matches!(
            unusable(Method::Post, "x", None),
            GatewayError::OutcomeUnknown(_)
        ));
        assert!(matches!(
            unusable(Method::Get, "x", None),
            GatewayError::NotAttempted(_)
        ));
    }
}
