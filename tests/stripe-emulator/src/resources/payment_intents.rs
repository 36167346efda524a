//! Payment intents: create (and confirm), confirm, capture (partial; `processing`, then captured
//! later, when a delay is set: see [`crate::delays`]), cancel, retrieve, list, and the test
//! cards' outcomes: declines, 3-D Secure on- and off-session, disputes. Uncaptured
//! authorizations expire after 7 days of the emulator clock.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use crate::cards::{Behaviour, Decline};
use crate::delays::Settlement;
use crate::error::ApiError;
use crate::form::Params;
use crate::resources::charges::{self, Outcome};
use crate::state::{Object, Page, State, currency_param, new_id, update_metadata};

/// The statuses in which a payment intent may still be confirmed, or have its payment changed.
const UNCONFIRMED: [&str; 3] = [
    "requires_payment_method",
    "requires_confirmation",
    "requires_action",
];

/// How long an uncaptured authorization lasts.
pub const AUTHORIZATION_SECS: i64 = 7 * 24 * 60 * 60;

/// A payment intent.
#[derive(Debug, Clone, Serialize)]
pub struct PaymentIntent {
    /// `pi_...`
    pub id: String,
    /// `payment_intent`
    pub object: &'static str,
    /// Amount.
    pub amount: i64,
    /// Amount that may still be captured.
    pub amount_capturable: i64,
    /// Amount received.
    pub amount_received: i64,
    /// When canceled.
    pub canceled_at: Option<i64>,
    /// Why canceled.
    pub cancellation_reason: Option<String>,
    /// `automatic`, `automatic_async` or `manual`.
    pub capture_method: String,
    /// Client secret.
    pub client_secret: String,
    /// `automatic`
    pub confirmation_method: String,
    /// Creation time.
    pub created: i64,
    /// Currency.
    pub currency: String,
    /// Customer.
    pub customer: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// The last error.
    pub last_payment_error: Option<Value>,
    /// The last charge.
    pub latest_charge: Option<String>,
    /// Always false.
    pub livemode: bool,
    /// Metadata.
    pub metadata: BTreeMap<String, String>,
    /// What the customer must do.
    pub next_action: Option<Value>,
    /// The payment method.
    pub payment_method: Option<String>,
    /// Options.
    pub payment_method_options: Value,
    /// `["card"]`
    pub payment_method_types: Vec<String>,
    /// Always null.
    pub processing: Option<Value>,
    /// Receipt e-mail.
    pub receipt_email: Option<String>,
    /// `off_session` / `on_session`.
    pub setup_future_usage: Option<String>,
    /// Statement descriptor.
    pub statement_descriptor: Option<String>,
    /// Status.
    pub status: &'static str,
    /// Where 3-D Secure returns to.
    #[serde(skip)]
    pub return_url: Option<String>,
}

impl Object for PaymentIntent {
    const NAME: &'static str = "payment_intent";
    fn id(&self) -> &str {
        &self.id
    }
    fn created(&self) -> i64 {
        self.created
    }
}

const CREATE_FIELDS: &[&str] = &[
    "amount",
    "currency",
    "customer",
    "payment_method",
    "confirm",
    "off_session",
    "capture_method",
    "description",
    "metadata",
    "setup_future_usage",
    "payment_method_types",
    "receipt_email",
    "statement_descriptor",
    "statement_descriptor_suffix",
    "return_url",
    "confirmation_method",
    "error_on_requires_action",
    "payment_method_options",
    "automatic_payment_methods",
    "use_stripe_sdk",
    "mandate_data",
];

fn parse_amount(p: &Params, key: &str) -> Result<i64, ApiError> {
    let amount = p.int(key)?.ok_or_else(|| ApiError::missing_param(key))?;
    if amount < 1 {
        return Err(ApiError::invalid_param(
            key,
            "This value must be greater than or equal to 1.",
        ));
    }
    if amount > 99_999_999 {
        return Err(
            ApiError::invalid_param(key, "Amount must be no more than 99999999.")
                .with_code("amount_too_large"),
        );
    }
    Ok(amount)
}

/// `POST /v1/payment_intents`
pub fn create(st: &mut State, p: &Params) -> Result<Value, ApiError> {
    p.only(CREATE_FIELDS)?;
    let amount = parse_amount(p, "amount")?;
    let currency =
        currency_param(p, "currency")?.ok_or_else(|| ApiError::missing_param("currency"))?;
    crate::fees::check_charge_amount(amount, &currency, "amount")?;
    let capture_method = p
        .non_empty("capture_method")?
        .unwrap_or("automatic")
        .to_string();
    if !["automatic", "automatic_async", "manual"].contains(&capture_method.as_str()) {
        return Err(ApiError::invalid_param(
            "capture_method",
            "Invalid capture_method: must be one of automatic, automatic_async, or manual",
        ));
    }
    let setup_future_usage = p.non_empty("setup_future_usage")?.map(str::to_string);
    if let Some(u) = &setup_future_usage
        && u != "off_session"
        && u != "on_session"
    {
        return Err(ApiError::invalid_param(
            "setup_future_usage",
            "Invalid setup_future_usage: must be one of on_session or off_session",
        ));
    }
    let confirm = p.bool("confirm")?.unwrap_or(false);
    let off_session = parse_off_session(p)?;
    if off_session && !confirm {
        return Err(ApiError::invalid_param(
            "off_session",
            "You can only pass `off_session` when `confirm` is set to `true`.",
        ));
    }
    let mut metadata = BTreeMap::new();
    update_metadata(&mut metadata, p)?;
    let customer = p.non_empty("customer")?.map(str::to_string);
    if let Some(c) = &customer {
        super::customers::find(st, c, "customer")?;
    }
    let payment_method = match p.non_empty("payment_method")? {
        Some(pm) => Some(super::payment_methods::resolve(st, pm, "payment_method")?),
        None => None,
    };
    if confirm && payment_method.is_none() {
        return Err(ApiError::invalid_param(
            "payment_method",
            "You cannot confirm this PaymentIntent because it's missing a payment method. To confirm the PaymentIntent with a customer, you must provide a payment method.",
        )
        .with_code("payment_intent_unexpected_state"));
    }
    let id = new_id("pi");
    let status = if payment_method.is_some() {
        "requires_confirmation"
    } else {
        "requires_payment_method"
    };
    let pi = PaymentIntent {
        id: id.clone(),
        object: "payment_intent",
        amount,
        amount_capturable: 0,
        amount_received: 0,
        canceled_at: None,
        cancellation_reason: None,
        capture_method,
        client_secret: format!("{id}_secret_{}", &new_id("s")[2..]),
        confirmation_method: p
            .non_empty("confirmation_method")?
            .unwrap_or("automatic")
            .to_string(),
        created: st.now,
        currency,
        customer,
        description: p.non_empty("description")?.map(str::to_string),
        last_payment_error: None,
        latest_charge: None,
        livemode: false,
        metadata,
        next_action: None,
        payment_method,
        payment_method_options: json!({"card": {"installments": null, "mandate_options": null, "network": null, "request_three_d_secure": "automatic"}}),
        payment_method_types: vec!["card".to_string()],
        processing: None,
        receipt_email: p.non_empty("receipt_email")?.map(str::to_string),
        setup_future_usage,
        statement_descriptor: p.non_empty("statement_descriptor")?.map(str::to_string),
        status,
        return_url: p.non_empty("return_url")?.map(str::to_string),
    };
    let seq = st.next_seq();
    st.payment_intents.insert(seq, pi);
    st.emit_for("payment_intent.created", &id);
    if confirm {
        confirm_intent(st, &id, off_session)?;
    }
    Ok(st.render_id(&id).unwrap_or(Value::Null))
}

fn parse_off_session(p: &Params) -> Result<bool, ApiError> {
    // `off_session` is a boolean, or `one_off` / `recurring`.
    match p.non_empty("off_session")? {
        None | Some("false") => Ok(false),
        Some("true" | "one_off" | "recurring") => Ok(true),
        Some(other) => Err(ApiError::invalid_param(
            "off_session",
            format!("Invalid boolean: {other}"),
        )),
    }
}

/// What confirming with this payment method does.
enum Attempt {
    Succeed,
    Decline(Decline),
    NeedsAuthentication,
}

fn attempt_for(st: &State, pm_id: &str, off_session: bool) -> Attempt {
    let Some(pm) = st.payment_methods.get(pm_id) else {
        return Attempt::Succeed;
    };
    match pm.test_card().behaviour {
        Behaviour::Decline(d) => Attempt::Decline(d),
        Behaviour::ChargeCustomerFail => Attempt::Decline(Decline {
            code: "card_declined",
            decline_code: "generic_decline",
            message: "Your card was declined.",
        }),
        Behaviour::AuthenticationAlways => Attempt::NeedsAuthentication,
        Behaviour::AuthenticationUnlessSetUp if !pm.set_up => Attempt::NeedsAuthentication,
        Behaviour::AuthenticationOnSession if !off_session => Attempt::NeedsAuthentication,
        _ => Attempt::Succeed,
    }
}

/// Confirms a payment intent with its payment method. Declines and off-session authentication
/// failures leave it in `requires_payment_method` and return the 402 (saved for replay).
pub fn confirm_intent(st: &mut State, pi_id: &str, off_session: bool) -> Result<(), ApiError> {
    let pi = st.payment_intents.find(pi_id, "intent")?;
    if !UNCONFIRMED.contains(&pi.status) {
        return Err(unexpected_state(pi, "confirmed", &UNCONFIRMED));
    }
    let Some(pm_id) = pi.payment_method.clone() else {
        return Err(ApiError::invalid_state(
            "payment_intent_unexpected_state",
            "You cannot confirm this PaymentIntent because it's missing a payment method.",
        )
        .with_param("payment_method"));
    };
    let customer = pi.customer.clone();
    let pm = st.payment_methods.find(&pm_id, "payment_method")?;
    if pm.detached {
        return Err(ApiError::invalid_state(
            "payment_method_unexpected_state",
            "This PaymentMethod was previously used without being attached to a Customer or was detached from a Customer, and may not be used again.",
        )
        .with_param("payment_method"));
    }
    if let Some(owner) = &pm.customer
        && customer.as_deref() != Some(owner)
    {
        return Err(ApiError::invalid_state(
            "payment_method_unexpected_state",
            format!("The provided PaymentMethod belongs to a Customer ({owner}), but you did not provide that Customer's ID. Please include the Customer's ID in the `customer` parameter."),
        )
        .with_param("payment_method"));
    }
    match attempt_for(st, &pm_id, off_session) {
        Attempt::Succeed => {
            succeed(st, pi_id, &pm_id);
            Ok(())
        }
        Attempt::Decline(d) => Err(fail(st, pi_id, &pm_id, Outcome::Declined(d))),
        Attempt::NeedsAuthentication if off_session => {
            Err(fail(st, pi_id, &pm_id, Outcome::AuthenticationRequired))
        }
        Attempt::NeedsAuthentication => {
            require_action(st, pi_id);
            Ok(())
        }
    }
}

fn unexpected_state(pi: &PaymentIntent, done: &str, allowed: &[&str]) -> ApiError {
    let mut e = ApiError::invalid_state(
        "payment_intent_unexpected_state",
        format!(
            "This PaymentIntent could not be {done} because it has a status of {}. Only a PaymentIntent with one of the following statuses may be {done}: {}.",
            pi.status,
            allowed.join(", ")
        ),
    );
    e.extra.insert(
        "payment_intent".into(),
        serde_json::to_value(pi).unwrap_or(Value::Null),
    );
    e
}

/// The authentication URL the emulator serves for an intent (visiting it completes 3-D Secure).
pub fn authentication_url(st: &State, id: &str) -> String {
    format!("{}/_emulator/authenticate/{id}", st.request.base_url)
}

fn require_action(st: &mut State, pi_id: &str) {
    let url = authentication_url(st, pi_id);
    let Some(pi) = st.payment_intents.get_mut(pi_id) else {
        return;
    };
    pi.status = "requires_action";
    pi.next_action = Some(match &pi.return_url {
        Some(return_url) => json!({
            "type": "redirect_to_url",
            "redirect_to_url": { "return_url": return_url, "url": url },
        }),
        None => json!({
            "type": "use_stripe_sdk",
            "use_stripe_sdk": { "type": "three_d_secure_redirect", "stripe_js": url, "source": new_id("src") },
        }),
    });
    st.emit_for("payment_intent.requires_action", pi_id);
}

/// The intent succeeds (or waits for capture) with a new charge.
pub fn succeed(st: &mut State, pi_id: &str, pm_id: &str) {
    let Some(pi) = st.payment_intents.get(pi_id) else {
        return;
    };
    let capture = pi.capture_method != "manual";
    let set_up = pi.setup_future_usage.is_some();
    let customer = pi.customer.clone();
    let charge = charges::create_for_intent(st, pi_id, pm_id, Outcome::Succeeded { capture });
    if let Some(pi) = st.payment_intents.get_mut(pi_id) {
        pi.latest_charge = Some(charge.clone());
        pi.last_payment_error = None;
        pi.next_action = None;
        if capture {
            pi.status = "succeeded";
            pi.amount_received = pi.amount;
        } else {
            pi.status = "requires_capture";
            pi.amount_capturable = pi.amount;
        }
    }
    if set_up {
        // `setup_future_usage` saves the card for later off-session use, attached to the customer.
        let mut attached = false;
        if let Some(pm) = st.payment_methods.get_mut(pm_id) {
            pm.set_up = true;
            if pm.customer.is_none()
                && let Some(c) = &customer
            {
                pm.customer = Some(c.clone());
                attached = true;
            }
        }
        if attached {
            st.emit_for("payment_method.attached", pm_id);
        }
    }
    st.emit_for("charge.succeeded", &charge);
    if capture {
        st.emit_for("payment_intent.succeeded", pi_id);
        super::disputes::open_if_test_card(st, &charge);
    } else {
        st.emit_for("payment_intent.amount_capturable_updated", pi_id);
    }
}

/// The intent fails: failed charge, `requires_payment_method`, `last_payment_error`; returns the
/// 402 to answer.
fn fail(st: &mut State, pi_id: &str, pm_id: &str, outcome: Outcome) -> ApiError {
    let charge = charges::create_for_intent(st, pi_id, pm_id, outcome);
    let mut error = match outcome {
        Outcome::Declined(d) => {
            let mut e = ApiError::new(402, "card_error", d.message).with_code(d.code);
            e.decline_code = Some(d.decline_code.to_string());
            e
        }
        _ => {
            let mut e = ApiError::new(
                402,
                "card_error",
                "Your card was declined. This transaction requires authentication.",
            )
            .with_code("authentication_required");
            e.decline_code = Some("authentication_required".to_string());
            e
        }
    };
    error.extra.insert("charge".into(), json!(charge));
    let pm_json = st.render_id(pm_id).unwrap_or(Value::Null);
    error.extra.insert("payment_method".into(), pm_json);
    let mut last_error = error.body(&st.request.id)["error"].take();
    if let Some(obj) = last_error.as_object_mut() {
        obj.remove("request_log_url");
    }
    if let Some(pi) = st.payment_intents.get_mut(pi_id) {
        pi.status = "requires_payment_method";
        pi.latest_charge = Some(charge.clone());
        pi.last_payment_error = Some(last_error);
        pi.next_action = None;
    }
    st.emit_for("charge.failed", &charge);
    st.emit_for("payment_intent.payment_failed", pi_id);
    let pi_json = st.render_id(pi_id).unwrap_or(Value::Null);
    error.extra.insert("payment_intent".into(), pi_json);
    error
}

/// Ends a pending 3-D Secure authentication (the emulator's stand-in for the customer's browser).
pub fn complete_authentication(
    st: &mut State,
    pi_id: &str,
    succeeded: bool,
) -> Result<Value, ApiError> {
    let pi = st.payment_intents.find(pi_id, "intent")?;
    if pi.status != "requires_action" {
        return Err(unexpected_state(pi, "authenticated", &["requires_action"]));
    }
    let pm_id = pi.payment_method.clone().unwrap_or_default();
    if succeeded {
        succeed(st, pi_id, &pm_id);
    } else {
        let last_error = json!({
            "code": "payment_intent_authentication_failure",
            "doc_url": "https://stripe.com/docs/error-codes/payment-intent-authentication-failure",
            "message": "The provided PaymentMethod has failed authentication. You can provide payment_method_data or a new PaymentMethod to attempt to fulfill this PaymentIntent again.",
            "payment_method": st.render_id(&pm_id),
            "type": "invalid_request_error",
        });
        if let Some(pi) = st.payment_intents.get_mut(pi_id) {
            pi.status = "requires_payment_method";
            pi.next_action = None;
            pi.last_payment_error = Some(last_error);
        }
        st.emit_for("payment_intent.payment_failed", pi_id);
    }
    Ok(st.render_id(pi_id).unwrap_or(Value::Null))
}

/// Cancels an uncaptured authorization older than 7 days (`cancellation_reason: automatic`).
pub fn expire_if_stale(st: &mut State, pi_id: &str) {
    let stale = st.payment_intents.get(pi_id).is_some_and(|pi| {
        pi.status == "requires_capture" && st.now - pi.created >= AUTHORIZATION_SECS
    });
    if stale {
        cancel_now(st, pi_id, Some("automatic".to_string()));
        if let Some(ch) = st
            .payment_intents
            .get(pi_id)
            .and_then(|pi| pi.latest_charge.clone())
        {
            st.emit_for("charge.expired", &ch);
        }
    }
}

/// Expires every stale authorization (before listing).
pub fn expire_all_stale(st: &mut State) {
    let stale: Vec<String> = st
        .payment_intents
        .iter()
        .filter(|pi| pi.status == "requires_capture" && st.now - pi.created >= AUTHORIZATION_SECS)
        .map(|pi| pi.id.clone())
        .collect();
    for id in stale {
        expire_if_stale(st, &id);
    }
}

fn cancel_now(st: &mut State, pi_id: &str, reason: Option<String>) {
    let now = st.now;
    let Some(pi) = st.payment_intents.get_mut(pi_id) else {
        return;
    };
    let released_charge = (pi.status == "requires_capture")
        .then(|| pi.latest_charge.clone())
        .flatten();
    pi.status = "canceled";
    pi.canceled_at = Some(now);
    pi.cancellation_reason = reason;
    pi.amount_capturable = 0;
    pi.next_action = None;
    if let Some(ch) = released_charge.and_then(|id| st.charges.get_mut(&id)) {
        // Releasing an authorization shows as a refund of the uncaptured amount, as at Stripe.
        ch.amount_refunded = ch.amount;
        ch.released = ch.amount;
        ch.refunded = true;
    }
    st.emit_for("payment_intent.canceled", pi_id);
}

/// `POST /v1/payment_intents/{id}/confirm`
pub fn confirm(st: &mut State, id: &str, p: &Params) -> Result<Value, ApiError> {
    p.only(&[
        "payment_method",
        "off_session",
        "return_url",
        "setup_future_usage",
        "error_on_requires_action",
        "use_stripe_sdk",
        "payment_method_options",
        "receipt_email",
        "capture_method",
        "mandate_data",
    ])?;
    let off_session = parse_off_session(p)?;
    st.payment_intents.find(id, "intent")?;
    expire_if_stale(st, id);
    let pm = match p.non_empty("payment_method")? {
        Some(pm) => Some(super::payment_methods::resolve(st, pm, "payment_method")?),
        None => None,
    };
    let return_url = p.non_empty("return_url")?.map(str::to_string);
    let setup_future_usage = p.non_empty("setup_future_usage")?.map(str::to_string);
    let capture_method = p.non_empty("capture_method")?.map(str::to_string);
    let pi = st.payment_intents.find_mut(id, "intent")?;
    if pm.is_some() && UNCONFIRMED.contains(&pi.status) {
        pi.payment_method = pm;
    }
    if return_url.is_some() {
        pi.return_url = return_url;
    }
    if setup_future_usage.is_some() {
        pi.setup_future_usage = setup_future_usage;
    }
    if let Some(c) = capture_method {
        pi.capture_method = c;
    }
    confirm_intent(st, id, off_session)?;
    Ok(st.render_id(id).unwrap_or(Value::Null))
}

/// `POST /v1/payment_intents/{id}/capture` (`amount_to_capture` for a partial capture; the rest
/// is released).
pub fn capture(st: &mut State, id: &str, p: &Params) -> Result<Value, ApiError> {
    p.only(&[
        "amount_to_capture",
        "metadata",
        "statement_descriptor",
        "statement_descriptor_suffix",
        "final_capture",
        "application_fee_amount",
    ])?;
    let requested = match p.int("amount_to_capture")? {
        Some(a) if a < 1 => {
            return Err(ApiError::invalid_param(
                "amount_to_capture",
                "This value must be greater than or equal to 1.",
            ));
        }
        other => other,
    };
    let mut metadata = st.payment_intents.find(id, "intent")?.metadata.clone();
    update_metadata(&mut metadata, p)?;
    expire_if_stale(st, id);
    let pi = st.payment_intents.find(id, "intent")?;
    if pi.status != "requires_capture" {
        return Err(unexpected_state(pi, "captured", &["requires_capture"]));
    }
    let amount = requested.unwrap_or(pi.amount_capturable);
    if requested.is_some() {
        crate::fees::check_charge_amount(amount, &pi.currency, "amount_to_capture")?;
    }
    if amount > pi.amount_capturable {
        return Err(ApiError::invalid_state(
            "amount_too_large",
            format!(
                "The amount to capture ({amount}) is greater than the amount capturable ({}).",
                pi.amount_capturable
            ),
        )
        .with_param("amount_to_capture"));
    }
    let delay = st.delays.take_capture();
    let pi = st.payment_intents.find_mut(id, "intent")?;
    pi.metadata = metadata;
    pi.amount_capturable = 0;
    match delay {
        Some(d) => {
            // Captured later: the intent is processing until then.
            pi.status = "processing";
            st.emit_for("payment_intent.processing", id);
            st.schedule(
                d.after,
                Settlement::Capture {
                    id: id.to_string(),
                    amount,
                },
            );
        }
        None => capture_now(st, id, amount),
    }
    Ok(st.render_id(id).unwrap_or(Value::Null))
}

/// Takes `amount` of an authorization: the intent succeeds, its charge is captured (the rest
/// released) with its balance transaction.
fn capture_now(st: &mut State, id: &str, amount: i64) {
    let Some(pi) = st.payment_intents.get_mut(id) else {
        return;
    };
    pi.status = "succeeded";
    pi.amount_received = amount;
    pi.amount_capturable = 0;
    let charge_id = pi.latest_charge.clone().unwrap_or_default();
    if let Some(ch) = st.charges.get_mut(&charge_id) {
        ch.captured = true;
        ch.amount_captured = amount;
        ch.released = ch.amount - amount;
        ch.amount_refunded = ch.released;
    }
    charges::record_capture(st, &charge_id);
    st.emit_for("charge.captured", &charge_id);
    st.emit_for("payment_intent.succeeded", id);
    super::disputes::open_if_test_card(st, &charge_id);
}

/// Finishes a capture left `processing` (a delayed settlement).
pub fn finish_processing(st: &mut State, id: &str, amount: i64) {
    if st
        .payment_intents
        .get(id)
        .is_some_and(|pi| pi.status == "processing")
    {
        capture_now(st, id, amount);
    }
}

/// `POST /v1/payment_intents/{id}/cancel`
pub fn cancel(st: &mut State, id: &str, p: &Params) -> Result<Value, ApiError> {
    p.only(&["cancellation_reason"])?;
    let reason = p.non_empty("cancellation_reason")?.map(str::to_string);
    if let Some(r) = &reason
        && ![
            "duplicate",
            "fraudulent",
            "requested_by_customer",
            "abandoned",
        ]
        .contains(&r.as_str())
    {
        return Err(ApiError::invalid_param(
            "cancellation_reason",
            "Invalid cancellation_reason: must be one of duplicate, fraudulent, requested_by_customer, or abandoned",
        ));
    }
    expire_if_stale(st, id);
    let pi = st.payment_intents.find(id, "intent")?;
    const CANCELABLE: [&str; 4] = [
        "requires_payment_method",
        "requires_capture",
        "requires_confirmation",
        "requires_action",
    ];
    if !CANCELABLE.contains(&pi.status) {
        return Err(unexpected_state(pi, "canceled", &CANCELABLE));
    }
    cancel_now(st, id, reason);
    Ok(st.render_id(id).unwrap_or(Value::Null))
}

/// `GET /v1/payment_intents/{id}`
pub fn retrieve(st: &mut State, id: &str) -> Result<Value, ApiError> {
    st.payment_intents.find(id, "intent")?;
    expire_if_stale(st, id);
    Ok(st.render_id(id).unwrap_or(Value::Null))
}

/// `POST /v1/payment_intents/{id}` (amount, currency, customer, payment_method, description,
/// metadata, receipt_email before confirmation).
pub fn update(st: &mut State, id: &str, p: &Params) -> Result<Value, ApiError> {
    p.only(&[
        "amount",
        "currency",
        "customer",
        "payment_method",
        "description",
        "metadata",
        "receipt_email",
        "setup_future_usage",
        "capture_method",
        "statement_descriptor",
    ])?;
    let pi = st.payment_intents.find(id, "intent")?;
    let mut metadata = pi.metadata.clone();
    update_metadata(&mut metadata, p)?;
    let amount = if p.get("amount").is_some() {
        Some(parse_amount(p, "amount")?)
    } else {
        None
    };
    let currency = currency_param(p, "currency")?;
    if amount.is_some() || currency.is_some() {
        crate::fees::check_charge_amount(
            amount.unwrap_or(pi.amount),
            currency.as_deref().unwrap_or(&pi.currency),
            "amount",
        )?;
    }
    let description = p
        .str("description")?
        .map(|d| (!d.is_empty()).then(|| d.to_string()));
    let changes_payment = amount.is_some()
        || currency.is_some()
        || p.get("payment_method").is_some()
        || p.get("customer").is_some();
    if changes_payment && !UNCONFIRMED.contains(&pi.status) {
        return Err(unexpected_state(pi, "updated", &UNCONFIRMED));
    }
    let customer = p.non_empty("customer")?.map(str::to_string);
    if let Some(c) = &customer {
        super::customers::find(st, c, "customer")?;
    }
    let pm = match p.non_empty("payment_method")? {
        Some(pm) => Some(super::payment_methods::resolve(st, pm, "payment_method")?),
        None => None,
    };
    let pi = st.payment_intents.find_mut(id, "intent")?;
    pi.metadata = metadata;
    if let Some(a) = amount {
        pi.amount = a;
    }
    if let Some(c) = currency {
        pi.currency = c;
    }
    if let Some(d) = description {
        pi.description = d;
    }
    if customer.is_some() {
        pi.customer = customer;
    }
    if let Some(pm) = pm {
        pi.payment_method = Some(pm);
        if pi.status == "requires_payment_method" {
            pi.status = "requires_confirmation";
        }
    }
    Ok(st.render_id(id).unwrap_or(Value::Null))
}

/// `GET /v1/payment_intents` (filters: `customer`, `created`).
pub fn list(st: &mut State, p: &Params) -> Result<Value, ApiError> {
    p.only(&[
        "limit",
        "starting_after",
        "ending_before",
        "created",
        "customer",
    ])?;
    expire_all_stale(st);
    let page = Page::parse(p)?;
    let customer = p.non_empty("customer")?;
    let (items, has_more) = st.payment_intents.page(&page, |pi| {
        customer.is_none_or(|c| pi.customer.as_deref() == Some(c))
    })?;
    Ok(st.render_list("/v1/payment_intents", &items, has_more))
}
