//! `tokens`: customers and their stored cards (Customers, PaymentMethods, SetupIntents).

use omnicrm_gateway_sdk::exports::omnicrm::payments::tokens::{
    Customer, CustomerRequest, Guest, StoredCard,
};
use omnicrm_gateway_sdk::http::Method;
use omnicrm_gateway_sdk::log;
use omnicrm_gateway_sdk::omnicrm::payments::types::{ActionRequired, GatewayError};

use crate::Stripe;
use crate::client::{Client, check_id, step_key};
use crate::errors::{Target, failure, invalid, not_found, unusable};
use crate::form::{Form, encode};
use crate::wire::{self, CRM_ID, PaymentMethod, SearchResult, SetupIntent, SetupIntentStatus};

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
            let pm: PaymentMethod = client.post(
                "/v1/payment_methods",
                &form,
                Some(&key),
                Target::new("card", token),
            )?;
            pm.id
        } else if token.starts_with("pm_") {
            check_id("token", "token", token)?.to_owned()
        } else {
            return Err(invalid("token", "expected a Stripe pm_ or tok_ token"));
        };

        let mut form = Form::new();
        form.add("customer", customer);
        let key = step_key(&idempotency_key, "attach")?;
        let path = format!("/v1/payment_methods/{}/attach", encode(&pm_id));
        let pm: PaymentMethod =
            client.post(&path, &form, Some(&key), Target::new("card", &pm_id))?;
        // A test value (`pm_card_visa`) attaches as a fresh method: use the id Stripe returns.
        let pm_id = pm.id.clone();
        // Only cards are set up for off-session charges.
        let card = pm
            .stored_card(customer, make_default)
            .map_err(|e| unusable(Method::Post, e.to_string(), None))?;

        // Set the card up for off-session use: the bank may ask for authentication once.
        let mut form = Form::new();
        form.add("customer", customer)
            .add("payment_method", &pm_id)
            .add("payment_method_types[]", "card")
            .add("usage", "off_session")
            .add("confirm", "true");
        let key = step_key(&idempotency_key, "setup_intent")?;
        let setup: SetupIntent = client.post(
            "/v1/setup_intents",
            &form,
            Some(&key),
            Target::new("card", &pm_id),
        )?;
        match &setup.status {
            SetupIntentStatus::Succeeded | SetupIntentStatus::Processing => {}
            SetupIntentStatus::RequiresAction | SetupIntentStatus::RequiresConfirmation => {
                return Err(GatewayError::ActionRequired(ActionRequired {
                    next_action: setup.next_action(),
                    payment: setup.id,
                    customer_message: "The card issuer asks the customer to authenticate the card."
                        .into(),
                    request_id: None,
                }));
            }
            // Refused, cancelled, or a status this plugin does not know: the card is attached
            // but not known to be usable off-session.
            other => {
                return Err(GatewayError::OutcomeUnknown(failure(
                    format!(
                        "setup intent {} ended in status {}",
                        setup.id,
                        other.as_str()
                    ),
                    None,
                )));
            }
        }

        if make_default {
            set_default(&client, customer, &pm_id)?;
        }
        Ok(card)
    }

    fn list_cards(customer: String) -> Result<Vec<StoredCard>, GatewayError> {
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
        let _: PaymentMethod = client.post(&path, &Form::new(), None, Target::new("card", card))?;
        Ok(())
    }
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
