//! Mapping of Stripe's error responses and transport failures onto the contract's `gateway-error`.

use omnicrm_gateway_sdk::http::{self, Method, Response};
use omnicrm_gateway_sdk::types::{
    ActionRequired, Decline, Failure, GatewayError, InvalidInput, NextAction, RateLimited,
};

use crate::decline;
use crate::wire::ErrorBody;

/// What a request is about: names the object in `not-found` errors.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// Contract kind: `customer`, `card`, `payment`, `refund`, `invoice`, `dispute`, or `` for lists.
    pub kind: &'static str,
    /// The identifier looked up; empty when the request creates or lists objects.
    pub id: &'a str,
}

impl<'a> Target<'a> {
    /// A request about the object `id` of contract kind `kind`.
    pub const fn new(kind: &'static str, id: &'a str) -> Self {
        Target { kind, id }
    }

    /// A request that creates or lists objects of contract kind `kind`.
    pub const fn any(kind: &'static str) -> Self {
        Target { kind, id: "" }
    }
}

/// A `failure` record.
pub fn failure(message: impl Into<String>, request_id: Option<String>) -> Failure {
    Failure {
        request_id,
        ..Failure::new(message)
    }
}

/// An `invalid-input` error found by the plugin (no request was made).
pub fn invalid(field: &str, message: impl Into<String>) -> GatewayError {
    GatewayError::invalid_input(field, message)
}

/// A `not-found` error.
pub fn not_found(kind: &str, id: &str) -> GatewayError {
    GatewayError::not_found(kind, id)
}

/// A transport failure after the retries: nothing sent means nothing happened; no response to a
/// POST or DELETE means Stripe may have acted on it. (The client upgrades `not-attempted` to
/// `outcome-unknown` when an earlier attempt of the same call may have been processed.)
pub fn from_transport(method: Method, error: &http::Error) -> GatewayError {
    let message = format!("Stripe API: {error}");
    if error.is_not_sent() || method == Method::Get {
        GatewayError::NotAttempted(failure(message, None))
    } else {
        GatewayError::OutcomeUnknown(failure(message, None))
    }
}

/// Maps Stripe's parameter names onto the contract's field names; a parameter with no contract
/// counterpart keeps Stripe's name, as the contract asks.
pub fn contract_field(param: &str) -> String {
    let base = param.split('[').next().unwrap_or(param);
    let field = match param {
        "card[token]" | "token" => "token",
        "invoice_settings[default_payment_method]" => "card",
        _ => match base {
            "amount" | "amount_to_capture" => "amount",
            "unit_amount" | "unit_amount_decimal" => "unit-amount",
            "payment_method" | "source" | "card" => "card",
            "payment_intent" | "charge" => "payment",
            "days_until_due" => "days-until-due",
            "collection_method" => "collection",
            "starting_after" | "ending_before" => "cursor",
            "created" => "range",
            "currency" | "customer" | "description" | "metadata" | "quantity" | "reason"
            | "invoice" | "email" | "name" | "phone" => base,
            _ => param,
        },
    };
    field.to_owned()
}

/// Masks anything in a Stripe message that looks like an API key or a webhook secret (Stripe
/// echoes masked keys in some messages; nothing key-like leaves the plugin).
pub fn redact(message: &str) -> String {
    const PREFIXES: [&str; 5] = ["sk_live_", "sk_test_", "rk_live_", "rk_test_", "whsec_"];
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some((at, prefix)) = PREFIXES
        .iter()
        .filter_map(|p| rest.find(p).map(|at| (at, p)))
        .min()
    {
        out.push_str(&rest[..at]);
        out.push_str("[redacted]");
        let tail = &rest[at + prefix.len()..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '*'))
            .unwrap_or(tail.len());
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// The contract kind of the object a Stripe parameter refers to.
fn kind_of_param(param: &str) -> Option<&'static str> {
    Some(match param.split('[').next().unwrap_or(param) {
        "customer" => "customer",
        "payment_method" | "source" | "invoice_settings" => "card",
        "payment_intent" | "charge" => "payment",
        "invoice" => "invoice",
        "refund" => "refund",
        "dispute" => "dispute",
        _ => return None,
    })
}

/// The first `'quoted'` word of a message (Stripe's "No such customer: 'cus_123'").
fn quoted(message: &str) -> Option<&str> {
    let start = message.find('\'')? + 1;
    let len = message[start..].find('\'')?;
    Some(&message[start..start + len])
}

/// A 2xx answer the plugin can't use: its body does not decode (a required field is missing,
/// or has the wrong type), or it carries a status the plugin does not know. `method` is the
/// request that brought it.
///
/// - After a POST or DELETE, Stripe did act on the request (it answered 2xx), and whatever it
///   did may have moved money: `outcome-unknown`. Repeating the operation with the same
///   idempotency key replays the same answer without acting again, and a lookup settles it.
/// - After a GET nothing changed at Stripe, so nothing happened, and repeating is safe:
///   `not-attempted`, with a message naming what was missing or unknown. Not `outcome-unknown`,
///   which would send the caller to reconcile money a read could not have moved; not
///   `invalid-input`, as the caller's input was fine.
pub fn unusable(method: Method, message: String, request_id: Option<String>) -> GatewayError {
    // Decoding messages may quote a value of the body.
    let message = format!("unusable Stripe response: {}", redact(&message));
    if method == Method::Get {
        GatewayError::NotAttempted(failure(message, request_id))
    } else {
        GatewayError::OutcomeUnknown(failure(message, request_id))
    }
}

/// Maps a non-2xx response (after retries).
pub fn from_response(method: Method, response: &Response, target: Target<'_>) -> GatewayError {
    let request_id = response.header("request-id").map(str::to_owned);
    let ErrorBody { error } = ErrorBody::parse(&response.body);
    let kind = error.kind.as_deref().unwrap_or("");
    let code = error.code.as_deref().unwrap_or("");
    let param = error.param.as_deref().unwrap_or("");
    let message = error.message.as_deref().map_or_else(
        || format!("Stripe answered HTTP {}", response.status),
        redact,
    );
    let status = response.status;

    if kind == "card_error" || (status == 402 && !code.is_empty()) {
        let intent = error.intent();
        if code == "authentication_required"
            || intent.and_then(|i| i.status.as_deref()) == Some("requires_action")
        {
            return GatewayError::ActionRequired(ActionRequired {
                payment: intent.and_then(|i| i.id.clone()).unwrap_or_default(),
                next_action: intent.map_or(NextAction::BringCustomerOnSession, |i| i.next_action()),
                customer_message: message,
                request_id,
            });
        }
        let code = if code.is_empty() {
            "card_declined"
        } else {
            code
        };
        let decline = Decline::new(
            decline::category(code, error.decline_code.as_deref()),
            code,
            message,
        )
        .with_reason(error.decline_code.clone())
        .with_payment(error.payment_intent.as_ref().and_then(|i| i.id.clone()));
        return GatewayError::declined(decline).with_request_id(request_id);
    }
    if kind == "idempotency_error" || status == 409 {
        return GatewayError::IdempotencyConflict(failure(message, request_id));
    }
    match status {
        401 => {
            // Stripe's message names the (masked) key: don't repeat it.
            return GatewayError::Configuration(failure(
                "Stripe rejected the API key (HTTP 401): check the api-key secret",
                request_id,
            ));
        }
        403 => return GatewayError::Configuration(failure(message, request_id)),
        429 => {
            let retry_after_ms = response
                .header("retry-after")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|s| s.saturating_mul(1000));
            return GatewayError::RateLimited(RateLimited {
                retry_after_ms,
                message,
                request_id,
            });
        }
        _ => {}
    }
    if status == 404 || code == "resource_missing" {
        let (kind, id) = match kind_of_param(param) {
            Some(k) if k != target.kind || target.id.is_empty() => {
                (k, quoted(&message).unwrap_or(""))
            }
            _ => (target.kind, target.id),
        };
        return not_found(kind, id);
    }
    if status >= 500 || status == 424 || kind == "api_error" {
        let message = format!("Stripe API error (HTTP {status}): {message}");
        return if method != Method::Get {
            GatewayError::OutcomeUnknown(failure(message, request_id))
        } else {
            GatewayError::NotAttempted(failure(message, request_id))
        };
    }
    GatewayError::InvalidInput(InvalidInput {
        field: if param.is_empty() {
            "request".into()
        } else {
            contract_field(param)
        },
        message,
        request_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use omnicrm_gateway_sdk::types::DeclineCategory;

    #[test]
    fn maps_fields_and_quotes() {
        assert_eq!(contract_field("amount_to_capture"), "amount");
        assert_eq!(contract_field("metadata[order]"), "metadata");
        assert_eq!(contract_field("card[token]"), "token");
        assert_eq!(contract_field("days_until_due"), "days-until-due");
        assert_eq!(
            contract_field("payment_method_types[0]"),
            "payment_method_types[0]"
        );
        assert_eq!(contract_field("off_session"), "off_session");
        assert_eq!(quoted("No such customer: 'cus_1'"), Some("cus_1"));
        assert_eq!(quoted("no quotes"), None);
        assert_eq!(quoted("one ' quote"), None);
    }

    #[test]
    fn redacts_keys_in_messages() {
        assert_eq!(
            redact("Invalid API Key provided: sk_test_********1234, or rk_live_abc."),
            "Invalid API Key provided: [redacted], or [redacted]."
        );
        assert_eq!(redact("whsec_abc"), "[redacted]");
        assert_eq!(
            redact("No such customer: 'cus_1'"),
            "No such customer: 'cus_1'"
        );
        assert_eq!(redact("été sk_test_"), "été [redacted]");
    }

    fn response(status: u16, body: &str) -> Response {
        Response {
            status,
            headers: vec![("request-id".into(), b"req_1".to_vec())],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn maps_stripe_errors() {
        let target = Target::new("payment", "pi_1");
        let decline = r#"{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Your card has insufficient funds.","payment_intent":{"id":"pi_9","status":"requires_payment_method"}}}"#;
        match from_response(
            Method::Post,
            &response(402, decline),
            Target::any("payment"),
        ) {
            GatewayError::Declined(d) => {
                assert_eq!(d.category, DeclineCategory::InsufficientFunds);
                assert_eq!(d.code, "card_declined");
                assert_eq!(d.decline_reason.as_deref(), Some("insufficient_funds"));
                assert_eq!(d.payment.as_deref(), Some("pi_9"));
                assert_eq!(d.request_id.as_deref(), Some("req_1"));
                assert!(!d.customer_message.is_empty());
            }
            other => panic!("{other:?}"),
        }
        let auth = r#"{"error":{"type":"card_error","code":"authentication_required","message":"m","payment_intent":{"id":"pi_2","client_secret":"pi_2_secret_x"}}}"#;
        assert!(matches!(
            from_response(Method::Post, &response(402, auth), target),
            GatewayError::ActionRequired(a) if a.payment == "pi_2"
                && matches!(&a.next_action, NextAction::ClientSdk(s)
                    if s.sdk == "stripe-js" && s.payload.contains("pi_2_secret_x"))
        ));
        // Without a client secret, the customer must come back on-session.
        let bare =
            r#"{"error":{"type":"card_error","code":"authentication_required","message":"m"}}"#;
        assert!(matches!(
            from_response(Method::Post, &response(402, bare), target),
            GatewayError::ActionRequired(a) if matches!(a.next_action, NextAction::BringCustomerOnSession)
        ));
        let expired =
            r#"{"error":{"type":"card_error","code":"expired_card","message":"Expired."}}"#;
        assert!(matches!(
            from_response(Method::Post, &response(402, expired), target),
            GatewayError::Declined(d) if d.category == DeclineCategory::ExpiredCard
                && d.decline_reason.is_none()
        ));
        let unauthorized = r#"{"error":{"type":"invalid_request_error","message":"Invalid API Key provided: sk_test_****1234"}}"#;
        assert!(matches!(
            from_response(Method::Get, &response(401, unauthorized), target),
            GatewayError::Configuration(f) if !f.message.contains("sk_")
        ));
        let missing = r#"{"error":{"type":"invalid_request_error","code":"resource_missing","param":"payment_method","message":"No such PaymentMethod: 'pm_x'"}}"#;
        assert!(matches!(
            from_response(Method::Post, &response(400, missing), Target::any("payment")),
            GatewayError::NotFound(n) if n.kind == "card" && n.id == "pm_x"
        ));
        assert!(matches!(
            from_response(Method::Get, &response(404, "{}"), target),
            GatewayError::NotFound(n) if n.kind == "payment" && n.id == "pi_1"
        ));
        let mut limited = response(
            429,
            r#"{"error":{"type":"invalid_request_error","message":"Too many"}}"#,
        );
        limited.headers.push(("retry-after".into(), b"2".to_vec()));
        assert!(matches!(
            from_response(Method::Post, &limited, target),
            GatewayError::RateLimited(r) if r.retry_after_ms == Some(2000)
        ));
        let invalid = r#"{"error":{"type":"invalid_request_error","param":"amount_to_capture","message":"too much"}}"#;
        assert!(matches!(
            from_response(Method::Post, &response(400, invalid), target),
            GatewayError::InvalidInput(i) if i.field == "amount" && i.request_id.is_some()
        ));
        let conflict = r#"{"error":{"type":"idempotency_error","message":"Keys for idempotent requests can only be used with the same parameters"}}"#;
        assert!(matches!(
            from_response(Method::Post, &response(400, conflict), target),
            GatewayError::IdempotencyConflict(_)
        ));
        assert!(matches!(
            from_response(Method::Post, &response(500, "not json"), target),
            GatewayError::OutcomeUnknown(f) if f.request_id.is_some()
        ));
        assert!(matches!(
            from_response(Method::Get, &response(502, ""), target),
            GatewayError::NotAttempted(_)
        ));
    }

    #[test]
    fn an_unusable_answer_is_unknown_after_a_post_and_not_attempted_after_a_get() {
        use crate::wire::{PaymentIntent, decode};

        let no_id = br#"{"object":"payment_intent","status":"succeeded","amount":1,"currency":"usd","created":1}"#;
        let why = decode::<PaymentIntent>(no_id).unwrap_err().to_string();
        assert!(why.contains("missing field `id`"), "{why}");
        for method in [Method::Post, Method::Delete] {
            assert!(matches!(
                unusable(method, why.clone(), Some("req_1".into())),
                GatewayError::OutcomeUnknown(f)
                    if f.message.contains("missing field `id`") && f.request_id.is_some()
            ));
        }
        assert!(matches!(
            unusable(Method::Get, why, None),
            GatewayError::NotAttempted(f) if f.message.contains("missing field `id`")
        ));
    }
}
