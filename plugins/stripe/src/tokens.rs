//! `tokens`: customers, their stored cards and card sessions (Customers, PaymentMethods,
//! SetupIntents).

use omnicrm_gateway_sdk::http::Method;
use omnicrm_gateway_sdk::tokens::{
    CardSession, CardSessionRequest, Customer, CustomerRequest, StoreCardRequest, StoredCard,
};
use omnicrm_gateway_sdk::types::{ActionRequired, GatewayError};
use omnicrm_gateway_sdk::{log, settings};
use serde::Serialize;

use crate::client::{Client, check_id, step_key};
use crate::errors::{Target, failure, invalid, not_found, unusable};
use crate::form::{Form, encode};
use crate::wire::{self, CRM_ID, PaymentMethod, SearchResult, SetupIntent, SetupIntentStatus};

pub fn ensure_customer(
    request: CustomerRequest,
    idempotency_key: String,
) -> Result<Customer, GatewayError> {
    // Taken as given: the CRM validates its identifiers, and a plugin that trimmed or folded
    // them would link two CRM customers to one gateway customer.
    let crm_id = request.crm_customer_id.as_str();
    if crm_id.is_empty() || crm_id.len() > 200 {
        return Err(invalid("crm-customer-id", "must be 1 to 200 characters"));
    }
    if crm_id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(
            "crm-customer-id",
            "must not contain white space or control characters",
        ));
    }
    let key = step_key(&idempotency_key, "customer")?;
    let client = Client::from_config()?;

    if let Some(existing) = search_customer(&client, crm_id) {
        return Ok(existing.record(crm_id, false));
    }
    // The create carries the caller's key: a repeat (a retry, a race, a crash before the CRM
    // recorded the answer) replays the customer created the first time.
    let mut form = Form::new();
    form.opt("email", request.email.as_ref())
        .opt("name", request.name.as_ref())
        .opt("phone", request.phone.as_ref())
        .metadata(&request.metadata)
        .nested("metadata", CRM_ID, crm_id);
    let created: wire::Customer =
        client.post("/v1/customers", &form, Some(&key), Target::any("customer"))?;
    Ok(created.record(crm_id, true))
}

/// What a `store-card` token names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CardSource<'a> {
    /// A PaymentMethod (`pm_...`, or a test value such as `pm_card_visa`).
    PaymentMethod(&'a str),
    /// A card token (`tok_...`), made into a PaymentMethod first.
    CardToken(&'a str),
    /// A SetupIntent of a card session (`seti_...`), which must have succeeded.
    SetupIntent(&'a str),
}

impl<'a> CardSource<'a> {
    /// Reads a token by its prefix; anything else is `invalid-input` on `token`.
    fn parse(token: &'a str) -> Result<CardSource<'a>, GatewayError> {
        let token = token.trim();
        let kind = if token.starts_with("pm_") {
            CardSource::PaymentMethod
        } else if token.starts_with("tok_") {
            CardSource::CardToken
        } else if token.starts_with("seti_") {
            CardSource::SetupIntent
        } else {
            return Err(invalid(
                "token",
                "expected a Stripe pm_ or tok_ token, or the seti_ of a card session",
            ));
        };
        Ok(kind(check_id("token", "token", token)?))
    }
}

pub fn store_card(request: StoreCardRequest) -> Result<StoredCard, GatewayError> {
    let customer = check_id("customer", "customer", &request.customer)?;
    let token = CardSource::parse(&request.token)?;
    let key = &request.idempotency_key;
    let client = Client::from_config()?;

    let pm = match token {
        CardSource::PaymentMethod(pm) => attach(&client, customer, pm, key)?,
        CardSource::CardToken(tok) => {
            let mut form = Form::new();
            form.add("type", "card").nested("card", "token", tok);
            let pm: PaymentMethod = client.post(
                "/v1/payment_methods",
                &form,
                Some(&step_key(key, "payment_method")?),
                Target::new("card", tok),
            )?;
            attach(&client, customer, &pm.id, key)?
        }
        CardSource::SetupIntent(seti) => {
            let pm_id = completed_setup(&client, customer, seti)?;
            session_card(&client, customer, &pm_id, key)?
        }
    };
    // A test value (`pm_card_visa`) attaches as a fresh method: use the id Stripe returns.
    let pm_id = pm.id.clone();
    // Only cards are set up for off-session charges.
    let card = pm
        .stored_card(customer, request.make_default)
        .map_err(|e| unusable(Method::Post, e.to_string(), None))?;
    // A card session's set-up already did it.
    if !matches!(token, CardSource::SetupIntent(_)) {
        set_up_off_session(
            &client,
            customer,
            &pm_id,
            request.return_url.as_deref(),
            key,
        )?;
    }
    if request.make_default {
        set_default(&client, customer, &pm_id)?;
    }
    Ok(card)
}

/// The card of a card session's SetupIntent, which must have succeeded for `customer` (the
/// customer authenticated the card in the session: it is set up for off-session charges).
fn completed_setup(client: &Client, customer: &str, seti: &str) -> Result<String, GatewayError> {
    let path = format!("/v1/setup_intents/{}", encode(seti));
    let setup: SetupIntent = client.get(&path, &Form::new(), Target::new("card", seti))?;
    if setup.customer_id().is_some_and(|c| c != customer) {
        return Err(not_found("card", seti));
    }
    match &setup.status {
        SetupIntentStatus::Succeeded => {}
        SetupIntentStatus::RequiresAction | SetupIntentStatus::RequiresConfirmation => {
            return Err(GatewayError::ActionRequired(ActionRequired {
                next_action: setup.next_action(),
                payment: setup.id,
                customer_message: "The card issuer asks the customer to authenticate the card."
                    .into(),
                request_id: None,
            }));
        }
        other => {
            return Err(invalid(
                "token",
                format!(
                    "the card session {} is {}, not succeeded",
                    setup.id,
                    other.as_str()
                ),
            ));
        }
    }
    setup
        .payment_method_id()
        .ok_or_else(|| invalid("token", format!("the card session {seti} holds no card")))
}

/// Attaches the card to the customer.
fn attach(
    client: &Client,
    customer: &str,
    pm_id: &str,
    key: &str,
) -> Result<PaymentMethod, GatewayError> {
    let mut form = Form::new();
    form.add("customer", customer);
    let path = format!("/v1/payment_methods/{}/attach", encode(pm_id));
    client.post(
        &path,
        &form,
        Some(&step_key(key, "attach")?),
        Target::new("card", pm_id),
    )
}

/// The card of a card session: Stripe attaches it to the customer when the set-up succeeds; one
/// that is not attached (a set-up made without the customer) is attached now, and one attached
/// to another customer is not found.
fn session_card(
    client: &Client,
    customer: &str,
    pm_id: &str,
    key: &str,
) -> Result<PaymentMethod, GatewayError> {
    let path = format!("/v1/payment_methods/{}", encode(pm_id));
    let pm: PaymentMethod = client.get(&path, &Form::new(), Target::new("card", pm_id))?;
    match pm.customer_id() {
        Some(owner) if owner == customer => Ok(pm),
        Some(_) => Err(not_found("card", pm_id)),
        None => attach(client, customer, pm_id, key),
    }
}

/// Sets the card up for off-session use with a confirmed SetupIntent: the bank may ask the
/// customer to authenticate once (`action-required`, whose `payment` is the SetupIntent; with a
/// `return-url`, Stripe answers a redirect back to it).
fn set_up_off_session(
    client: &Client,
    customer: &str,
    pm_id: &str,
    return_url: Option<&str>,
    key: &str,
) -> Result<(), GatewayError> {
    let mut form = Form::new();
    form.add("customer", customer)
        .add("payment_method", pm_id)
        .add("payment_method_types[]", "card")
        .add("usage", "off_session")
        .add("confirm", "true")
        .opt("return_url", return_url);
    let setup: SetupIntent = client.post(
        "/v1/setup_intents",
        &form,
        Some(&step_key(key, "setup_intent")?),
        Target::new("card", pm_id),
    )?;
    match &setup.status {
        SetupIntentStatus::Succeeded | SetupIntentStatus::Processing => Ok(()),
        SetupIntentStatus::RequiresAction | SetupIntentStatus::RequiresConfirmation => {
            Err(GatewayError::ActionRequired(ActionRequired {
                next_action: setup.next_action(),
                payment: setup.id,
                customer_message: "The card issuer asks the customer to authenticate the card."
                    .into(),
                request_id: None,
            }))
        }
        // Refused, cancelled, or a status this plugin does not know: the card is attached
        // but not known to be usable off-session.
        other => Err(GatewayError::OutcomeUnknown(failure(
            format!(
                "setup intent {} ended in status {}",
                setup.id,
                other.as_str()
            ),
            None,
        ))),
    }
}

/// Starts a card session: an off-session SetupIntent for the customer, which the gateway's card
/// form (Stripe Elements, with the setting `publishable-key`) confirms in the customer's browser.
/// The CRM then stores the card with the SetupIntent (`seti_...`) as the token. With the setting
/// `card-form-url`, `hosted-url` is that page with `setup_intent`, `client_secret` and
/// `return_url` in its query (Stripe hosts no such page for a SetupIntent: the CRM's own page, or
/// a test double's test card form).
pub fn start_card_session(request: CardSessionRequest) -> Result<CardSession, GatewayError> {
    let customer = check_id("customer", "customer", &request.customer)?;
    let key = step_key(&request.idempotency_key, "card_session")?;
    let publishable_key = settings::get("publishable-key")
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            GatewayError::configuration("setting `publishable-key` is needed for card sessions")
        })?;
    let client = Client::from_config()?;
    let mut form = Form::new();
    form.add("customer", customer)
        .add("payment_method_types[]", "card")
        .add("usage", "off_session");
    let setup: SetupIntent = client.post(
        "/v1/setup_intents",
        &form,
        Some(&key),
        Target::new("customer", customer),
    )?;
    let card_form = settings::get("card-form-url").filter(|u| !u.is_empty());
    card_session(
        setup,
        &publishable_key,
        card_form.as_deref(),
        request.return_url.as_deref(),
    )
}

/// Stripe Elements' configuration of a card session.
#[derive(Serialize)]
struct ElementsConfig<'a> {
    publishable_key: &'a str,
    client_secret: &'a str,
}

/// The session of a SetupIntent: see [`start_card_session`].
fn card_session(
    setup: SetupIntent,
    publishable_key: &str,
    card_form: Option<&str>,
    return_url: Option<&str>,
) -> Result<CardSession, GatewayError> {
    let client_secret = setup.client_secret.clone().ok_or_else(|| {
        unusable(
            Method::Post,
            format!("setup intent {} has no client secret", setup.id),
            None,
        )
    })?;
    let client_config = wire::to_json(&ElementsConfig {
        publishable_key,
        client_secret: &client_secret,
    });
    let hosted_url = card_form.map(|page| {
        let mut query = Form::new();
        query
            .add("setup_intent", &setup.id)
            .add("client_secret", &client_secret)
            .opt("return_url", return_url);
        let separator = if page.contains('?') { '&' } else { '?' };
        format!("{page}{separator}{}", query.encode())
    });
    Ok(CardSession {
        id: setup.id,
        sdk: "stripe-elements".into(),
        client_config,
        hosted_url,
        expires_at: None,
    })
}

pub fn list_cards(customer: String) -> Result<Vec<StoredCard>, GatewayError> {
    let customer = check_id("customer", "customer", &customer)?;
    let client = Client::from_config()?;
    let target = Target::new("customer", customer);
    let cus: wire::Customer = client.get(
        &format!("/v1/customers/{}", encode(customer)),
        &Form::new(),
        target,
    )?;
    if cus.deleted {
        return Err(not_found("customer", customer));
    }
    let default = cus.default_card();

    let mut cards = Vec::new();
    let mut query = Form::new();
    query.add("type", "card");
    let path = format!("/v1/customers/{}/payment_methods", encode(customer));
    client.walk(&path, &query, None, target, |pm: PaymentMethod| {
        let is_default = default.as_deref() == Some(pm.id.as_str());
        cards.push(pm.stored_card(customer, is_default));
    })?;
    let mut cards = cards
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| unusable(Method::Get, e.to_string(), None))?;
    // Default first, then newest first (Stripe lists newest first; the sort is stable).
    cards.sort_by_key(|c| !c.is_default);
    Ok(cards)
}

pub fn set_default_card(customer: String, card: String) -> Result<(), GatewayError> {
    let customer = check_id("customer", "customer", &customer)?;
    let card = check_id("card", "card", &card)?;
    let client = Client::from_config()?;
    owned_card(&client, customer, card)?;
    set_default(&client, customer, card)
}

pub fn remove_card(customer: String, card: String) -> Result<(), GatewayError> {
    let customer = check_id("customer", "customer", &customer)?;
    let card = check_id("card", "card", &card)?;
    let client = Client::from_config()?;
    owned_card(&client, customer, card)?;
    let path = format!("/v1/payment_methods/{}/detach", encode(card));
    // No caller key: the client's per-call key covers this call's retries, and a repeated
    // call finds the card no longer attached (`not-found`) before detaching anything.
    let _: PaymentMethod = client.post(&path, &Form::new(), None, Target::new("card", card))?;
    Ok(())
}

/// Fetches a card and checks it belongs to the customer (another customer's card is not found).
fn owned_card(client: &Client, customer: &str, card: &str) -> Result<(), GatewayError> {
    let path = format!("/v1/payment_methods/{}", encode(card));
    let pm: PaymentMethod = client.get(&path, &Form::new(), Target::new("card", card))?;
    if pm.customer_id().as_deref() != Some(customer) {
        return Err(not_found("card", card));
    }
    Ok(())
}

fn set_default(client: &Client, customer: &str, card: &str) -> Result<(), GatewayError> {
    let mut form = Form::new();
    form.nested("invoice_settings", "default_payment_method", card);
    // Setting the same default again is harmless: no caller key (a derived one would replay an
    // old answer after the default changed in between); the client keys this call's retries.
    let path = format!("/v1/customers/{}", encode(customer));
    let _: wire::Customer = client.post(&path, &form, None, Target::new("customer", customer))?;
    Ok(())
}

/// The customer an earlier call created for `crm_id`, found through Stripe's customer search.
///
/// Only a safety net for creates older than Stripe keeps idempotency keys (24 hours): the search
/// index lags writes by up to a minute, is missing on some accounts and regions and from simpler
/// Stripe test doubles, so any failure of it is ignored and the idempotent create decides. Only
/// an exact match of the CRM id counts.
fn search_customer(client: &Client, crm_id: &str) -> Option<wire::Customer> {
    let mut query = Form::new();
    // Search query language: single-quoted string, quotes and backslashes escaped.
    let escaped = crm_id.replace('\\', "\\\\").replace('\'', "\\'");
    query
        .add("query", format!("metadata['{CRM_ID}']:'{escaped}'"))
        .add("limit", 10);
    let found: Result<SearchResult<wire::Customer>, _> =
        client.get("/v1/customers/search", &query, Target::any("customer"));
    match found {
        Ok(found) => found.data.into_iter().find(|c| c.crm_id() == Some(crm_id)),
        Err(_) => {
            log!(
                debug,
                "customer search unavailable; creating the customer with the idempotency key"
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::decode;

    #[test]
    fn a_card_session_is_a_setup_intent_for_stripe_elements() {
        let setup: SetupIntent = decode(
            br#"{"id":"seti_1","status":"requires_payment_method","created":1,
                "client_secret":"seti_1_secret_x","customer":"cus_1"}"#,
        )
        .unwrap();
        let session = card_session(
            setup.clone(),
            "pk_test_1",
            Some("http://127.0.0.1:12111/_emulator/card_form?lang=en"),
            Some("https://crm.example/cards"),
        )
        .unwrap();
        assert_eq!(
            (session.id.as_str(), session.sdk.as_str()),
            ("seti_1", "stripe-elements")
        );
        let config: serde_json::Value = serde_json::from_str(&session.client_config).unwrap();
        assert_eq!(config["publishable_key"], "pk_test_1");
        assert_eq!(config["client_secret"], "seti_1_secret_x");
        assert_eq!(
            session.hosted_url.as_deref(),
            Some(
                "http://127.0.0.1:12111/_emulator/card_form?lang=en&setup_intent=seti_1\
                 &client_secret=seti_1_secret_x&return_url=https%3A%2F%2Fcrm.example%2Fcards"
            )
        );
        assert!(session.expires_at.is_none());
        let without_page = card_session(setup, "pk_test_1", None, None).unwrap();
        assert!(without_page.hosted_url.is_none());
        let no_secret: SetupIntent =
            decode(br#"{"id":"seti_2","status":"requires_payment_method","created":1}"#).unwrap();
        assert!(matches!(
            card_session(no_secret, "pk", None, None),
            Err(GatewayError::OutcomeUnknown(_))
        ));
    }

    #[test]
    fn tokens_are_read_by_their_prefix() {
        assert_eq!(
            CardSource::parse("pm_card_visa").unwrap(),
            CardSource::PaymentMethod("pm_card_visa")
        );
        assert_eq!(
            CardSource::parse(" tok_visa ").unwrap(),
            CardSource::CardToken("tok_visa")
        );
        assert_eq!(
            CardSource::parse("seti_123").unwrap(),
            CardSource::SetupIntent("seti_123")
        );
        for bad in ["4242424242424242", "src_1", "seti_1/../x", "tok_ visa", ""] {
            assert!(
                matches!(CardSource::parse(bad), Err(GatewayError::InvalidInput(ref i)) if i.field == "token"),
                "{bad}"
            );
        }
    }
}
