//! Setup intents: save a card for later off-session use. Cards that need authentication go to
//! `requires_action` (completed through the emulator's authentication URL); declining cards fail
//! with a 402; a succeeded setup attaches the card and marks it set up for off-session charges.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use crate::cards::Behaviour;
use crate::error::ApiError;
use crate::form::Params;
use crate::state::{Object, Page, State, new_id, update_metadata};

/// A setup intent.
#[derive(Debug, Clone, Serialize)]
pub struct SetupIntent {
    /// `seti_...`
    pub id: String,
    /// `setup_intent`
    pub object: &'static str,
    /// Why canceled.
    pub cancellation_reason: Option<String>,
    /// Client secret.
    pub client_secret: String,
    /// Creation time.
    pub created: i64,
    /// Customer.
    pub customer: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// The last error.
    pub last_setup_error: Option<Value>,
    /// Always false.
    pub livemode: bool,
    /// Metadata.
    pub metadata: BTreeMap<String, String>,
    /// What the customer must do.
    pub next_action: Option<Value>,
    /// The payment method.
    pub payment_method: Option<String>,
    /// `["card"]`
    pub payment_method_types: Vec<String>,
    /// Status.
    pub status: &'static str,
    /// `off_session` or `on_session`.
    pub usage: String,
    /// Where 3-D Secure returns to.
    #[serde(skip)]
    pub return_url: Option<String>,
}

impl Object for SetupIntent {
    const NAME: &'static str = "setupintent";
    fn id(&self) -> &str {
        &self.id
    }
    fn created(&self) -> i64 {
        self.created
    }
}

/// `POST /v1/setup_intents`
pub fn create(st: &mut State, p: &Params) -> Result<Value, ApiError> {
    p.only(&[
        "customer",
        "payment_method",
        "usage",
        "confirm",
        "payment_method_types",
        "metadata",
        "description",
        "return_url",
        "automatic_payment_methods",
        "payment_method_options",
        "use_stripe_sdk",
        "mandate_data",
        "single_use",
    ])?;
    let usage = p.non_empty("usage")?.unwrap_or("off_session").to_string();
    if usage != "off_session" && usage != "on_session" {
        return Err(ApiError::invalid_param(
            "usage",
            "Invalid usage: must be one of off_session or on_session",
        ));
    }
    let confirm = p.bool("confirm")?.unwrap_or(false);
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
        return Err(ApiError::missing_param("payment_method"));
    }
    let id = new_id("seti");
    let seti = SetupIntent {
        id: id.clone(),
        object: "setup_intent",
        cancellation_reason: None,
        client_secret: format!("{id}_secret_{}", &new_id("s")[2..]),
        created: st.now,
        customer,
        description: p.non_empty("description")?.map(str::to_string),
        last_setup_error: None,
        livemode: false,
        metadata,
        next_action: None,
        status: if payment_method.is_some() {
            "requires_confirmation"
        } else {
            "requires_payment_method"
        },
        payment_method,
        payment_method_types: vec!["card".to_string()],
        usage,
        return_url: p.non_empty("return_url")?.map(str::to_string),
    };
    let seq = st.next_seq();
    st.setup_intents.insert(seq, seti);
    st.emit_for("setup_intent.created", &id);
    if confirm {
        confirm_intent(st, &id)?;
    }
    Ok(st.render_id(&id).unwrap_or(Value::Null))
}

fn confirm_intent(st: &mut State, id: &str) -> Result<(), ApiError> {
    let seti = st.setup_intents.find(id, "intent")?;
    if ![
        "requires_payment_method",
        "requires_confirmation",
        "requires_action",
    ]
    .contains(&seti.status)
    {
        return Err(ApiError::invalid_state(
            "setup_intent_unexpected_state",
            format!(
                "You cannot confirm this SetupIntent because it has a status of {}.",
                seti.status
            ),
        ));
    }
    let pm_id = seti
        .payment_method
        .clone()
        .ok_or_else(|| ApiError::missing_param("payment_method"))?;
    let customer = seti.customer.clone();
    let pm = st.payment_methods.find(&pm_id, "payment_method")?;
    if pm.detached {
        return Err(ApiError::invalid_state(
            "payment_method_unexpected_state",
            "This PaymentMethod was previously used without being attached to a Customer or was detached from a Customer, and may not be used again.",
        ));
    }
    if let (Some(owner), Some(c)) = (&pm.customer, &customer)
        && owner != c
    {
        return Err(ApiError::invalid_state(
            "payment_method_unexpected_state",
            "The payment method you provided has already been attached to a customer.",
        ));
    }
    let behaviour = pm.test_card().behaviour;
    if let Some(mut error) = super::payment_methods::verification_decline(st, &pm_id) {
        let mut last_error = error.body(&st.request.id)["error"].take();
        if let Some(obj) = last_error.as_object_mut() {
            obj.remove("request_log_url");
            obj.insert(
                "payment_method".into(),
                st.render_id(&pm_id).unwrap_or(Value::Null),
            );
        }
        if let Some(seti) = st.setup_intents.get_mut(id) {
            seti.status = "requires_payment_method";
            seti.last_setup_error = Some(last_error);
            seti.next_action = None;
        }
        st.emit_for("setup_intent.setup_failed", id);
        error.extra.insert(
            "setup_intent".into(),
            st.render_id(id).unwrap_or(Value::Null),
        );
        error.extra.insert(
            "payment_method".into(),
            st.render_id(&pm_id).unwrap_or(Value::Null),
        );
        return Err(error);
    }
    let needs_action = matches!(
        behaviour,
        Behaviour::AuthenticationAlways
            | Behaviour::AuthenticationUnlessSetUp
            | Behaviour::AuthenticationOnSession
    );
    if needs_action {
        let url = format!("{}/_emulator/authenticate/{id}", st.request.base_url);
        if let Some(seti) = st.setup_intents.get_mut(id) {
            seti.status = "requires_action";
            seti.next_action = Some(match &seti.return_url {
                Some(r) => {
                    json!({"type": "redirect_to_url", "redirect_to_url": {"return_url": r, "url": url}})
                }
                None => {
                    json!({"type": "use_stripe_sdk", "use_stripe_sdk": {"type": "three_d_secure_redirect", "stripe_js": url, "source": new_id("src")}})
                }
            });
        }
        st.emit_for("setup_intent.requires_action", id);
        return Ok(());
    }
    succeed(st, id);
    Ok(())
}

fn succeed(st: &mut State, id: &str) {
    let Some(seti) = st.setup_intents.get_mut(id) else {
        return;
    };
    seti.status = "succeeded";
    seti.next_action = None;
    seti.last_setup_error = None;
    let (pm_id, customer, off_session) = (
        seti.payment_method.clone().unwrap_or_default(),
        seti.customer.clone(),
        seti.usage == "off_session",
    );
    let mut attached = false;
    if let Some(pm) = st.payment_methods.get_mut(&pm_id) {
        pm.set_up |= off_session;
        if pm.customer.is_none()
            && let Some(c) = customer
        {
            pm.customer = Some(c);
            attached = true;
        }
    }
    if attached {
        st.emit_for("payment_method.attached", &pm_id);
    }
    st.emit_for("setup_intent.succeeded", id);
}

/// Ends a pending authentication of a setup intent (admin route).
pub fn complete_authentication(
    st: &mut State,
    id: &str,
    succeeded: bool,
) -> Result<Value, ApiError> {
    let seti = st.setup_intents.find(id, "intent")?;
    if seti.status != "requires_action" {
        return Err(ApiError::invalid_state(
            "setup_intent_unexpected_state",
            format!(
                "This SetupIntent has a status of {}; there is nothing to authenticate.",
                seti.status
            ),
        ));
    }
    if succeeded {
        succeed(st, id);
    } else if let Some(seti) = st.setup_intents.get_mut(id) {
        seti.status = "requires_payment_method";
        seti.next_action = None;
        seti.last_setup_error = Some(json!({
            "code": "setup_intent_authentication_failure",
            "message": "The latest attempt to set up the payment method has failed because authentication failed.",
            "type": "invalid_request_error",
        }));
        st.emit_for("setup_intent.setup_failed", id);
    }
    Ok(st.render_id(id).unwrap_or(Value::Null))
}

/// `POST /v1/setup_intents/{id}/confirm`
pub fn confirm(st: &mut State, id: &str, p: &Params) -> Result<Value, ApiError> {
    p.only(&[
        "payment_method",
        "return_url",
        "payment_method_options",
        "use_stripe_sdk",
        "mandate_data",
    ])?;
    st.setup_intents.find(id, "intent")?;
    let pm = match p.non_empty("payment_method")? {
        Some(pm) => Some(super::payment_methods::resolve(st, pm, "payment_method")?),
        None => None,
    };
    let return_url = p.non_empty("return_url")?.map(str::to_string);
    let seti = st.setup_intents.find_mut(id, "intent")?;
    if pm.is_some() {
        seti.payment_method = pm;
    }
    if return_url.is_some() {
        seti.return_url = return_url;
    }
    confirm_intent(st, id)?;
    Ok(st.render_id(id).unwrap_or(Value::Null))
}

/// `POST /v1/setup_intents/{id}/cancel`
pub fn cancel(st: &mut State, id: &str, p: &Params) -> Result<Value, ApiError> {
    p.only(&["cancellation_reason"])?;
    let reason = p.non_empty("cancellation_reason")?.map(str::to_string);
    let seti = st.setup_intents.find_mut(id, "intent")?;
    if seti.status == "succeeded" || seti.status == "canceled" {
        return Err(ApiError::invalid_state(
            "setup_intent_unexpected_state",
            format!(
                "You cannot cancel this SetupIntent because it has a status of {}.",
                seti.status
            ),
        ));
    }
    seti.status = "canceled";
    seti.cancellation_reason = reason;
    seti.next_action = None;
    st.emit_for("setup_intent.canceled", id);
    Ok(st.render_id(id).unwrap_or(Value::Null))
}

/// `GET /v1/setup_intents/{id}`
pub fn retrieve(st: &mut State, id: &str) -> Result<Value, ApiError> {
    Ok(st.setup_intents.find(id, "intent")?.render(st))
}

/// `GET /v1/setup_intents` (filters: `customer`, `payment_method`, `created`).
pub fn list(st: &mut State, p: &Params) -> Result<Value, ApiError> {
    p.only(&[
        "limit",
        "starting_after",
        "ending_before",
        "created",
        "customer",
        "payment_method",
        "attach_to_self",
    ])?;
    let page = Page::parse(p)?;
    let customer = p.non_empty("customer")?;
    let pm = p.non_empty("payment_method")?;
    let (items, has_more) = st.setup_intents.page(&page, |s| {
        customer.is_none_or(|c| s.customer.as_deref() == Some(c))
            && pm.is_none_or(|x| s.payment_method.as_deref() == Some(x))
    })?;
    Ok(st.render_list("/v1/setup_intents", &items, has_more))
}
