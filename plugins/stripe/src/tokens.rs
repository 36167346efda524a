//! `tokens`: customers and their stored cards (Customers, PaymentMethods, SetupIntents).

use omnicrm_gateway_sdk::exports::omnicrm::payments::tokens::{
    CardFunding, Customer, CustomerRequest, Guest, StoredCard,
};
use omnicrm_gateway_sdk::omnicrm::payments::types::{ActionRequired, GatewayError};

use omnicrm_gateway_sdk::log;

use crate::Stripe;
use crate::client::{Client, check_id, step_key};
use crate::errors::{Target, failure, invalid, next_action, not_found};
use crate::form::{Form, encode};
use crate::json::Json;

const CRM_ID: &str = "crm_customer_id";

impl Guest for Stripe {
    fn ensure_customer(
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
            return Ok(customer(&existing, crm_id, false));
        }
        // The create carries the caller's key: a repeat (a retry, a race, a crash before the CRM
        // recorded the answer) replays the customer created the first time.
        let mut form = Form::new();
        form.opt("email", request.email.as_ref())
            .opt("name", request.name.as_ref())
            .opt("phone", request.phone.as_ref())
            .metadata(&request.metadata)
            .nested("metadata", CRM_ID, crm_id);
        let created = client.post("/v1/customers", &form, Some(&key), Target::any("customer"))?;
        if created.get("id").str().is_none_or(str::is_empty) {
            return Err(unexpected("customer without id"));
        }
        Ok(customer(&created, crm_id, true))
    }

    fn store_card(
        customer: String,
        token: String,
        make_default: bool,
        idempotency_key: String,
    ) -> Result<StoredCard, GatewayError> {
        let customer = check_id("customer", "customer", &customer)?;
        let token = token.trim();
        let client = Client::from_config()?;

        let pm_id = if token.starts_with("tok_") {
            check_id("token", "token", token)?;
            let mut form = Form::new();
            form.add("type", "card").nested("card", "token", token);
            let key = step_key(&idempotency_key, "payment_method")?;
            let pm = client.post(
                "/v1/payment_methods",
                &form,
                Some(&key),
                Target::new("card", token),
            )?;
            pm.get("id")
                .string()
                .ok_or_else(|| unexpected("payment method without id"))?
        } else if token.starts_with("pm_") {
            check_id("token", "token", token)?.to_owned()
        } else {
            return Err(invalid("token", "expected a Stripe pm_ or tok_ token"));
        };

        let mut form = Form::new();
        form.add("customer", customer);
        let key = step_key(&idempotency_key, "attach")?;
        let path = format!("/v1/payment_methods/{}/attach", encode(&pm_id));
        let pm = client.post(&path, &form, Some(&key), Target::new("card", &pm_id))?;
        // A test value (`pm_card_visa`) attaches as a fresh method: use the id Stripe returns.
        let pm_id = pm.get("id").string().unwrap_or(pm_id);

        // Set the card up for off-session use: the bank may ask for authentication once.
        let mut form = Form::new();
        form.add("customer", customer)
            .add("payment_method", &pm_id)
            .add("payment_method_types[]", "card")
            .add("usage", "off_session")
            .add("confirm", "true");
        let key = step_key(&idempotency_key, "setup_intent")?;
        let setup = client.post(
            "/v1/setup_intents",
            &form,
            Some(&key),
            Target::new("card", &pm_id),
        )?;
        match setup.get("status").str() {
            Some("succeeded") | Some("processing") => {}
            Some("requires_action") | Some("requires_confirmation") => {
                return Err(GatewayError::ActionRequired(ActionRequired {
                    payment: setup.get("id").string().unwrap_or_default(),
                    next_action: next_action(&setup),
                    customer_message: "The card issuer asks the customer to authenticate the card."
                        .into(),
                    request_id: None,
                }));
            }
            other => {
                return Err(GatewayError::OutcomeUnknown(failure(
                    format!("setup intent ended in status {}", other.unwrap_or("?")),
                    None,
                )));
            }
        }

        if make_default {
            set_default(&client, customer, &pm_id)?;
        }
        Ok(stored_card(&pm, customer, make_default))
    }

    fn list_cards(customer: String) -> Result<Vec<StoredCard>, GatewayError> {
        let customer = check_id("customer", "customer", &customer)?;
        let client = Client::from_config()?;
        let target = Target::new("customer", customer);
        let cus = client.get(
            &format!("/v1/customers/{}", encode(customer)),
            &Form::new(),
            target,
        )?;
        if cus.get("deleted").bool() == Some(true) {
            return Err(not_found("customer", customer));
        }
        let default = cus.path("invoice_settings.default_payment_method").id();

        let mut cards = Vec::new();
        let mut query = Form::new();
        query.add("type", "card");
        let path = format!("/v1/customers/{}/payment_methods", encode(customer));
        client.walk(&path, &query, None, target, |pm| {
            let is_default = default.is_some() && pm.get("id").id() == default;
            cards.push(stored_card(pm, customer, is_default));
        })?;
        // Default first, then newest first (Stripe lists newest first; the sort is stable).
        cards.sort_by_key(|c| !c.is_default);
        Ok(cards)
    }

    fn set_default_card(customer: String, card: String) -> Result<(), GatewayError> {
        let customer = check_id("customer", "customer", &customer)?;
        let card = check_id("card", "card", &card)?;
        let client = Client::from_config()?;
        owned_card(&client, customer, card)?;
        set_default(&client, customer, card)
    }

    fn remove_card(customer: String, card: String) -> Result<(), GatewayError> {
        let customer = check_id("customer", "customer", &customer)?;
        let card = check_id("card", "card", &card)?;
        let client = Client::from_config()?;
        owned_card(&client, customer, card)?;
        let path = format!("/v1/payment_methods/{}/detach", encode(card));
        // No caller key: the client's per-call key covers this call's retries, and a repeated
        // call finds the card no longer attached (`not-found`) before detaching anything.
        client.post(&path, &Form::new(), None, Target::new("card", card))?;
        Ok(())
    }
}

/// Fetches a card and checks it belongs to the customer (another customer's card is not found).
fn owned_card(client: &Client, customer: &str, card: &str) -> Result<Json, GatewayError> {
    let path = format!("/v1/payment_methods/{}", encode(card));
    let pm = client.get(&path, &Form::new(), Target::new("card", card))?;
    if pm.get("customer").id().as_deref() != Some(customer) {
        return Err(not_found("card", card));
    }
    Ok(pm)
}

fn set_default(client: &Client, customer: &str, card: &str) -> Result<(), GatewayError> {
    let mut form = Form::new();
    form.nested("invoice_settings", "default_payment_method", card);
    // Setting the same default again is harmless: no caller key (a derived one would replay an
    // old answer after the default changed in between); the client keys this call's retries.
    let path = format!("/v1/customers/{}", encode(customer));
    client.post(&path, &form, None, Target::new("customer", customer))?;
    Ok(())
}

/// The customer an earlier call created for `crm_id`, found through Stripe's customer search.
///
/// Only a safety net for creates older than Stripe keeps idempotency keys (24 hours): the search
/// index lags writes by up to a minute, is missing on some accounts and regions and from simpler
/// Stripe test doubles, so any failure of it is ignored and the idempotent create decides. Only
/// an exact match of the CRM id counts.
fn search_customer(client: &Client, crm_id: &str) -> Option<Json> {
    let mut query = Form::new();
    // Search query language: single-quoted string, quotes and backslashes escaped.
    let escaped = crm_id.replace('\\', "\\\\").replace('\'', "\\'");
    query
        .add("query", format!("metadata['{CRM_ID}']:'{escaped}'"))
        .add("limit", 10);
    match client.get("/v1/customers/search", &query, Target::any("customer")) {
        Ok(found) => found
            .get("data")
            .arr()
            .iter()
            .find(|c| {
                c.path("metadata.crm_customer_id").str() == Some(crm_id)
                    && c.get("id").str().is_some_and(|id| !id.is_empty())
            })
            .cloned(),
        Err(_) => {
            log!(
                debug,
                "customer search unavailable; creating the customer with the idempotency key"
            );
            None
        }
    }
}

fn unexpected(what: &str) -> GatewayError {
    GatewayError::OutcomeUnknown(failure(format!("unexpected Stripe response: {what}"), None))
}

fn customer(cus: &Json, crm_id: &str, created: bool) -> Customer {
    Customer {
        id: cus.get("id").string().unwrap_or_default(),
        crm_customer_id: cus
            .path("metadata.crm_customer_id")
            .string()
            .unwrap_or_else(|| crm_id.to_owned()),
        default_card: cus.path("invoice_settings.default_payment_method").id(),
        created,
    }
}

pub(crate) fn stored_card(pm: &Json, customer: &str, is_default: bool) -> StoredCard {
    let card = pm.get("card");
    let brand = match card.get("brand").str().unwrap_or("unknown") {
        b @ ("visa" | "mastercard" | "amex" | "discover" | "jcb" | "unionpay" | "diners") => b,
        _ => "unknown",
    };
    StoredCard {
        id: pm.get("id").string().unwrap_or_default(),
        customer: pm
            .get("customer")
            .id()
            .unwrap_or_else(|| customer.to_owned()),
        brand: brand.to_owned(),
        last4: card.get("last4").string().unwrap_or_default(),
        exp_month: card.get("exp_month").int().unwrap_or(0),
        exp_year: card.get("exp_year").int().unwrap_or(0),
        fingerprint: card.get("fingerprint").string(),
        funding: match card.get("funding").str() {
            Some("credit") => CardFunding::Credit,
            Some("debit") => CardFunding::Debit,
            Some("prepaid") => CardFunding::Prepaid,
            _ => CardFunding::Unknown,
        },
        country: card.get("country").string(),
        is_default,
    }
}
