//! Mapping of Stripe's error responses and transport failures onto the contract's `gateway-error`.

use omnicrm_gateway_sdk::http::{self, Method, Response};
use omnicrm_gateway_sdk::omnicrm::payments::types::{
    ActionRequired, Decline, Failure, GatewayError, InvalidInput, NextAction, NotFound, RateLimited,
};

use crate::json::Json;

/// What a request is about: names the object in `not-found` errors.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// Contract kind: `customer`, `card`, `payment`, `refund`, `invoice`, `dispute`, or `` for lists.
    pub kind: &'static str,
    /// The identifier looked up.
    pub id: &'a str,
}

pub fn failure(message: impl Into<String>, request_id: Option<String>) -> Failure {
    Failure {
        message: message.into(),
        request_id,
    }
}

pub fn invalid(field: &str, message: impl Into<String>) -> GatewayError {
    GatewayError::InvalidInput(InvalidInput {
        field: field.to_owned(),
        message: message.into(),
        request_id: None,
    })
}

pub fn not_found(kind: &str, id: &str) -> GatewayError {
    GatewayError::NotFound(NotFound {
        kind: kind.to_owned(),
        id: id.to_owned(),
    })
}

/// A transport failure after the retries: nothing sent means nothing happened; no response to a
/// POST means Stripe may have acted on it.
pub fn from_transport(method: Method, error: &http::Error) -> GatewayError {
    let message = format!("Stripe API: {error}");
    if error.is_not_sent() || method != Method::Post {
        GatewayError::NotAttempted(failure(message, None))
    } else {
        GatewayError::OutcomeUnknown(failure(message, None))
    }
}

/// Maps Stripe's parameter names onto the contract's field names.
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
            _ => return base.replace('_', "-"),
        },
    };
    field.to_owned()
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

/// What the customer must do for an intent that waits for them.
pub fn next_action(intent: &Json) -> NextAction {
    if let Some(url) = intent.path("next_action.redirect_to_url.url").string() {
        return NextAction::RedirectToUrl(url);
    }
    match intent.get("client_secret").string() {
        Some(secret) => NextAction::ConfirmWithClientSdk(secret),
        None => NextAction::BringCustomerOnSession,
    }
}

/// Maps a non-2xx response (after retries).
pub fn from_response(method: Method, response: &Response, target: Target<'_>) -> GatewayError {
    let request_id = response.header("request-id").map(str::to_owned);
    let body = Json::parse(&response.body).unwrap_or(Json::Null);
    let error = body.get("error");
    let kind = error.get("type").str().unwrap_or("");
    let code = error.get("code").str().unwrap_or("");
    let param = error.get("param").str().unwrap_or("");
    let message = error
        .get("message")
        .string()
        .unwrap_or_else(|| format!("Stripe answered HTTP {}", response.status));
    let status = response.status;

    if kind == "card_error" || (status == 402 && !code.is_empty()) {
        let intent = if error.get("payment_intent").is_null() {
            error.get("setup_intent")
        } else {
            error.get("payment_intent")
        };
        if code == "authentication_required"
            || intent.get("status").str() == Some("requires_action")
        {
            return GatewayError::ActionRequired(ActionRequired {
                payment: intent.id().unwrap_or_default(),
                next_action: next_action(intent),
                customer_message: message,
                request_id,
            });
        }
        return GatewayError::Declined(Decline {
            code: if code.is_empty() {
                "card_declined".into()
            } else {
                code.to_owned()
            },
            decline_reason: error.get("decline_code").string(),
            customer_message: message,
            payment: error.get("payment_intent").id(),
            request_id,
        });
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
            Some(k) if k != target.kind => (k, quoted(&message).unwrap_or("")),
            _ => (target.kind, target.id),
        };
        return not_found(kind, id);
    }
    if status >= 500 || status == 424 || kind == "api_error" {
        let message = format!("Stripe API error (HTTP {status}): {message}");
        return if method == Method::Post {
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

    #[test]
    fn maps_fields_and_quotes() {
        assert_eq!(contract_field("amount_to_capture"), "amount");
        assert_eq!(contract_field("metadata[order]"), "metadata");
        assert_eq!(contract_field("card[token]"), "token");
        assert_eq!(contract_field("days_until_due"), "days-until-due");
        assert_eq!(quoted("No such customer: 'cus_1'"), Some("cus_1"));
    }
}
