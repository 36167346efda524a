//! `tokens`: shoppers, their stored cards and card sessions.
//!
//! Adyen has no customer object: a shopper is a `shopperReference` the merchant chooses, and a
//! card is stored by a payment made with `storePaymentMethod` (here a zero-amount one). Stored
//! cards are listed and deleted by shopper (`/storedPaymentMethods`).

use omnicrm_gateway_sdk::charging::PaymentStatus;
use omnicrm_gateway_sdk::http::Method;
use omnicrm_gateway_sdk::log;
use omnicrm_gateway_sdk::time;
use omnicrm_gateway_sdk::tokens::{
    CardSession, CardSessionRequest, Customer, CustomerRequest, StoreCardRequest, StoredCard,
};
use omnicrm_gateway_sdk::types::{GatewayError, Money};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::cards;
use crate::client::{Client, encode};
use crate::config::Config;
use crate::dates;
use crate::errors::{Target, unusable};
use crate::keys::{self, check_id, check_key, check_shopper, step_key};
use crate::money;
use crate::outcome::{self, ADYEN_WEB, Asked};
use crate::wire::{
    self, PaymentMethod, PaymentRequest, PaymentResponse, Session, SessionRequest, SessionResult,
    SessionStatus, StoredMethod, StoredMethods, to_json,
};

/// The shopper of a CRM customer: a reference derived from the CRM id (see
/// [`keys::shopper_reference`]), with no call to Adyen, which keeps no customer objects. Nothing
/// is created, so `created` is false.
pub fn ensure_customer(
    request: CustomerRequest,
    idempotency_key: String,
) -> Result<Customer, GatewayError> {
    check_key(&idempotency_key)?;
    // Taken as given: the CRM validates its identifiers, and a plugin that trimmed or folded
    // them would give two CRM customers one shopper.
    let crm_id = request.crm_customer_id.as_str();
    if crm_id.is_empty() || crm_id.len() > 200 {
        return Err(GatewayError::invalid_input(
            "crm-customer-id",
            "must be 1 to 200 characters",
        ));
    }
    if crm_id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(GatewayError::invalid_input(
            "crm-customer-id",
            "must not contain white space or control characters",
        ));
    }
    Ok(Customer {
        id: keys::shopper_reference(crm_id),
        crm_customer_id: request.crm_customer_id,
        default_card: None,
        created: false,
    })
}

/// What a `store-card` token names.
#[derive(Debug)]
enum Token {
    /// The card form's `paymentMethod` object (encrypted fields).
    PaymentMethod(Box<RawValue>),
    /// A card the shopper already has at Adyen: what `complete-action` answers as the payment's
    /// `card` after the shopper authenticated a card set-up, or what a `card-stored` event names.
    Stored(String),
    /// A card session's result, as Adyen Web hands it back.
    Session { id: String, result: String },
}

/// `{"sessionId": ..., "sessionResult": ...}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionToken {
    session_id: String,
    session_result: String,
}

fn invalid_token(message: impl Into<String>) -> GatewayError {
    GatewayError::invalid_input("token", message)
}

impl Token {
    /// Reads a token; anything else is `invalid-input` on `token`.
    fn parse(token: &str) -> Result<Token, GatewayError> {
        let token = token.trim();
        if !token.starts_with('{') {
            return check_id("token", token)
                .map(|id| Token::Stored(id.to_owned()))
                .map_err(|_| {
                    invalid_token(
                        "expected the card form's paymentMethod JSON, a card session's result, or a stored card id",
                    )
                });
        }
        let object: Map<String, Value> = wire::decode(token.as_bytes())
            .map_err(|e| invalid_token(format!("not a JSON object: {e}")))?;
        if object.contains_key("sessionId") {
            let session: SessionToken = wire::decode(token.as_bytes())
                .map_err(|e| invalid_token(format!("not a card session's result: {e}")))?;
            return Ok(Token::Session {
                id: check_id("token", &session.session_id)?.to_owned(),
                result: session.session_result,
            });
        }
        // Adyen Web's `state.data` carries the payment method under `paymentMethod`.
        let method = match object.get("paymentMethod") {
            Some(Value::Object(method)) => method,
            Some(_) => return Err(invalid_token("`paymentMethod` is not an object")),
            None => &object,
        };
        if !method.contains_key("type") && !method.keys().any(|k| k.starts_with("encrypted")) {
            return Err(invalid_token(
                "not a card payment method: no `type` or encrypted fields",
            ));
        }
        // The contract carries no card numbers: only the card form's encrypted fields.
        if ["number", "cvc", "expiryMonth", "expiryYear"]
            .iter()
            .any(|k| method.contains_key(*k))
        {
            return Err(invalid_token(
                "raw card data is not accepted: send the card form's encrypted fields",
            ));
        }
        let text = serde_json::to_string(method).unwrap_or_default();
        RawValue::from_string(text)
            .map(Token::PaymentMethod)
            .map_err(|e| invalid_token(e.to_string()))
    }
}

/// Stores a card. With the card form's token, a zero-amount payment tokenizes it
/// (`storePaymentMethod`, the shopper, `shopperInteraction: Ecommerce`, the
/// `store-recurring-model`); a card that needs 3-D Secure is `action-required` with the payment,
/// which `complete-action` finishes, answering the stored card's id as the payment's `card`;
/// `store-card` with that id as the token then answers the stored card. A card session's result
/// is checked with Adyen and answers the card the session stored.
pub fn store_card(request: StoreCardRequest) -> Result<StoredCard, GatewayError> {
    let customer = check_shopper(&request.customer)?;
    let key = step_key(&request.idempotency_key, "store")?;
    let token = Token::parse(&request.token)?;
    let config = Config::load()?;
    let client = Client::new(&config);
    match token {
        Token::Stored(id) => find_card(&client, &config, customer, &id, None),
        Token::Session { id, result } => session_card(&client, &config, customer, &id, &result),
        Token::PaymentMethod(method) => {
            let amount = money::to_adyen(
                &Money {
                    amount: 0,
                    currency: config.default_currency.clone(),
                },
                false,
            )?;
            let body = PaymentRequest {
                merchant_account: &config.merchant_account,
                amount,
                reference: keys::reference(&request.idempotency_key),
                payment_method: PaymentMethod::Given(&method),
                shopper_reference: customer,
                shopper_interaction: "Ecommerce",
                recurring_processing_model: config.store_model,
                store_payment_method: Some(true),
                return_url: config.return_url(request.return_url.as_deref())?,
                metadata: wire::Pairs(&[]),
                additional_data: wire::Pairs(&[]),
            };
            let answer: PaymentResponse =
                client.post("/payments", to_json(&body), &key, Target::new("card", ""))?;
            stored_by(&client, &config, customer, &answer)
        }
    }
}

/// The card a card set-up's answer stored.
fn stored_by(
    client: &Client<'_>,
    config: &Config,
    customer: &str,
    answer: &PaymentResponse,
) -> Result<StoredCard, GatewayError> {
    let asked = Asked {
        amount: Money {
            amount: 0,
            currency: config.default_currency.clone(),
        },
        customer: Some(customer.to_owned()),
        card: None,
        description: None,
        metadata: Vec::new(),
        manual_capture: false,
        merchant_initiated: false,
        now: time::unix_now(),
    };
    // Declines and actions come back as errors.
    let payment = outcome::payment(answer, &asked)?;
    let psp = Some(payment.id.clone());
    let Some(id) = answer.stored_method_id() else {
        return Err(if payment.status == PaymentStatus::Processing {
            GatewayError::outcome_unknown(
                "Adyen is still processing the card set-up; a card-stored event will name the card",
            )
            .with_request_id(psp)
        } else {
            unusable(
                Method::Post,
                "the card set-up was authorised but Adyen named no stored payment method",
                psp,
            )
        });
    };
    match cards::from_payment(answer, id, customer) {
        Some(card) => Ok(card),
        None => find_card(client, config, customer, id, Some(answer)),
    }
}

/// The shopper's stored methods.
fn stored_methods(
    client: &Client<'_>,
    config: &Config,
    customer: &str,
) -> Result<Vec<StoredMethod>, GatewayError> {
    let path = format!(
        "/storedPaymentMethods?shopperReference={}&merchantAccount={}",
        encode(customer),
        encode(&config.merchant_account)
    );
    let list: StoredMethods = client.get(&path, Target::new("customer", customer))?;
    Ok(list.stored_payment_methods)
}

/// The shopper's stored card `id`, with what the storing payment's answer adds.
fn find_card(
    client: &Client<'_>,
    config: &Config,
    customer: &str,
    id: &str,
    answer: Option<&PaymentResponse>,
) -> Result<StoredCard, GatewayError> {
    let method = stored_methods(client, config, customer)?
        .into_iter()
        .find(|m| m.id == id && m.is_card())
        .ok_or_else(|| GatewayError::not_found("card", id))?;
    let card = cards::from_stored(&method, customer).map_err(|e| unusable(Method::Get, e, None))?;
    Ok(match answer {
        Some(answer) => cards::with_payment_facts(card, answer),
        None => card,
    })
}

/// The card a completed card session stored.
fn session_card(
    client: &Client<'_>,
    config: &Config,
    customer: &str,
    id: &str,
    result: &str,
) -> Result<StoredCard, GatewayError> {
    let path = format!("/sessions/{id}?sessionResult={}", encode(result));
    let session: SessionResult = client.get(&path, Target::new("card", id))?;
    match &session.status {
        SessionStatus::Completed => {}
        other => {
            return Err(invalid_token(format!(
                "the card session {} is {}, not completed",
                session.id,
                other.as_str()
            )));
        }
    }
    let stored = session
        .additional_data
        .non_empty("tokenization.storedPaymentMethodId")
        .or_else(|| session.additional_data.non_empty("recurring.recurringDetailReference"))
        .ok_or_else(|| {
            invalid_token(
                "Adyen's session result names no stored card: store the card the card-stored event names (its id is the token)",
            )
        })?;
    find_card(client, config, customer, check_id("token", stored)?, None)
}

/// Starts an Adyen Web session for storing a card: `POST /sessions` with a zero amount, the
/// shopper, `storePaymentMethodMode: enabled` and the return URL. The `client-config` is
/// `{"client_key", "environment", "session": {"id", "sessionData"}}` (`client-key` and
/// `environment` settings); `hosted-url` is the `card-form-url` setting with `return_url` and
/// `state` (the session id) added to its query, or none without it.
pub fn start_card_session(request: CardSessionRequest) -> Result<CardSession, GatewayError> {
    let customer = check_shopper(&request.customer)?;
    let key = step_key(&request.idempotency_key, "session")?;
    let config = Config::load()?;
    let client_key = config.client_key.clone().ok_or_else(|| {
        GatewayError::configuration(
            "start-card-session needs the setting `client-key` (Adyen Web's key)",
        )
    })?;
    let currency = request
        .currency
        .clone()
        .unwrap_or_else(|| config.default_currency.clone());
    let amount = money::to_adyen(
        &Money {
            amount: 0,
            currency,
        },
        false,
    )?;
    let return_url = config.return_url(request.return_url.as_deref())?;
    let body = SessionRequest {
        merchant_account: &config.merchant_account,
        amount,
        reference: keys::reference(&request.idempotency_key),
        return_url,
        shopper_reference: customer,
        store_payment_method_mode: "enabled",
        recurring_processing_model: config.store_model,
        shopper_interaction: "Ecommerce",
    };
    let client = Client::new(&config);
    let session: Session = client.post(
        "/sessions",
        to_json(&body),
        &key,
        Target::new("customer", customer),
    )?;
    let client_config = serde_json::json!({
        "client_key": client_key,
        "environment": config.environment,
        "session": {"id": session.id, "sessionData": session.session_data},
    });
    let hosted_url = config.card_form_url.as_deref().map(|form| {
        let separator = if form.contains('?') { '&' } else { '?' };
        format!(
            "{form}{separator}return_url={}&state={}",
            encode(return_url),
            encode(&session.id)
        )
    });
    Ok(CardSession {
        id: session.id.clone(),
        sdk: ADYEN_WEB.into(),
        client_config: client_config.to_string(),
        hosted_url,
        expires_at: session.expires_at.as_deref().and_then(dates::unix_seconds),
    })
}

/// The shopper's stored cards. Adyen's list has no creation dates and documents no order: the
/// plugin reverses it (the emulator lists oldest first), so that the newest comes first. No card
/// is the default. Methods that are not cards are left out, and so is a card Adyen describes
/// without a valid last four or expiry (logged).
pub fn list_cards(customer: String) -> Result<Vec<StoredCard>, GatewayError> {
    let customer = check_shopper(&customer)?;
    let config = Config::load()?;
    let client = Client::new(&config);
    let mut cards = Vec::new();
    for method in stored_methods(&client, &config, customer)?.iter().rev() {
        if !method.is_card() {
            continue;
        }
        match cards::from_stored(method, customer) {
            Ok(card) => cards.push(card),
            Err(why) => log!(warn, "left out of the list: {why}"),
        }
    }
    Ok(cards)
}

/// Adyen keeps no default card: nothing to do once the ids are valid.
pub fn set_default_card(customer: String, card: String) -> Result<(), GatewayError> {
    check_shopper(&customer)?;
    check_id("card", &card)?;
    Ok(())
}

/// Deletes the stored card (`DELETE /storedPaymentMethods/{id}`). A repeat of a deletion an
/// earlier attempt of this call may have done (the answer was lost, Adyen now says "Contract not
/// found") is the deletion done.
pub fn remove_card(customer: String, card: String) -> Result<(), GatewayError> {
    let customer = check_shopper(&customer)?;
    let card = check_id("card", &card)?;
    let config = Config::load()?;
    let path = format!(
        "/storedPaymentMethods/{card}?shopperReference={}&merchantAccount={}",
        encode(customer),
        encode(&config.merchant_account)
    );
    match Client::new(&config).delete(&path, Target::new("card", card)) {
        Ok(()) => Ok(()),
        Err(failed)
            if failed.maybe_processed
                && failed.service.as_ref().is_some_and(|s| s.code() == "800") =>
        {
            Ok(())
        }
        Err(failed) => Err(failed.error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer(crm_id: &str) -> Result<Customer, GatewayError> {
        ensure_customer(
            CustomerRequest {
                crm_customer_id: crm_id.into(),
                email: Some("ada@example.com".into()),
                name: None,
                phone: None,
                metadata: Vec::new(),
            },
            "cus-1".into(),
        )
    }

    #[test]
    fn customers_are_shopper_references_without_a_call() {
        let c = customer("CRM-42").unwrap();
        assert_eq!(
            (c.id.as_str(), c.crm_customer_id.as_str()),
            ("CRM-42", "CRM-42")
        );
        assert!(!c.created && c.default_card.is_none());
        let short = customer("7").unwrap();
        assert!(short.id.starts_with("omnicrm-sha256-") && short.crm_customer_id == "7");
        assert_ne!(customer("a").unwrap().id, customer("A").unwrap().id);
        for bad in ["", "with space", "tab\t", &"x".repeat(201)] {
            assert!(
                matches!(customer(bad), Err(GatewayError::InvalidInput(i)) if i.field == "crm-customer-id"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn tokens_are_payment_methods_sessions_or_stored_ids() {
        let form = r#"{"type":"scheme","encryptedCardNumber":"test_4111111111111111","encryptedExpiryMonth":"test_03","encryptedExpiryYear":"test_2030","encryptedSecurityCode":"test_737"}"#;
        match Token::parse(form).unwrap() {
            Token::PaymentMethod(raw) => assert!(raw.get().contains("test_4111111111111111")),
            other => panic!("{other:?}"),
        }
        // Adyen Web's `state.data`.
        let state = format!(r#"{{"paymentMethod":{form},"browserInfo":{{"userAgent":"x"}}}}"#);
        match Token::parse(&state).unwrap() {
            Token::PaymentMethod(raw) => assert!(!raw.get().contains("browserInfo")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            Token::parse(r#"{"sessionId":"CS1950D685FDA130F6","sessionResult":"Ab02b4c0!x"}"#).unwrap(),
            Token::Session { id, result } if id == "CS1950D685FDA130F6" && result == "Ab02b4c0!x"
        ));
        assert!(
            matches!(Token::parse(" QQK5F3YZ6I521VJV ").unwrap(), Token::Stored(id) if id == "QQK5F3YZ6I521VJV")
        );
        for bad in [
            "",
            "pm_card_visa",
            "{",
            "[1]",
            r#"{"colour":"red"}"#,
            r#"{"paymentMethod":"x"}"#,
            r#"{"type":"scheme","number":"4111111111111111","cvc":"737"}"#,
            r#"{"sessionId":"CS1"}"#,
            r#"{"sessionId":"../x","sessionResult":"r"}"#,
        ] {
            assert!(
                matches!(Token::parse(bad), Err(GatewayError::InvalidInput(i)) if i.field == "token"),
                "{bad}"
            );
        }
    }
}
