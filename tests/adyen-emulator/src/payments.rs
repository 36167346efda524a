//! `POST /payments` and `POST /payments/details`: card payments with new cards (the `test_`
//! unencrypted fields of Adyen's test environment) or stored payment methods, tokenization with
//! `storePaymentMethod` + `shopperReference`, zero-amount authorisations, manual capture, the
//! forced outcomes of the test environment (see [`crate::cards`]), 3-D Secure (see
//! [`crate::threeds`]), and the AUTHORISATION and RECURRING_CONTRACT notifications.
//!
//! Answers follow the v71 spec's examples (`post-payments-card-direct-200`,
//! `post-payments-subscription-first-transaction-200`: `additionalData` with
//! `tokenization.storedPaymentMethodId`, `tokenization.shopperReference`,
//! `tokenization.store.operationType`; the emulator adds the older
//! `recurring.recurringDetailReference` / `recurring.shopperReference` and `networkTxReference`,
//! which Adyen returns when the account enables them). Merchant-initiated payments
//! (`shopperInteraction: ContAuth`) never ask for 3-D Secure; an issuer that insists answers
//! `Refused` / `38` "Authentication required", which a test forces with
//! `RequestedTestAcquirerResponseCode: 38` or the admin route on the stored method.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::body::Obj;
use crate::cards::{self, Final, Outcome, ThreeDs};
use crate::currency::{self, Amount};
use crate::error::ApiError;
use crate::fields::{CARD_DETAILS, COMPLETION_DETAILS, DETAILS_REQUEST, PAYMENT_REQUEST};
use crate::ids;
use crate::state::{Card, Payment, PaymentStatus, Settle, State, StoredMethod};
use crate::threeds::{self, Completion, Flow};

/// The card to pay with.
#[derive(Debug, Clone)]
pub enum Method {
    /// Card details entered by the shopper.
    Card(Card),
    /// A stored payment method, by id.
    Stored(String),
}

/// A payment to make, however it was asked for (API request or session page).
#[derive(Debug, Clone)]
pub struct PaymentInput {
    /// Merchant account (already checked).
    pub merchant_account: String,
    /// Amount.
    pub amount: Amount,
    /// Merchant reference.
    pub reference: String,
    /// `returnUrl`.
    pub return_url: String,
    /// The card.
    pub method: Method,
    /// `shopperReference`.
    pub shopper_reference: Option<String>,
    /// `shopperInteraction`.
    pub shopper_interaction: String,
    /// `recurringProcessingModel`.
    pub recurring_processing_model: Option<String>,
    /// `storePaymentMethod`.
    pub store: bool,
    /// `metadata`.
    pub metadata: BTreeMap<String, String>,
    /// `additionalData.manualCapture`.
    pub manual_capture: bool,
    /// `captureDelayHours`.
    pub capture_delay_hours: Option<i64>,
    /// The outcome forced by `holderName` or `RequestedTestAcquirerResponseCode`.
    pub forced: Option<Outcome>,
    /// Whether 3-D Secure may be attempted (`attemptAuthentication` is not `never`,
    /// `executeThreeD` is not `false`).
    pub authentication_allowed: bool,
    /// How an action is completed.
    pub flow: Flow,
    /// `redirectFromIssuerMethod: POST`.
    pub redirect_back_with_post: bool,
    /// The checkout session.
    pub session_id: Option<String>,
}

fn decrypt<'a>(pm: &Obj<'a>, key: &str) -> Result<Option<&'a str>, ApiError> {
    match pm.non_empty(key)? {
        None => Ok(None),
        Some(v) => v
            .strip_prefix("test_")
            .map(Some)
            .ok_or_else(|| ApiError::unprocessable("174", "Unable to decrypt data")),
    }
}

/// Reads a card from `test_` fields (card form, `CardDetails`).
pub fn card_from_fields(
    number: &str,
    month: &str,
    year: &str,
    cvc: Option<&str>,
    holder_name: Option<&str>,
) -> Result<Card, ApiError> {
    let number: String = number.chars().filter(|c| !c.is_whitespace()).collect();
    if !cards::luhn_valid(&number) {
        return Err(ApiError::unprocessable("101", "Invalid card number"));
    }
    let expiry = || ApiError::unprocessable("129", "Expiry Date Invalid");
    let month: u8 = month.trim().parse().map_err(|_| expiry())?;
    let year: u16 = match year.trim() {
        y if y.len() == 2 => y.parse::<u16>().map_err(|_| expiry())? + 2000,
        y if y.len() == 4 => y.parse().map_err(|_| expiry())?,
        _ => return Err(expiry()),
    };
    if !(1..=12).contains(&month) {
        return Err(expiry());
    }
    let known = cards::lookup(&number);
    if let Some(cvc) = cvc
        && (cvc.len() != cards::cvc_length(known.brand) || !cvc.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(ApiError::unprocessable(
            "103",
            "CVC is not the right length",
        ));
    }
    Ok(Card {
        number,
        brand: known.brand,
        funding: known.funding,
        country: known.country,
        expiry_month: month,
        expiry_year: year,
        holder_name: holder_name.map(str::to_string),
        three_ds: known.three_ds,
    })
}

fn read_method(pm: &Obj<'_>) -> Result<Method, ApiError> {
    pm.only(CARD_DETAILS)?;
    match pm.non_empty("type")?.unwrap_or("scheme") {
        "scheme" | "card" => {}
        other => {
            return Err(ApiError::unprocessable(
                "905",
                format!("Payment details are not supported ({other})"),
            ));
        }
    }
    if let Some(id) = pm
        .non_empty("storedPaymentMethodId")?
        .or(pm.non_empty("recurringDetailReference")?)
    {
        return Ok(Method::Stored(id.to_string()));
    }
    if pm.has("number") || pm.has("cvc") || pm.has("expiryMonth") {
        // Raw card data needs the API PCI role, which test credentials don't have.
        let mut e = ApiError::new(403, "010", crate::error::ErrorType::Security, "Not allowed");
        e.with_psp_reference = true;
        return Err(e);
    }
    let number = decrypt(pm, "encryptedCardNumber")?
        .ok_or_else(|| ApiError::unprocessable("14_007", "Invalid payment method data"))?;
    let month = decrypt(pm, "encryptedExpiryMonth")?
        .ok_or_else(|| ApiError::unprocessable("129", "Expiry Date Invalid"))?;
    let year = decrypt(pm, "encryptedExpiryYear")?
        .ok_or_else(|| ApiError::unprocessable("129", "Expiry Date Invalid"))?;
    let cvc = decrypt(pm, "encryptedSecurityCode")?;
    Ok(Method::Card(card_from_fields(
        number,
        month,
        year,
        cvc,
        pm.non_empty("holderName")?,
    )?))
}

fn one_of(value: Option<&str>, field: &str, allowed: &[&str]) -> Result<(), ApiError> {
    match value {
        Some(v) if !allowed.contains(&v) => Err(ApiError::unexpected_input(format!(
            "Unexpected data for field '{field}': {v:?} is not one of {allowed:?}"
        ))),
        _ => Ok(()),
    }
}

/// Reads a `PaymentRequest`.
pub fn read_request(st: &State, body: &Value) -> Result<PaymentInput, ApiError> {
    let obj = Obj::root(body, "PaymentRequest")?;
    obj.only(PAYMENT_REQUEST)?;
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
    let pm = obj.obj("paymentMethod", "CardDetails")?.ok_or_else(|| {
        ApiError::unprocessable("100", "Required object 'paymentMethod' is not provided.")
    })?;
    let method = read_method(&pm)?;
    let interaction = obj.non_empty("shopperInteraction")?;
    one_of(
        interaction,
        "shopperInteraction",
        &["Ecommerce", "ContAuth", "Moto", "POS"],
    )?;
    let rpm = obj.non_empty("recurringProcessingModel")?;
    one_of(
        rpm,
        "recurringProcessingModel",
        &["CardOnFile", "Subscription", "UnscheduledCardOnFile"],
    )?;
    let shopper_reference = obj.non_empty("shopperReference")?;
    let store = obj.bool("storePaymentMethod")?.unwrap_or(false)
        || obj.bool("enableRecurring")?.unwrap_or(false)
        || obj.bool("enableOneClick")?.unwrap_or(false);
    if (store || matches!(method, Method::Stored(_))) && shopper_reference.is_none() {
        return Err(ApiError::unprocessable(
            "000",
            "Recurring payments require a shopperReference",
        ));
    }
    let additional = obj.string_map("additionalData")?;
    let metadata = obj.string_map("metadata")?;
    let capture_delay_hours = obj.i64("captureDelayHours")?;
    if capture_delay_hours.is_some_and(|h| h < 0) {
        return Err(ApiError::unexpected_input(
            "Unexpected data for field 'captureDelayHours': must not be negative",
        ));
    }
    let holder_forced = match &pm.non_empty("holderName")? {
        Some(name) => cards::by_holder_name(name),
        None => None,
    };
    let code_forced = match additional.get("RequestedTestAcquirerResponseCode") {
        Some(code) => Some(cards::by_code(code.trim()).ok_or_else(|| {
            ApiError::unprocessable(
                "000",
                format!("Unknown RequestedTestAcquirerResponseCode {code}"),
            )
        })?),
        None => None,
    };
    let auth = obj.obj("authenticationData", "AuthenticationData")?;
    let (attempt, native) = match &auth {
        Some(auth) => {
            let native = match auth.obj("threeDSRequestData", "ThreeDSRequestData")? {
                Some(data) => data.non_empty("nativeThreeDS")? == Some("preferred"),
                None => false,
            };
            (auth.non_empty("attemptAuthentication")?, native)
        }
        None => (None, false),
    };
    one_of(
        attempt,
        "authenticationData.attemptAuthentication",
        &["always", "never"],
    )?;
    for key in ["redirectToIssuerMethod", "redirectFromIssuerMethod"] {
        one_of(obj.non_empty(key)?, key, &["GET", "POST"])?;
    }
    Ok(PaymentInput {
        merchant_account: merchant_account.to_string(),
        amount,
        reference: reference.to_string(),
        return_url: return_url.to_string(),
        method,
        shopper_reference: shopper_reference.map(str::to_string),
        shopper_interaction: interaction.unwrap_or("Ecommerce").to_string(),
        recurring_processing_model: rpm.map(str::to_string),
        store,
        metadata,
        manual_capture: additional.get("manualCapture").map(String::as_str) == Some("true"),
        capture_delay_hours,
        forced: code_forced.or(holder_forced),
        authentication_allowed: attempt != Some("never")
            && additional.get("executeThreeD").map(String::as_str) != Some("false"),
        flow: Flow {
            native,
            post_to_issuer: obj.non_empty("redirectToIssuerMethod")? == Some("POST"),
        },
        redirect_back_with_post: obj.non_empty("redirectFromIssuerMethod")? == Some("POST"),
        session_id: None,
    })
}

/// `POST /payments`.
pub fn create(st: &mut State, body: &Value) -> Result<Value, ApiError> {
    let input = read_request(st, body)?;
    authorise(st, input)
}

/// Makes a payment; answers as `/payments` does.
pub fn authorise(st: &mut State, input: PaymentInput) -> Result<Value, ApiError> {
    let mut forced = input.forced;
    let (card, stored_id) = match &input.method {
        Method::Card(card) => (card.clone(), None),
        Method::Stored(id) => {
            let shopper = input.shopper_reference.as_deref().unwrap_or("");
            let stored = st
                .stored
                .get_mut(id)
                .filter(|m| {
                    m.merchant_account == input.merchant_account && m.shopper_reference == shopper
                })
                .ok_or_else(|| ApiError::unprocessable("800", "Contract not found"))?;
            if let Some((outcome, remaining)) = stored.forced_outcome {
                forced = Some(outcome);
                match remaining {
                    Some(n) if n <= 1 => stored.forced_outcome = None,
                    Some(n) => stored.forced_outcome = Some((outcome, Some(n - 1))),
                    None => {}
                }
            }
            (stored.card.clone(), Some(id.clone()))
        }
    };
    if forced.is_none() && card.expired(st.now) {
        forced = Some(cards::EXPIRED);
    }
    let psp = ids::reference();
    let needs_authentication = input.shopper_interaction == "Ecommerce"
        && input.authentication_allowed
        && card.three_ds != ThreeDs::NotEnrolled;
    let payment = Payment {
        psp_reference: psp.clone(),
        merchant_account: input.merchant_account.clone(),
        reference: input.reference.clone(),
        amount: input.amount.clone(),
        status: PaymentStatus::ActionRequired,
        refusal: None,
        card: card.clone(),
        paid_with_stored: stored_id,
        stored_method: None,
        shopper_reference: input.shopper_reference.clone(),
        shopper_interaction: input.shopper_interaction.clone(),
        recurring_processing_model: input.recurring_processing_model.clone(),
        store_requested: input.store,
        metadata: input.metadata.clone(),
        manual_capture: input.manual_capture,
        capture_at: input
            .capture_delay_hours
            .filter(|h| *h > 0)
            .map(|h| st.now + h * 3600),
        forced,
        captured: 0,
        refunded: 0,
        cancelled: false,
        created: st.now,
        session_id: input.session_id.clone(),
        return_url: input.return_url.clone(),
        redirect_back_with_post: input.redirect_back_with_post,
        network_tx_reference: ids::opaque("", 15).to_uppercase(),
        fail_next: Vec::new(),
        dispute: None,
        final_response: None,
    };
    st.insert_payment(payment);
    if needs_authentication {
        let (result_code, action) =
            threeds::start(st, &psp, card.three_ds, input.flow, &input.return_url);
        let mut answer = json!({
            "action": action,
            "pspReference": psp,
            "resultCode": result_code,
            "merchantReference": input.reference,
            "amount": input.amount.json(),
            "paymentMethod": {"brand": card.brand, "type": "scheme"},
        });
        if let Some(obj) = answer.as_object_mut() {
            obj.insert(
                "additionalData".into(),
                json!({"cardSummary": card.last_four()}),
            );
        }
        return Ok(answer);
    }
    Ok(finish(st, &psp))
}

/// `POST /payments/details`.
pub fn details(st: &mut State, body: &Value) -> Result<Value, ApiError> {
    let obj = Obj::root(body, "DetailsRequest")?;
    obj.only(DETAILS_REQUEST)?;
    let details = obj
        .obj("details", "PaymentCompletionDetails")?
        .ok_or_else(|| {
            ApiError::unprocessable("100", "Required object 'details' is not provided.")
        })?;
    details.only(COMPLETION_DETAILS)?;
    let (token, completion) = threeds::resolve(st, &details)?;
    complete(st, &token, completion)
}

/// Moves a payment on after its action: the next step, or its outcome.
pub fn complete(st: &mut State, token: &str, completion: Completion) -> Result<Value, ApiError> {
    let action = st
        .actions
        .get(token)
        .cloned()
        .ok_or_else(|| ApiError::unprocessable("000", "Invalid payment details"))?;
    let psp = action.psp_reference.clone();
    let payment = st
        .payments
        .get(&psp)
        .ok_or_else(|| ApiError::unprocessable("000", "Invalid payment details"))?;
    if let Some(done) = &payment.final_response {
        return Ok(done.clone());
    }
    let three_ds = payment.card.three_ds;
    let return_url = payment.return_url.clone();
    match completion {
        Completion::Unfinished => Err(ApiError::unprocessable(
            "000",
            "Invalid payment details: the shopper has not completed authentication",
        )),
        Completion::Fingerprinted if three_ds == ThreeDs::FullFlow => {
            if let Some(a) = st.actions.get_mut(token) {
                a.stage = crate::state::Stage::Challenge;
            }
            let flow = Flow {
                native: true,
                post_to_issuer: false,
            };
            let (result_code, action) =
                threeds::action(st, token, crate::state::Stage::Challenge, flow, &return_url);
            Ok(json!({
                "action": action,
                "pspReference": psp,
                "resultCode": result_code,
            }))
        }
        Completion::Fingerprinted => Ok(finish(st, &psp)),
        Completion::Authenticated(true) => Ok(finish(st, &psp)),
        Completion::Authenticated(false) => {
            if let Some(p) = st.payments.get_mut(&psp) {
                p.forced = Some(cards::NOT_AUTHENTICATED);
            }
            Ok(finish(st, &psp))
        }
    }
}

/// Authorises (or refuses) a payment that needs nothing more from the shopper, stores its card
/// when asked, sends its notifications and returns the answer.
fn finish(st: &mut State, psp: &str) -> Value {
    let Some(payment) = st.payments.get(psp) else {
        return Value::Null;
    };
    let outcome = payment.forced;
    let result = outcome.map_or(Final::Authorised, |o| o.result);
    let answer = match result {
        Final::Authorised => {
            authorise_now(st, psp);
            success_answer(st, psp, "Authorised")
        }
        Final::Received => {
            if let Some(p) = st.payments.get_mut(psp) {
                p.status = PaymentStatus::Received;
            }
            st.queue_settlement(Settle::Authorisation(psp.to_string()));
            success_answer(st, psp, "Received")
        }
        Final::Refused | Final::Error | Final::Cancelled => {
            let status = match result {
                Final::Refused => PaymentStatus::Refused,
                Final::Error => PaymentStatus::Error,
                _ => PaymentStatus::Cancelled,
            };
            let outcome = outcome.unwrap_or(cards::OUTCOMES[2]);
            if let Some(p) = st.payments.get_mut(psp) {
                p.status = status;
                p.refusal = Some(outcome);
            }
            notify_authorisation(st, psp);
            refusal_answer(st, psp, outcome)
        }
    };
    if let Some(p) = st.payments.get_mut(psp) {
        p.final_response = Some(answer.clone());
    }
    answer
}

/// Authorises a `Received` payment (settlement).
pub fn settle_received(st: &mut State, psp: &str) {
    if st
        .payments
        .get(psp)
        .is_some_and(|p| p.status == PaymentStatus::Received)
    {
        authorise_now(st, psp);
    }
}

fn authorise_now(st: &mut State, psp: &str) {
    let now = st.now;
    let Some(p) = st.payments.get_mut(psp) else {
        return;
    };
    p.status = PaymentStatus::Authorised;
    if !p.manual_capture && p.capture_at.is_none() {
        p.captured = p.amount.value;
    }
    let store = p.store_requested.then(|| {
        (
            p.merchant_account.clone(),
            p.shopper_reference.clone().unwrap_or_default(),
            p.card.clone(),
            p.network_tx_reference.clone(),
        )
    });
    if let Some((merchant, shopper, card, network_tx)) = store {
        let key = (merchant.clone(), shopper.clone());
        let existing = st.shoppers.get(&key).and_then(|ids| {
            ids.iter().find(|id| {
                st.stored.get(*id).is_some_and(|m| {
                    m.card.number == card.number
                        && m.card.expiry_month == card.expiry_month
                        && m.card.expiry_year == card.expiry_year
                })
            })
        });
        let (id, operation) = match existing {
            Some(id) => (id.clone(), "alreadyExisting"),
            None => {
                let id = ids::reference();
                st.stored.insert(
                    id.clone(),
                    StoredMethod {
                        id: id.clone(),
                        merchant_account: merchant,
                        shopper_reference: shopper,
                        card,
                        created: now,
                        network_tx_reference: network_tx,
                        first_psp_reference: psp.to_string(),
                        forced_outcome: None,
                    },
                );
                st.shoppers.entry(key).or_default().push(id.clone());
                (id, "created")
            }
        };
        if let Some(p) = st.payments.get_mut(psp) {
            p.stored_method = Some((id, operation));
        }
    }
    notify_authorisation(st, psp);
}

/// The `additionalData` fields naming the method a payment stored (none when it stored none).
pub fn tokenization_data(p: &Payment, data: &mut Map<String, Value>) {
    if let (Some((id, operation)), Some(shopper)) = (&p.stored_method, &p.shopper_reference) {
        data.insert("recurring.recurringDetailReference".into(), json!(id));
        data.insert("recurring.shopperReference".into(), json!(shopper));
        data.insert("tokenization.storedPaymentMethodId".into(), json!(id));
        data.insert("tokenization.shopperReference".into(), json!(shopper));
        data.insert("tokenization.store.operationType".into(), json!(operation));
    }
}

fn expiry(card: &Card) -> String {
    format!("{}/{}", card.expiry_month, card.expiry_year)
}

fn auth_code(psp: &str) -> String {
    let digits: String = psp
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(char::from)
        .collect();
    format!("{:0>6}", &digits[..digits.len().min(6)])
}

fn success_answer(st: &State, psp: &str, result_code: &str) -> Value {
    let Some(p) = st.payments.get(psp) else {
        return Value::Null;
    };
    let mut data = Map::new();
    if result_code == "Authorised" {
        data.insert("authCode".into(), json!(auth_code(psp)));
        data.insert("refusalReasonRaw".into(), json!("AUTHORISED"));
        data.insert("acquirerCode".into(), json!("TestPmmAcquirer"));
        data.insert(
            "acquirerReference".into(),
            json!(ids::opaque("8PQMP9", 5).to_uppercase()),
        );
        data.insert("cvcResult".into(), json!("1 Matches"));
        data.insert(
            "avsResult".into(),
            json!("4 AVS not supported for this card type"),
        );
    }
    data.insert("cardSummary".into(), json!(p.card.last_four()));
    data.insert("cardBin".into(), json!(p.card.bin()));
    data.insert("expiryDate".into(), json!(expiry(&p.card)));
    data.insert("paymentMethod".into(), json!(p.card.brand));
    data.insert("fundingSource".into(), json!(p.card.funding));
    data.insert("cardIssuingCountry".into(), json!(p.card.country));
    data.insert("networkTxReference".into(), json!(p.network_tx_reference));
    if let Some(model) = &p.recurring_processing_model {
        data.insert("recurringProcessingModel".into(), json!(model));
    }
    tokenization_data(p, &mut data);
    json!({
        "additionalData": data,
        "amount": p.amount.json(),
        "merchantReference": p.reference,
        "paymentMethod": {"brand": p.card.brand, "type": "scheme"},
        "pspReference": psp,
        "resultCode": result_code,
    })
}

fn refusal_answer(st: &State, psp: &str, outcome: Outcome) -> Value {
    let Some(p) = st.payments.get(psp) else {
        return Value::Null;
    };
    let reason = outcome.reason.unwrap_or("Refused");
    json!({
        "additionalData": {
            "refusalReasonRaw": format!("DECLINED {reason}"),
            "cardSummary": p.card.last_four(),
            "paymentMethod": p.card.brand,
        },
        "amount": p.amount.json(),
        "merchantReference": p.reference,
        "paymentMethod": {"brand": p.card.brand, "type": "scheme"},
        "pspReference": psp,
        "refusalReason": reason,
        "refusalReasonCode": outcome.code,
        "resultCode": outcome.result.as_str(),
    })
}

/// Additional data every notification about a payment carries: its metadata as `metadata.KEY`,
/// the shopper and the checkout session.
pub fn payment_additional_data(p: &Payment) -> BTreeMap<String, String> {
    let mut data = BTreeMap::new();
    for (k, v) in &p.metadata {
        data.insert(format!("metadata.{k}"), v.clone());
    }
    if let Some(shopper) = &p.shopper_reference {
        data.insert("shopperReference".into(), shopper.clone());
    }
    if let Some(session) = &p.session_id {
        data.insert("checkoutSessionId".into(), session.clone());
    }
    data
}

fn notify_authorisation(st: &State, psp: &str) {
    let Some(p) = st.payments.get(psp) else {
        return;
    };
    let success = p.status == PaymentStatus::Authorised;
    let reason = if success {
        format!(
            "{}:{}:{}",
            auth_code(psp),
            p.card.last_four(),
            expiry(&p.card)
        )
    } else {
        p.refusal
            .and_then(|o| o.reason)
            .unwrap_or("Refused")
            .to_string()
    };
    let mut event = st.event(
        "AUTHORISATION",
        psp,
        Some(p),
        p.amount.clone(),
        success,
        &reason,
    );
    event.additional_data = payment_additional_data(p);
    event
        .additional_data
        .insert("cardSummary".into(), p.card.last_four().to_string());
    event
        .additional_data
        .insert("expiryDate".into(), expiry(&p.card));
    if success {
        event.operations = if p.captured > 0 {
            vec!["REFUND"]
        } else {
            vec!["CANCEL", "CAPTURE", "REFUND"]
        };
        event
            .additional_data
            .insert("authCode".into(), auth_code(psp));
        event
            .additional_data
            .insert("networkTxReference".into(), p.network_tx_reference.clone());
        if let Some(model) = &p.recurring_processing_model {
            event
                .additional_data
                .insert("recurringProcessingModel".into(), model.clone());
        }
        let mut data = Map::new();
        tokenization_data(p, &mut data);
        for (k, v) in data {
            event
                .additional_data
                .insert(k, v.as_str().unwrap_or_default().to_string());
        }
    } else if let Some(outcome) = p.refusal {
        event
            .additional_data
            .insert("refusalReasonCode".into(), outcome.code.to_string());
    }
    st.emit(&event);
    if let (Some((id, "created")), Some(shopper)) = (&p.stored_method, &p.shopper_reference) {
        let mut contract = st.event(
            "RECURRING_CONTRACT",
            id,
            Some(p),
            p.amount.clone(),
            true,
            "",
        );
        contract.original_reference = Some(psp.to_string());
        contract.additional_data = payment_additional_data(p);
        contract
            .additional_data
            .insert("recurring.recurringDetailReference".into(), id.clone());
        contract
            .additional_data
            .insert("recurring.shopperReference".into(), shopper.clone());
        st.emit(&contract);
    }
}
