//! `charging`: PaymentIntents (off-session charges, manual capture, cancel), refunds, lookup.

use omnicrm_gateway_sdk::exports::omnicrm::payments::charging::{
    CaptureMode, ChargeRequest, Guest, Payment, PaymentStatus, Refund, RefundReason, RefundRequest,
    RefundStatus,
};
use omnicrm_gateway_sdk::omnicrm::payments::types::{ActionRequired, Decline, GatewayError};

use crate::Stripe;
use crate::client::{Client, check_id, step_key};
use crate::errors::{Target, invalid, next_action};
use crate::form::{Form, encode};
use crate::json::Json;
use crate::money::{self, money};

/// Expanded on every PaymentIntent: the charge (captured and refunded amounts) and its balance
/// transaction (the fee).
const EXPAND: &str = "latest_charge.balance_transaction";

impl Guest for Stripe {
    fn charge(request: ChargeRequest) -> Result<Payment, GatewayError> {
        let customer = check_id("customer", "customer", &request.customer)?;
        let card = check_id("card", "card", &request.card)?;
        if request.amount.amount <= 0 {
            return Err(invalid("amount", "must be positive"));
        }
        let currency = crate::currency_to_stripe(&request.amount.currency)?;
        let amount = money::to_stripe(request.amount.amount, &currency)?;
        let key = step_key(&request.idempotency_key, "payment_intent")?;
        let client = Client::from_config()?;

        let mut form = Form::new();
        form.add("amount", amount)
            .add("currency", currency)
            .add("customer", customer)
            .add("payment_method", card)
            .add("payment_method_types[]", "card")
            .add("off_session", "true")
            .add("confirm", "true")
            .add(
                "capture_method",
                match request.capture {
                    CaptureMode::Automatic => "automatic",
                    CaptureMode::Manual => "manual",
                },
            )
            .opt("description", request.description.as_ref())
            .metadata(&request.metadata)
            .expand(EXPAND);
        let intent = client.post(
            "/v1/payment_intents",
            &form,
            Some(&key),
            Target::any("payment"),
        )?;
        outcome(&intent)
    }

    fn capture(
        payment: String,
        amount: Option<i64>,
        idempotency_key: String,
    ) -> Result<Payment, GatewayError> {
        let id = check_id("payment", "payment", &payment)?;
        let key = step_key(&idempotency_key, "capture")?;
        let client = Client::from_config()?;
        let mut form = Form::new();
        if let Some(amount) = amount {
            if amount <= 0 {
                return Err(invalid("amount", "must be positive"));
            }
            let currency = currency_of(&client, id)?;
            form.add("amount_to_capture", money::to_stripe(amount, &currency)?);
        }
        form.expand(EXPAND);
        let path = format!("/v1/payment_intents/{}/capture", encode(id));
        let intent = client.post(&path, &form, Some(&key), Target::new("payment", id))?;
        Ok(payment_from(&intent))
    }

    fn cancel(payment: String, idempotency_key: String) -> Result<Payment, GatewayError> {
        let id = check_id("payment", "payment", &payment)?;
        let key = step_key(&idempotency_key, "cancel")?;
        let client = Client::from_config()?;
        let mut form = Form::new();
        form.expand(EXPAND);
        let path = format!("/v1/payment_intents/{}/cancel", encode(id));
        let intent = client.post(&path, &form, Some(&key), Target::new("payment", id))?;
        Ok(payment_from(&intent))
    }

    fn refund_payment(request: RefundRequest) -> Result<Refund, GatewayError> {
        let id = check_id("payment", "payment", &request.payment)?;
        let key = step_key(&request.idempotency_key, "refund")?;
        let client = Client::from_config()?;
        let mut form = Form::new();
        form.add("payment_intent", id);
        if let Some(amount) = request.amount {
            if amount <= 0 {
                return Err(invalid("amount", "must be positive"));
            }
            let currency = currency_of(&client, id)?;
            form.add("amount", money::to_stripe(amount, &currency)?);
        }
        form.opt(
            "reason",
            request.reason.map(|r| match r {
                RefundReason::Duplicate => "duplicate",
                RefundReason::Fraudulent => "fraudulent",
                RefundReason::RequestedByCustomer => "requested_by_customer",
            }),
        )
        .metadata(&request.metadata);
        let refund = client
            .post("/v1/refunds", &form, Some(&key), Target::new("payment", id))
            .map_err(|e| match e {
                // Stripe names no parameter for "amount greater than unrefunded amount".
                GatewayError::InvalidInput(mut i)
                    if i.field == "request" && request.amount.is_some() =>
                {
                    i.field = "amount".into();
                    GatewayError::InvalidInput(i)
                }
                other => other,
            })?;
        Ok(refund_from(&refund, id))
    }

    fn get_payment(payment: String) -> Result<Payment, GatewayError> {
        let id = check_id("payment", "payment", &payment)?;
        let client = Client::from_config()?;
        let mut query = Form::new();
        query.expand(EXPAND);
        let path = format!("/v1/payment_intents/{}", encode(id));
        let intent = client.get(&path, &query, Target::new("payment", id))?;
        Ok(payment_from(&intent))
    }
}

/// The currency of a PaymentIntent (Stripe's spelling), for an amount given without one (a
/// partial capture or refund is in the payment's currency). One extra GET: it changes nothing.
fn currency_of(client: &Client, id: &str) -> Result<String, GatewayError> {
    let path = format!("/v1/payment_intents/{}", encode(id));
    let intent = client.get(&path, &Form::new(), Target::new("payment", id))?;
    intent.get("currency").string().ok_or_else(|| {
        GatewayError::NotAttempted(crate::errors::failure(
            "Stripe returned the payment without its currency: nothing was sent",
            None,
        ))
    })
}

/// The result of a confirmed PaymentIntent: a payment, or the error its status stands for.
fn outcome(intent: &Json) -> Result<Payment, GatewayError> {
    let payment = payment_from(intent);
    match payment.status {
        PaymentStatus::RequiresAction => Err(GatewayError::ActionRequired(ActionRequired {
            payment: payment.id,
            next_action: next_action(intent),
            customer_message: "The card issuer asks the customer to authenticate the payment."
                .into(),
            request_id: None,
        })),
        PaymentStatus::Failed => match payment.last_decline {
            Some(decline) => Err(GatewayError::Declined(decline)),
            None => Ok(payment),
        },
        _ => Ok(payment),
    }
}

fn payment_status(status: &str) -> PaymentStatus {
    match status {
        "succeeded" => PaymentStatus::Succeeded,
        "processing" => PaymentStatus::Processing,
        "requires_capture" => PaymentStatus::RequiresCapture,
        "canceled" => PaymentStatus::Canceled,
        "requires_action" | "requires_confirmation" => PaymentStatus::RequiresAction,
        // requires_payment_method: declined, or never confirmed.
        _ => PaymentStatus::Failed,
    }
}

/// Where a PaymentIntent stands. An off-session attempt that needed authentication leaves the
/// intent `requires_payment_method` with `authentication_required`: it still waits for the
/// customer, who can confirm it on-session, so it is `requires-action` (as `charge` answered),
/// not `failed`, until it succeeds, fails authentication or is cancelled.
pub(crate) fn intent_status(pi: &Json) -> PaymentStatus {
    let status = pi.get("status").str().unwrap_or("");
    if status == "requires_payment_method"
        && pi.path("last_payment_error.code").str() == Some("authentication_required")
    {
        return PaymentStatus::RequiresAction;
    }
    payment_status(status)
}

pub(crate) fn decline_from(error: &Json, payment: Option<String>) -> Option<Decline> {
    if error.is_null() {
        return None;
    }
    Some(Decline {
        code: error
            .get("code")
            .string()
            .unwrap_or_else(|| "card_declined".into()),
        decline_reason: error.get("decline_code").string(),
        customer_message: error.get("message").string().unwrap_or_default(),
        payment,
        request_id: None,
    })
}

pub(crate) fn payment_from(pi: &Json) -> Payment {
    let id = pi.get("id").string().unwrap_or_default();
    let error = pi.get("last_payment_error");
    let status = intent_status(pi);
    let charge = pi.get("latest_charge");
    let amount = money(pi.get("amount").i64().unwrap_or(0), pi.get("currency"));
    let amount_captured = charge
        .get("amount_captured")
        .i64()
        .or_else(|| pi.get("amount_received").i64())
        .unwrap_or(0);
    let txn = charge.get("balance_transaction");
    let fee = txn
        .get("fee")
        .i64()
        .map(|fee| money(fee, txn.get("currency")));
    Payment {
        status,
        amount_captured: money::from_stripe(amount_captured, &amount.currency),
        amount_refunded: money::field(charge, "amount_refunded", &amount.currency),
        amount,
        customer: pi.get("customer").id(),
        card: pi.get("payment_method").id(),
        description: pi.get("description").string(),
        metadata: crate::metadata(pi.get("metadata")),
        created: pi.get("created").i64().unwrap_or(0),
        last_decline: if status == PaymentStatus::Failed {
            decline_from(error, Some(id.clone()))
        } else {
            None
        },
        next_action: (status == PaymentStatus::RequiresAction).then(|| next_action(pi)),
        fee,
        id,
    }
}

pub(crate) fn refund_status(status: &str) -> RefundStatus {
    match status {
        "succeeded" => RefundStatus::Succeeded,
        "requires_action" => RefundStatus::RequiresAction,
        "failed" => RefundStatus::Failed,
        "canceled" => RefundStatus::Canceled,
        _ => RefundStatus::Pending,
    }
}

fn refund_from(re: &Json, payment: &str) -> Refund {
    Refund {
        id: re.get("id").string().unwrap_or_default(),
        payment: re
            .get("payment_intent")
            .id()
            .unwrap_or_else(|| payment.to_owned()),
        amount: money(re.get("amount").i64().unwrap_or(0), re.get("currency")),
        status: refund_status(re.get("status").str().unwrap_or("")),
        reason: match re.get("reason").str() {
            Some("duplicate") => Some(RefundReason::Duplicate),
            Some("fraudulent") => Some(RefundReason::Fraudulent),
            Some("requested_by_customer") => Some(RefundReason::RequestedByCustomer),
            _ => None,
        },
        created: re.get("created").i64().unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_intent_waiting_for_authentication_requires_action() {
        let status = |body: &str| intent_status(&Json::parse(body.as_bytes()).unwrap());
        let waiting = r#"{"status":"requires_payment_method","last_payment_error":{"code":"authentication_required"}}"#;
        assert_eq!(status(waiting), PaymentStatus::RequiresAction);
        let declined =
            r#"{"status":"requires_payment_method","last_payment_error":{"code":"card_declined"}}"#;
        assert_eq!(status(declined), PaymentStatus::Failed);
        assert_eq!(
            status(r#"{"status":"requires_action"}"#),
            PaymentStatus::RequiresAction
        );
        assert_eq!(status(r#"{"status":"canceled"}"#), PaymentStatus::Canceled);
    }
}
