//! `charging`: PaymentIntents (off-session charges, manual capture, cancel), refunds, lookup.

use omnicrm_gateway_sdk::exports::omnicrm::payments::charging::{
    CaptureMode, ChargeRequest, Guest, Payment, PaymentStatus, Refund, RefundReason, RefundRequest,
};
use omnicrm_gateway_sdk::http::Method;
use omnicrm_gateway_sdk::omnicrm::payments::types::{ActionRequired, GatewayError};

use crate::Stripe;
use crate::client::{Client, check_id, step_key};
use crate::errors::{Target, invalid, unusable};
use crate::form::{Form, encode};
use crate::money;
use crate::wire::{self, PaymentIntent};

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
        to_payment(&intent, Method::Post)
    }

    fn cancel(payment: String, idempotency_key: String) -> Result<Payment, GatewayError> {
        let id = check_id("payment", "payment", &payment)?;
        let key = step_key(&idempotency_key, "cancel")?;
        let client = Client::from_config()?;
        let mut form = Form::new();
        form.expand(EXPAND);
        let path = format!("/v1/payment_intents/{}/cancel", encode(id));
        let intent = client.post(&path, &form, Some(&key), Target::new("payment", id))?;
        to_payment(&intent, Method::Post)
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
        let refund: wire::Refund = client
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
        refund
            .record(id)
            .map_err(|e| unusable(Method::Post, e.to_string(), None))
    }

    fn get_payment(payment: String) -> Result<Payment, GatewayError> {
        let id = check_id("payment", "payment", &payment)?;
        let client = Client::from_config()?;
        let mut query = Form::new();
        query.expand(EXPAND);
        let path = format!("/v1/payment_intents/{}", encode(id));
        let intent = client.get(&path, &query, Target::new("payment", id))?;
        to_payment(&intent, Method::Get)
    }
}

/// The currency of a PaymentIntent (Stripe's spelling), for an amount given without one (a
/// partial capture or refund is in the payment's currency). One extra GET: it changes nothing.
fn currency_of(client: &Client, id: &str) -> Result<String, GatewayError> {
    let path = format!("/v1/payment_intents/{}", encode(id));
    let intent: PaymentIntent = client.get(&path, &Form::new(), Target::new("payment", id))?;
    Ok(intent.currency)
}

/// The contract's payment of an intent that `method` brought back; one whose status the plugin
/// does not know is [`unusable`].
fn to_payment(intent: &PaymentIntent, method: Method) -> Result<Payment, GatewayError> {
    intent
        .payment()
        .map_err(|e| unusable(method, e.to_string(), None))
}

/// The result of a confirmed PaymentIntent: a payment, or the error its status stands for.
fn outcome(intent: &PaymentIntent) -> Result<Payment, GatewayError> {
    let payment = to_payment(intent, Method::Post)?;
    match payment.status {
        PaymentStatus::RequiresAction => Err(GatewayError::ActionRequired(ActionRequired {
            payment: payment.id,
            next_action: intent.next_action(),
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
