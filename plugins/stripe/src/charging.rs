//! `charging`: PaymentIntents (charges on- and off-session, manual capture, voids, customer
//! actions), refunds, lookups.

use omnicrm_gateway_sdk::charging::{
    ActionCompletion, CaptureMode, CaptureRequest, ChargeRequest, Modification, ModificationStatus,
    Payment, PaymentStatus, Refund, RefundReason, RefundRequest, StoredCredentialUse, VoidRequest,
};
use omnicrm_gateway_sdk::http::Method;
use omnicrm_gateway_sdk::types::{ActionRequired, GatewayError, Money};

use crate::client::{Client, check_id, step_key};
use crate::errors::{Target, invalid, unusable};
use crate::form::{Form, encode};
use crate::money;
use crate::wire::{self, PaymentIntent, SetupIntent, SetupIntentStatus};

/// Expanded on every PaymentIntent: the charge (captured and refunded amounts, the card's network
/// transaction id) and its balance transaction (the fee).
const EXPAND: &str = "latest_charge.balance_transaction";

pub fn charge(request: ChargeRequest) -> Result<Payment, GatewayError> {
    let form = charge_form(&request)?;
    let key = step_key(&request.idempotency_key, "payment_intent")?;
    let client = Client::from_config()?;
    let intent = client.post(
        "/v1/payment_intents",
        &form,
        Some(&key),
        Target::any("payment"),
    )?;
    outcome(&intent)
}

/// The checked request as the form of a confirmed PaymentIntent.
fn charge_form(request: &ChargeRequest) -> Result<Form, GatewayError> {
    let customer = check_id("customer", "customer", &request.customer)?;
    let card = check_id("card", "card", &request.card)?;
    if request.amount.amount <= 0 {
        return Err(invalid("amount", "must be positive"));
    }
    let currency = money::currency_to_stripe(&request.amount.currency)?;
    let amount = money::to_stripe(request.amount.amount, &currency)?;

    let mut form = Form::new();
    form.add("amount", amount)
        .add("currency", currency)
        .add("customer", customer)
        .add("payment_method", card)
        .add("payment_method_types[]", "card")
        .add("confirm", "true");
    match request.stored_credential {
        // The customer is there: confirm on-session, so that a bank asking for 3-D Secure is
        // answered with what the customer must do (a redirect back to `return-url`, or Stripe.js).
        StoredCredentialUse::CustomerInitiated => {
            form.add("off_session", "false")
                .opt("return_url", request.return_url.as_ref());
        }
        // Stripe quotes the network transaction id of the cards it stored itself; the one in the
        // request is for cards stored elsewhere, which Stripe does not take from this plugin.
        StoredCredentialUse::MerchantRecurring | StoredCredentialUse::MerchantUnscheduled => {
            form.add("off_session", "true");
        }
    }
    form.add(
        "capture_method",
        match request.capture {
            CaptureMode::Automatic => "automatic",
            CaptureMode::Manual => "manual",
        },
    )
    .opt("description", request.description.as_ref())
    .metadata(&request.metadata)
    .expand(EXPAND);
    Ok(form)
}

/// Captures an authorization: all of it, or `amount`. Stripe releases the rest of the
/// authorization with the capture, so every capture is final whatever `final-capture` says
/// (no `multiple-captures` capability). Capture metadata is merged into the PaymentIntent's.
pub fn capture_payment(request: CaptureRequest) -> Result<Modification, GatewayError> {
    let id = check_id("payment", "payment", &request.payment)?;
    let key = step_key(&request.idempotency_key, "capture")?;
    let client = Client::from_config()?;
    if request.amount.amount <= 0 {
        return Err(invalid("amount", "must be positive"));
    }
    let currency = money::currency_to_stripe(&request.amount.currency)?;
    let mut form = Form::new();
    form.add(
        "amount_to_capture",
        money::to_stripe(request.amount.amount, &currency)?,
    )
    .metadata(&request.metadata)
    .expand(EXPAND);
    let path = format!("/v1/payment_intents/{}/capture", encode(id));
    let intent = client.post(&path, &form, Some(&key), Target::new("payment", id))?;
    let payment = to_payment(&intent, Method::Post)?;
    let captured = Money {
        amount: payment.amount_captured,
        currency: payment.amount.currency.clone(),
    };
    Ok(modification(payment, Some(captured)))
}

/// Voids an authorization (cancels the PaymentIntent). Stripe keeps no metadata with a cancel:
/// the request's is not sent.
pub fn void_payment(request: VoidRequest) -> Result<Modification, GatewayError> {
    let id = check_id("payment", "payment", &request.payment)?;
    let key = step_key(&request.idempotency_key, "cancel")?;
    let client = Client::from_config()?;
    let mut form = Form::new();
    form.expand(EXPAND);
    let path = format!("/v1/payment_intents/{}/cancel", encode(id));
    let intent = client.post(&path, &form, Some(&key), Target::new("payment", id))?;
    Ok(modification(to_payment(&intent, Method::Post)?, None))
}

pub fn refund_payment(request: RefundRequest) -> Result<Refund, GatewayError> {
    let id = check_id("payment", "payment", &request.payment)?;
    let key = step_key(&request.idempotency_key, "refund")?;
    let client = Client::from_config()?;
    if request.amount.amount <= 0 {
        return Err(invalid("amount", "must be positive"));
    }
    let currency = money::currency_to_stripe(&request.amount.currency)?;
    let mut form = Form::new();
    form.add("payment_intent", id).add(
        "amount",
        money::to_stripe(request.amount.amount, &currency)?,
    );
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
            GatewayError::InvalidInput(mut i) if i.field == "request" => {
                i.field = "amount".into();
                GatewayError::InvalidInput(i)
            }
            other => other,
        })?;
    refund
        .record(Some(id))
        .map_err(|e| unusable(Method::Post, e.to_string(), None))
}

/// Finishes a PaymentIntent (or a card session's SetupIntent) after the customer's action: looks
/// it up, confirms it when Stripe left it `requires_confirmation`, and answers it as it stands
/// (a set-up as a payment of nothing, see `SetupIntent::payment`). Stripe needs none of the
/// `details`.
pub fn complete_action(request: ActionCompletion) -> Result<Payment, GatewayError> {
    let id = check_id("payment", "payment", &request.payment)?;
    let key = step_key(&request.idempotency_key, "confirm")?;
    let client = Client::from_config()?;
    let target = Target::new("payment", id);
    if id.starts_with("seti_") {
        let path = format!("/v1/setup_intents/{}", encode(id));
        let mut setup: SetupIntent = client.get(&path, &Form::new(), target)?;
        let mut method = Method::Get;
        if setup.status == SetupIntentStatus::RequiresConfirmation {
            setup = client.post(&format!("{path}/confirm"), &Form::new(), Some(&key), target)?;
            method = Method::Post;
        }
        return setup
            .payment()
            .map_err(|e| unusable(method, e.to_string(), None));
    }
    let path = format!("/v1/payment_intents/{}", encode(id));
    let mut query = Form::new();
    query.expand(EXPAND);
    let mut intent: PaymentIntent = client.get(&path, &query, target)?;
    let mut method = Method::Get;
    if intent.status == wire::PaymentIntentStatus::RequiresConfirmation {
        intent = client.post(&format!("{path}/confirm"), &query, Some(&key), target)?;
        method = Method::Post;
    }
    to_payment(&intent, method)
}

pub fn get_payment(payment: String) -> Result<Payment, GatewayError> {
    let id = check_id("payment", "payment", &payment)?;
    let client = Client::from_config()?;
    let mut query = Form::new();
    query.expand(EXPAND);
    let path = format!("/v1/payment_intents/{}", encode(id));
    let intent = client.get(&path, &query, Target::new("payment", id))?;
    to_payment(&intent, Method::Get)
}

pub fn get_refund(refund: String) -> Result<Refund, GatewayError> {
    let id = check_id("refund", "refund", &refund)?;
    let client = Client::from_config()?;
    let path = format!("/v1/refunds/{}", encode(id));
    let refund: wire::Refund = client.get(&path, &Form::new(), Target::new("refund", id))?;
    refund
        .record(None)
        .map_err(|e| unusable(Method::Get, e.to_string(), None))
}

/// The contract's payment of an intent that `method` brought back; one whose status the plugin
/// does not know is [`unusable`].
fn to_payment(intent: &PaymentIntent, method: Method) -> Result<Payment, GatewayError> {
    intent
        .payment()
        .map_err(|e| unusable(method, e.to_string(), None))
}

/// What a capture or a void did: Stripe answers with the payment, so the modification is the
/// payment's (its id), `succeeded`, unless Stripe is still processing it (`pending`).
fn modification(payment: Payment, amount: Option<Money>) -> Modification {
    let status = match payment.status {
        PaymentStatus::Processing => ModificationStatus::Pending,
        _ => ModificationStatus::Succeeded,
    };
    Modification {
        id: payment.id.clone(),
        payment: payment.id.clone(),
        status,
        amount,
        payment_after: Some(payment),
        failure_reason: None,
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::decode;
    use omnicrm_gateway_sdk::types::{DeclineCategory, NextAction};

    fn intent(body: &[u8]) -> PaymentIntent {
        decode(body).unwrap()
    }

    fn request(use_: StoredCredentialUse, return_url: Option<&str>) -> ChargeRequest {
        ChargeRequest {
            customer: "cus_1".into(),
            card: "pm_1".into(),
            amount: Money {
                amount: 5_000,
                currency: "ISK".into(),
            },
            description: None,
            metadata: vec![("crm_transaction_id".into(), "7".into())],
            capture: CaptureMode::Manual,
            stored_credential: use_,
            network_transaction_id: Some("123456789012345".into()),
            return_url: return_url.map(Into::into),
            idempotency_key: "k".into(),
        }
    }

    #[test]
    fn the_customer_confirms_on_session_and_the_merchant_off_session() {
        let on_session = charge_form(&request(
            StoredCredentialUse::CustomerInitiated,
            Some("https://crm.example/back"),
        ))
        .unwrap()
        .encode();
        assert_eq!(
            on_session,
            "amount=500000&currency=isk&customer=cus_1&payment_method=pm_1\
             &payment_method_types%5B%5D=card&confirm=true&off_session=false\
             &return_url=https%3A%2F%2Fcrm.example%2Fback&capture_method=manual\
             &metadata%5Bcrm_transaction_id%5D=7&expand%5B%5D=latest_charge.balance_transaction"
        );
        let without_return = charge_form(&request(StoredCredentialUse::CustomerInitiated, None))
            .unwrap()
            .encode();
        assert!(
            without_return.contains("off_session=false") && !without_return.contains("return_url")
        );
        for use_ in [
            StoredCredentialUse::MerchantRecurring,
            StoredCredentialUse::MerchantUnscheduled,
        ] {
            let form = charge_form(&request(use_, Some("https://crm.example/back")))
                .unwrap()
                .encode();
            assert!(form.contains("&off_session=true&"), "{form}");
            assert!(
                !form.contains("return_url") && !form.contains("123456789012345"),
                "{form}"
            );
        }
        let mut bad = request(StoredCredentialUse::MerchantRecurring, None);
        bad.amount.amount = 0;
        assert!(
            matches!(charge_form(&bad), Err(GatewayError::InvalidInput(i)) if i.field == "amount")
        );
        bad.amount.amount = 1;
        bad.card = "pm_1/../x".into();
        assert!(
            matches!(charge_form(&bad), Err(GatewayError::InvalidInput(i)) if i.field == "card")
        );
    }

    #[test]
    fn a_confirmed_intent_is_a_payment_a_decline_or_an_action() {
        let succeeded = intent(include_bytes!("wire/fixtures/payment_intent.json"));
        assert_eq!(
            outcome(&succeeded).unwrap().status,
            PaymentStatus::Succeeded
        );
        let waiting = intent(include_bytes!(
            "wire/fixtures/payment_intent_requires_action.json"
        ));
        match outcome(&waiting) {
            Err(GatewayError::ActionRequired(a)) => {
                assert_eq!(a.payment, "pi_6g1ItgmEix7m5nIO7NvFhhxz");
                assert!(
                    matches!(a.next_action, NextAction::ClientSdk(ref s) if s.sdk == "stripe-js")
                );
            }
            other => panic!("{other:?}"),
        }
        let redirect = intent(
            br#"{"id":"pi_1","status":"requires_action","amount":1,"currency":"usd","created":1,
                "client_secret":"pi_1_secret_x","next_action":{"type":"redirect_to_url",
                "redirect_to_url":{"url":"https://bank.example/3ds","return_url":"https://crm.example"}}}"#,
        );
        assert!(matches!(
            outcome(&redirect),
            Err(GatewayError::ActionRequired(a))
                if matches!(&a.next_action, NextAction::Redirect(r) if r.url == "https://bank.example/3ds")
        ));
        let declined = intent(
            br#"{"id":"pi_1","status":"requires_payment_method","amount":1,"currency":"usd",
                "created":1,"last_payment_error":{"code":"card_declined",
                "decline_code":"insufficient_funds","message":"No funds."}}"#,
        );
        assert!(matches!(
            outcome(&declined),
            Err(GatewayError::Declined(d))
                if d.category == DeclineCategory::InsufficientFunds && d.payment.as_deref() == Some("pi_1")
        ));
    }

    #[test]
    fn captures_and_voids_are_the_payment_s_modifications() {
        let captured = intent(include_bytes!("wire/fixtures/payment_intent.json"));
        let payment = captured.payment().unwrap();
        let m = modification(
            payment,
            Some(Money {
                amount: 2000,
                currency: "USD".into(),
            }),
        );
        assert_eq!(
            (m.id.as_str(), m.payment.as_str()),
            ("pi_IdTrhNHSk4NA9vyezFOE2IXP", "pi_IdTrhNHSk4NA9vyezFOE2IXP")
        );
        assert_eq!(m.status, ModificationStatus::Succeeded);
        assert_eq!(m.payment_after.unwrap().amount_captured, 2000);
        let processing = intent(
            br#"{"id":"pi_1","status":"processing","amount":1,"currency":"usd","created":1}"#,
        );
        let m = modification(processing.payment().unwrap(), None);
        assert_eq!(m.status, ModificationStatus::Pending);
        assert!(m.amount.is_none());
    }
}
