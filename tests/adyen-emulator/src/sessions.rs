//! Checkout sessions: `POST /sessions` and `GET /sessions/{sessionId}?sessionResult=...`.
//!
//! `POST /sessions` answers `201` with `id` (`CS...`), `sessionData`, `expiresAt` (one hour by
//! default), the request's amount, reference and return URL (v71 spec example
//! `post-sessions-00.success-201`), and `url` for `mode: hosted`. Adyen's Drop-in would take the
//! card in the shopper's browser; the emulator serves the page itself at
//! `/_emulator/sessions/{id}` (a card form, then 3-D Secure when the card needs it) and sends the
//! shopper back to `returnUrl?sessionId=...&sessionResult=...`, as Hosted Checkout does.
//! `GET /sessions/{id}` answers `{id, status, reference, payments}` (and `additionalData` with the
//! tokenization fields once a payment stored the card): `completed` once a payment is
//! authorised, `paymentPending` while one is `Received`, `refused` after three refusals, `expired`
//! after `expiresAt`, `active` otherwise (statuses of `SessionResultResponse`).

use serde_json::{Value, json};

use crate::body::{Obj, Params};
use crate::currency;
use crate::dates;
use crate::error::ApiError;
use crate::fields::SESSION_REQUEST;
use crate::ids;
use crate::payments::{self, Method, PaymentInput};
use crate::state::{PaymentStatus, Session, State};
use crate::threeds::Flow;

/// How long a session lives, by the emulator clock (Adyen's default: one hour).
pub const SESSION_LIFETIME_SECS: i64 = 3600;

/// Refusals after which a session is `refused`.
pub const MAX_REFUSALS: usize = 3;

/// `POST /sessions`.
pub fn create(st: &mut State, body: &Value) -> Result<Value, ApiError> {
    let obj = Obj::root(body, "CreateCheckoutSessionRequest")?;
    obj.only(SESSION_REQUEST)?;
    let merchant_account = obj.str("merchantAccount")?.unwrap_or("");
    if !st.accepts_merchant_account(merchant_account) {
        return Err(ApiError::invalid_merchant_account());
    }
    let amount = currency::required(&obj, "amount")?;
    let reference = obj.non_empty("reference")?.ok_or_else(|| {
        ApiError::unprocessable("130", "Required field 'reference' is not provided.")
    })?;
    let return_url = obj
        .non_empty("returnUrl")?
        .ok_or_else(|| ApiError::unprocessable("14_030", "Return URL is missing."))?;
    let shopper_reference = obj.non_empty("shopperReference")?;
    let store_mode = match obj.non_empty("storePaymentMethodMode")? {
        Some(mode @ ("enabled" | "askForConsent" | "disabled")) => mode,
        Some(other) => {
            return Err(ApiError::unexpected_input(format!(
                "Unexpected data for field 'storePaymentMethodMode': {other:?}"
            )));
        }
        None if obj.bool("storePaymentMethod")? == Some(true) => "enabled",
        None => "disabled",
    };
    if store_mode != "disabled" && shopper_reference.is_none() {
        return Err(ApiError::unprocessable(
            "000",
            "Recurring payments require a shopperReference",
        ));
    }
    let mode = obj.non_empty("mode")?.unwrap_or("embedded");
    let additional = obj.string_map("additionalData")?;
    let id = ids::session_id();
    let expires_at = st.now + SESSION_LIFETIME_SECS;
    let session = Session {
        id: id.clone(),
        merchant_account: merchant_account.to_string(),
        amount: amount.clone(),
        reference: reference.to_string(),
        return_url: return_url.to_string(),
        shopper_reference: shopper_reference.map(str::to_string),
        store_mode: store_mode.to_string(),
        recurring_processing_model: obj
            .non_empty("recurringProcessingModel")?
            .map(str::to_string),
        metadata: obj.string_map("metadata")?,
        manual_capture: additional.get("manualCapture").map(String::as_str) == Some("true"),
        capture_delay_hours: obj.i64("captureDelayHours")?,
        expires_at,
        payments: Vec::new(),
        results: Vec::new(),
    };
    let mut answer = json!({
        "amount": amount.json(),
        "expiresAt": dates::iso8601(expires_at),
        "id": id,
        "merchantAccount": merchant_account,
        "mode": mode,
        "reference": reference,
        "returnUrl": return_url,
        "sessionData": ids::opaque("Ab02b4c0!BQABAgB", 64),
        "shopperLocale": obj.non_empty("shopperLocale")?.unwrap_or("en-US"),
        "storePaymentMethodMode": store_mode,
    });
    for key in [
        "countryCode",
        "shopperReference",
        "recurringProcessingModel",
        "shopperInteraction",
    ] {
        if let Some(v) = obj.non_empty(key)? {
            answer[key] = json!(v);
        }
    }
    if mode == "hosted" {
        answer["url"] = json!(format!("{}/_emulator/sessions/{id}", st.base_url));
    }
    st.sessions.insert(id, session);
    Ok(answer)
}

/// A session's status now.
fn status(st: &State, session: &Session) -> &'static str {
    let payments: Vec<_> = session
        .payments
        .iter()
        .filter_map(|p| st.payments.get(p))
        .collect();
    if payments
        .iter()
        .any(|p| p.status == PaymentStatus::Authorised)
    {
        "completed"
    } else if payments.iter().any(|p| p.status == PaymentStatus::Received) {
        "paymentPending"
    } else if payments
        .iter()
        .filter(|p| matches!(p.status, PaymentStatus::Refused | PaymentStatus::Error))
        .count()
        >= MAX_REFUSALS
    {
        "refused"
    } else if st.now > session.expires_at {
        "expired"
    } else {
        "active"
    }
}

/// `GET /sessions/{id}?sessionResult=...`.
pub fn result(st: &State, id: &str, params: &Params) -> Result<Value, ApiError> {
    let session_result = params.get("sessionResult").ok_or_else(|| {
        ApiError::unprocessable("000", "Required field 'sessionResult' is not provided.")
    })?;
    let session = st
        .sessions
        .get(id)
        .filter(|_| st.session_results.get(session_result).map(String::as_str) == Some(id))
        .ok_or_else(|| ApiError::unprocessable("000", "Invalid sessionResult"))?;
    let payments: Vec<Value> = session
        .payments
        .iter()
        .filter_map(|p| st.payments.get(p))
        .filter(|p| p.status != PaymentStatus::ActionRequired)
        .map(|p| {
            json!({
                "amount": p.amount.json(),
                "paymentMethod": {"brand": p.card.brand, "type": "scheme"},
                "pspReference": p.psp_reference,
                "resultCode": match p.status {
                    PaymentStatus::Authorised => "Authorised",
                    PaymentStatus::Received => "Received",
                    PaymentStatus::Refused => "Refused",
                    PaymentStatus::Error => "Error",
                    PaymentStatus::Cancelled => "Cancelled",
                    PaymentStatus::ActionRequired => "RedirectShopper",
                },
            })
        })
        .collect();
    // v71's `additionalData`: the tokenization fields of the authorised payment that stored the
    // shopper's card, as Adyen adds them for accounts that enable them.
    let mut additional = serde_json::Map::new();
    if let Some(stored_by) = session
        .payments
        .iter()
        .filter_map(|p| st.payments.get(p))
        .find(|p| p.status == PaymentStatus::Authorised && p.stored_method.is_some())
    {
        payments::tokenization_data(stored_by, &mut additional);
    }
    let mut answer = json!({
        "id": id,
        "payments": payments,
        "reference": session.reference,
        "status": status(st, session),
    });
    if !additional.is_empty() {
        answer["additionalData"] = Value::Object(additional);
    }
    Ok(answer)
}

/// Where the session page sends the shopper next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// To this URL (the 3-D Secure page, or back to the merchant).
    Redirect(String),
    /// Back to the form, with this message.
    Retry(String),
}

/// The URL that sends the shopper back to the merchant with a new `sessionResult`.
pub fn return_to_merchant(st: &mut State, id: &str) -> Option<String> {
    let session = st.sessions.get_mut(id)?;
    let result = ids::opaque("Ab02b4c0!", 40);
    session.results.push(result.clone());
    let separator = if session.return_url.contains('?') {
        '&'
    } else {
        '?'
    };
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("sessionId", id)
        .append_pair("sessionResult", &result)
        .finish();
    let url = format!("{}{separator}{query}", session.return_url);
    st.session_results.insert(result, id.to_string());
    Some(url)
}

/// Pays session `id` with the card entered on its page.
pub fn pay(st: &mut State, id: &str, form: &Params) -> Result<Step, ApiError> {
    let session = st
        .sessions
        .get(id)
        .cloned()
        .ok_or_else(|| ApiError::unprocessable("000", format!("No session {id}")))?;
    let state = status(st, &session);
    if state != "active" {
        return Ok(Step::Retry(format!("This session is {state}.")));
    }
    let card = match payments::card_from_fields(
        form.get("number").unwrap_or(""),
        form.get("expiryMonth").unwrap_or(""),
        form.get("expiryYear").unwrap_or(""),
        form.get("cvc"),
        form.get("holderName"),
    ) {
        Ok(card) => card,
        Err(e) => return Ok(Step::Retry(e.message.clone())),
    };
    let forced = card
        .holder_name
        .as_deref()
        .and_then(crate::cards::by_holder_name);
    let store = session.store_mode == "enabled"
        || (session.store_mode == "askForConsent"
            && form.get("storePaymentMethod") == Some("true"));
    let input = PaymentInput {
        merchant_account: session.merchant_account.clone(),
        amount: session.amount.clone(),
        reference: session.reference.clone(),
        return_url: session.return_url.clone(),
        method: Method::Card(card),
        shopper_reference: session.shopper_reference.clone(),
        shopper_interaction: "Ecommerce".into(),
        recurring_processing_model: session.recurring_processing_model.clone(),
        store,
        metadata: session.metadata.clone(),
        manual_capture: session.manual_capture,
        capture_delay_hours: session.capture_delay_hours,
        forced,
        authentication_allowed: true,
        flow: Flow {
            native: false,
            post_to_issuer: false,
        },
        redirect_back_with_post: false,
        session_id: Some(id.to_string()),
    };
    let answer = payments::authorise(st, input)?;
    if let Some(psp) = answer["pspReference"].as_str()
        && let Some(s) = st.sessions.get_mut(id)
    {
        s.payments.push(psp.to_string());
    }
    if let Some(url) = answer.pointer("/action/url").and_then(Value::as_str) {
        return Ok(Step::Redirect(url.to_string()));
    }
    if answer["resultCode"] == "Refused" || answer["resultCode"] == "Error" {
        let reason = answer["refusalReason"].as_str().unwrap_or("Refused");
        if status(st, &st.sessions[id]) == "active" {
            return Ok(Step::Retry(format!(
                "The payment was refused ({reason}). Try another card."
            )));
        }
    }
    Ok(Step::Redirect(
        return_to_merchant(st, id).unwrap_or_default(),
    ))
}
