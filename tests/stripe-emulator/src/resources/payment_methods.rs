//! Payment methods: made from the test values (`pm_card_*`, `tok_*`, test numbers), attached,
//! detached (for good), listed, retrieved.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::cards::{self, Behaviour, TEST_CARDS, TestCard};
use crate::error::ApiError;
use crate::form::{Params, nested_str};
use crate::state::{Object, Page, State, new_id, update_metadata};

/// A card payment method.
#[derive(Debug, Clone, Serialize)]
pub struct PaymentMethod {
    /// `pm_...`
    pub id: String,
    /// `payment_method`
    pub object: &'static str,
    /// `unspecified`
    pub allow_redisplay: &'static str,
    /// Billing details (opaque).
    pub billing_details: Value,
    /// The card.
    pub card: CardDetails,
    /// Creation time.
    pub created: i64,
    /// The customer it is attached to.
    pub customer: Option<String>,
    /// Always false.
    pub livemode: bool,
    /// Metadata.
    pub metadata: BTreeMap<String, String>,
    /// `card`
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Index into [`TEST_CARDS`].
    #[serde(skip)]
    pub test_card: usize,
    /// Detached from its customer: can never be used again.
    #[serde(skip)]
    pub detached: bool,
    /// Set up for off-session use (by a SetupIntent or `setup_future_usage`).
    #[serde(skip)]
    pub set_up: bool,
}

/// `card` of a payment method.
#[derive(Debug, Clone, Serialize)]
pub struct CardDetails {
    /// Brand, lower case.
    pub brand: &'static str,
    /// Check results.
    pub checks: Value,
    /// Issuing country.
    pub country: &'static str,
    /// Brand to show.
    pub display_brand: &'static str,
    /// Expiry month.
    pub exp_month: u8,
    /// Expiry year.
    pub exp_year: i64,
    /// Equal for the same card number.
    pub fingerprint: String,
    /// credit / debit / prepaid
    pub funding: &'static str,
    /// Always null.
    pub generated_from: Option<Value>,
    /// Last four digits.
    pub last4: String,
    /// Networks.
    pub networks: Value,
    /// 3-D Secure support.
    pub three_d_secure_usage: Value,
    /// Always null.
    pub wallet: Option<Value>,
}

impl Object for PaymentMethod {
    const NAME: &'static str = "PaymentMethod";
    fn id(&self) -> &str {
        &self.id
    }
    fn created(&self) -> i64 {
        self.created
    }
}

impl PaymentMethod {
    /// The test card behind it.
    pub fn test_card(&self) -> &'static TestCard {
        &TEST_CARDS[self.test_card.min(TEST_CARDS.len() - 1)]
    }

    /// `payment_method_details.card` of a charge made with it.
    pub fn charge_details(&self) -> Value {
        json!({
            "card": {
                "brand": self.card.brand,
                "checks": self.card.checks,
                "country": self.card.country,
                "exp_month": self.card.exp_month,
                "exp_year": self.card.exp_year,
                "fingerprint": self.card.fingerprint,
                "funding": self.card.funding,
                "last4": self.card.last4,
                "network": self.card.brand,
                "three_d_secure": null,
            },
            "type": "card",
        })
    }
}

/// Creates a fresh payment method for a test card.
pub fn create_from_card(st: &mut State, card: &'static TestCard) -> String {
    let id = new_id("pm");
    let fingerprint: String = hex::encode(Sha256::digest(card.number.as_bytes()))[..16].to_string();
    let year = 1970 + st.now / 31_556_952;
    let pm = PaymentMethod {
        id: id.clone(),
        object: "payment_method",
        allow_redisplay: "unspecified",
        billing_details: json!({
            "address": {"city": null, "country": null, "line1": null, "line2": null, "postal_code": null, "state": null},
            "email": null, "name": null, "phone": null,
        }),
        card: CardDetails {
            brand: card.brand,
            checks: json!({"address_line1_check": null, "address_postal_code_check": null, "cvc_check": "pass"}),
            country: card.country,
            display_brand: card.brand,
            exp_month: 12,
            exp_year: year + 3,
            fingerprint,
            funding: card.funding,
            generated_from: None,
            last4: card.number[card.number.len() - 4..].to_string(),
            networks: json!({"available": [card.brand], "preferred": null}),
            three_d_secure_usage: json!({"supported": true}),
            wallet: None,
        },
        created: st.now,
        customer: None,
        livemode: false,
        metadata: BTreeMap::new(),
        kind: "card",
        test_card: cards::index_of(card),
        detached: false,
        set_up: false,
    };
    let seq = st.next_seq();
    st.payment_methods.insert(seq, pm);
    id
}

/// Turns a `payment_method` parameter into a stored, usable payment method id: test values make a
/// fresh method, ids must exist and not be detached.
pub fn resolve(st: &mut State, value: &str, param: &str) -> Result<String, ApiError> {
    if let Some(card) = cards::lookup(value) {
        return Ok(create_from_card(st, card));
    }
    let pm = st.payment_methods.find(value, param)?;
    if pm.detached {
        return Err(ApiError::invalid_state(
            "payment_method_unexpected_state",
            "This PaymentMethod was previously used without being attached to a Customer or was detached from a Customer, and may not be used again.",
        )
        .with_param(param));
    }
    Ok(pm.id.clone())
}

/// The 402 an attach or setup gets for a card that fails verification.
pub fn verification_decline(st: &State, pm_id: &str) -> Option<ApiError> {
    let pm = st.payment_methods.get(pm_id)?;
    match pm.test_card().behaviour {
        Behaviour::Decline(d) => {
            let mut e = ApiError::new(402, "card_error", d.message).with_code(d.code);
            e.decline_code = Some(d.decline_code.to_string());
            Some(e)
        }
        _ => None,
    }
}

/// Attaches a payment method (or test value) to a customer and returns its id. Cards that fail
/// verification are declined (402), except `chargeCustomerFail`, which attaches and then fails
/// every charge.
pub fn attach_to(
    st: &mut State,
    value: &str,
    customer: &str,
    param: &str,
) -> Result<String, ApiError> {
    super::customers::find(st, customer, "customer")?;
    let id = resolve(st, value, param)?;
    let pm = st.payment_methods.find(&id, param)?;
    match pm.customer.as_deref() {
        Some(c) if c == customer => return Ok(id),
        Some(_) => {
            return Err(ApiError::invalid_state(
                "payment_method_unexpected_state",
                "The payment method you provided has already been attached to a customer.",
            ));
        }
        None => {}
    }
    if let Some(e) = verification_decline(st, &id) {
        return Err(e);
    }
    if let Some(pm) = st.payment_methods.get_mut(&id) {
        pm.customer = Some(customer.to_string());
    }
    st.emit_for("payment_method.attached", &id);
    Ok(id)
}

/// `POST /v1/payment_methods` (`type=card` with `card[token]=tok_...` or a test `card[number]`).
pub fn create(st: &mut State, p: &Params) -> Result<Value, ApiError> {
    p.only(&[
        "type",
        "card",
        "billing_details",
        "metadata",
        "customer",
        "payment_method",
        "allow_redisplay",
    ])?;
    let kind = p.required("type")?;
    if kind != "card" {
        return Err(ApiError::invalid_param(
            "type",
            format!("The emulator only supports type=card, not {kind}."),
        ));
    }
    let mut metadata = BTreeMap::new();
    update_metadata(&mut metadata, p)?;
    let card_params = p
        .map("card")?
        .ok_or_else(|| ApiError::missing_param("card"))?;
    let value = nested_str(card_params, "token")
        .or_else(|| nested_str(card_params, "number"))
        .ok_or_else(|| ApiError::missing_param("card[token]"))?;
    let card = cards::lookup(value).ok_or_else(|| {
        ApiError::invalid_param("card", format!("No such token: '{value}'"))
            .with_code("resource_missing")
    })?;
    let id = create_from_card(st, card);
    if let Some(pm) = st.payment_methods.get_mut(&id) {
        pm.metadata = metadata;
    }
    Ok(st.render_id(&id).unwrap_or(Value::Null))
}

/// `GET /v1/payment_methods/{id}` (a test value makes a fresh method, as Stripe does).
pub fn retrieve(st: &mut State, id: &str) -> Result<Value, ApiError> {
    let id = match cards::lookup(id) {
        Some(card) => create_from_card(st, card),
        None => st.payment_methods.find(id, "payment_method")?.id.clone(),
    };
    Ok(st.render_id(&id).unwrap_or(Value::Null))
}

/// `POST /v1/payment_methods/{id}` (metadata, billing_details).
pub fn update(st: &mut State, id: &str, p: &Params) -> Result<Value, ApiError> {
    p.only(&["metadata", "billing_details", "card", "allow_redisplay"])?;
    let pm = st.payment_methods.find(id, "payment_method")?;
    let mut metadata = pm.metadata.clone();
    update_metadata(&mut metadata, p)?;
    let billing = p.map("billing_details")?.cloned();
    let pm = st.payment_methods.find_mut(id, "payment_method")?;
    pm.metadata = metadata;
    if let Some(billing) = billing {
        for (k, v) in billing {
            if let crate::form::Param::Str(v) = v
                && ["email", "name", "phone"].contains(&k.as_str())
            {
                pm.billing_details[k] = if v.is_empty() { Value::Null } else { json!(v) };
            }
        }
    }
    st.emit_for("payment_method.updated", id);
    Ok(st.render_id(id).unwrap_or(Value::Null))
}

/// `POST /v1/payment_methods/{id}/attach`
pub fn attach(st: &mut State, id: &str, p: &Params) -> Result<Value, ApiError> {
    p.only(&["customer"])?;
    let customer = p.required("customer")?.to_string();
    let id = attach_to(st, id, &customer, "payment_method")?;
    Ok(st.render_id(&id).unwrap_or(Value::Null))
}

/// `POST /v1/payment_methods/{id}/detach`: permanent.
pub fn detach(st: &mut State, id: &str, p: &Params) -> Result<Value, ApiError> {
    p.only(&[])?;
    let pm = st.payment_methods.find(id, "payment_method")?;
    let Some(customer) = pm.customer.clone() else {
        return Err(ApiError::invalid_state(
            "payment_method_unexpected_state",
            "The payment method you provided is not attached to a customer so detachment is impossible.",
        ));
    };
    if let Some(pm) = st.payment_methods.get_mut(id) {
        pm.customer = None;
        pm.detached = true;
    }
    if let Some(c) = st.customers.get_mut(&customer)
        && c.invoice_settings.default_payment_method.as_deref() == Some(id)
    {
        c.invoice_settings.default_payment_method = None;
    }
    st.emit_for("payment_method.detached", id);
    Ok(st.render_id(id).unwrap_or(Value::Null))
}

/// `GET /v1/payment_methods?customer=...&type=card`
pub fn list(st: &mut State, p: &Params) -> Result<Value, ApiError> {
    p.only(&[
        "customer",
        "type",
        "limit",
        "starting_after",
        "ending_before",
    ])?;
    let customer = p.required("customer")?.to_string();
    list_for(st, &customer, p, "/v1/payment_methods")
}

/// `GET /v1/customers/{id}/payment_methods`
pub fn list_for_customer(st: &mut State, customer: &str, p: &Params) -> Result<Value, ApiError> {
    p.only(&[
        "type",
        "limit",
        "starting_after",
        "ending_before",
        "allow_redisplay",
    ])?;
    list_for(
        st,
        customer,
        p,
        &format!("/v1/customers/{customer}/payment_methods"),
    )
}

fn list_for(st: &mut State, customer: &str, p: &Params, url: &str) -> Result<Value, ApiError> {
    if let Some(kind) = p.non_empty("type")?
        && kind != "card"
    {
        return Ok(json!({"object": "list", "url": url, "has_more": false, "data": []}));
    }
    super::customers::find(st, customer, "customer")?;
    let page = Page::parse(p)?;
    let (items, has_more) = st
        .payment_methods
        .page(&page, |pm| pm.customer.as_deref() == Some(customer))?;
    Ok(st.render_list(url, &items, has_more))
}

/// `GET /v1/customers/{id}/payment_methods/{pm}`
pub fn retrieve_for_customer(st: &mut State, customer: &str, id: &str) -> Result<Value, ApiError> {
    super::customers::find(st, customer, "customer")?;
    let pm = st.payment_methods.find(id, "payment_method")?;
    if pm.customer.as_deref() != Some(customer) {
        return Err(ApiError::missing("PaymentMethod", id, "payment_method"));
    }
    Ok(pm.render(st))
}
