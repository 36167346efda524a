//! Admin routes under `/_emulator/` (no API key, never affected by faults): the library's controls
//! for tests in other processes and `curl` sessions, and the pages a shopper visits. Parameters are
//! form-encoded, in the query or the body.
//!
//! | route | parameters |
//! |---|---|
//! | `GET /_emulator/health` | |
//! | `POST /_emulator/faults/fail_next` | `count`, `status` (500/503/429), `path_prefix`, `transient_error` |
//! | `POST /_emulator/faults/latency` | `ms` |
//! | `POST /_emulator/faults/drop_after_commit` | `count`, `path_prefix` |
//! | `POST /_emulator/faults/clear` | |
//! | `GET /_emulator/clock`, `POST /_emulator/clock/advance`, `POST /_emulator/clock/set` | `seconds`, `now` |
//! | `POST /_emulator/webhook_endpoints` | `url`, `hmac_key` (hex; generated when absent) -> `{id, url, hmacKey}` |
//! | `GET /_emulator/webhook_endpoints`, `DELETE /_emulator/webhook_endpoints/{id}` | |
//! | `GET /_emulator/notifications` | every item emitted (unsigned) |
//! | `GET /_emulator/notifications/deliveries` | every delivery attempt |
//! | `POST /_emulator/notifications/duplicate_next` | `count` |
//! | `POST /_emulator/notifications/hold`, `POST /_emulator/notifications/release` | `order=reverse` |
//! | `GET /_emulator/settlements` | what waits to settle |
//! | `POST /_emulator/settlements/release` | `pspReference` (default: everything) |
//! | `POST /_emulator/settlements/delay` | `ms`, or `manual=true` |
//! | `POST /_emulator/payments/{psp}/fail_next` | `kind=capture` or `refund`: fails asynchronously (CAPTURE_FAILED / REFUND_FAILED) |
//! | `POST /_emulator/payments/{psp}/chargeback` | `stage` (`notification_of_chargeback`, `chargeback`, `chargeback_reversed`, `second_chargeback`), `amount`, `reason_code` |
//! | `POST /_emulator/stored_payment_methods/{id}/refuse` | `code` (refusal reason code) or `holder_name` trigger, `count` (default: until cleared) |
//! | `POST /_emulator/stored_payment_methods/{id}/clear` | |
//! | `GET`/`POST /_emulator/card-form` | `return_url`, `state`: the card form; returns `token` (the `paymentMethod` JSON), `brand`, `lastFour` |
//! | `GET /_emulator/threeds/{token}`, `POST /_emulator/threeds` (`MD`) | the redirect flow's page |
//! | `POST /_emulator/threeds/{token}` | `password` or `outcome=succeed|fail` |
//! | `GET /_emulator/threeds2/{token}/fingerprint` | the native flow's fingerprint result |
//! | `GET`/`POST /_emulator/threeds2/{token}` | the native flow's challenge page |
//! | `GET`/`POST /_emulator/sessions/{id}` | the checkout session page |

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, Method};
use serde_json::{Value, json};

use crate::body::Params;
use crate::cards;
use crate::currency::Amount;
use crate::disputes;
use crate::error::ApiError;
use crate::faults::FailSpec;
use crate::pages;
use crate::payments;
use crate::sessions::{self, Step};
use crate::settlement;
use crate::shared::{SettleDelay, Shared};
use crate::state::{DisputeStage, ModKind, Settle, Stage, State};
use crate::threeds::{self, Completion};

/// What an admin route answers.
#[derive(Debug)]
pub enum Answer {
    /// JSON with a status.
    Json(u16, Value),
    /// An HTML page with a status.
    Html(u16, String),
    /// `303 See Other` to this URL.
    Redirect(String),
}

fn ok(value: Value) -> Answer {
    Answer::Json(200, value)
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new(400, "000", crate::error::ErrorType::Validation, message)
}

fn err(e: ApiError) -> Answer {
    Answer::Json(e.status, e.body(""))
}

/// Appends query parameters to a URL.
fn with_query(url: &str, pairs: &[(&str, &str)]) -> String {
    let query = pairs
        .iter()
        .fold(
            form_urlencoded::Serializer::new(String::new()),
            |mut s, (k, v)| {
                s.append_pair(k, v);
                s
            },
        )
        .finish();
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{query}")
}

/// Whether the shopper authenticated on a page: `outcome=succeed|fail`, or the password.
fn authenticated(p: &Params) -> Result<bool, ApiError> {
    match p.get("outcome") {
        Some("succeed") => Ok(true),
        Some("fail") => Ok(false),
        None | Some("password") => Ok(p.get("password") == Some(cards::CHALLENGE_PASSWORD)),
        Some(other) => Err(bad(format!(
            "outcome must be succeed or fail, not {other:?}"
        ))),
    }
}

/// The token of an `action` object of a `/payments` answer.
fn action_token(action: &Value) -> Option<String> {
    if let Some(t) = action["authorisationToken"].as_str() {
        return Some(t.to_string());
    }
    if let Some(md) = action.pointer("/data/MD").and_then(Value::as_str) {
        return Some(md.to_string());
    }
    action["url"]
        .as_str()
        .and_then(|u| u.rsplit('/').next())
        .map(str::to_string)
}

/// Completes an action as the shopper would (library `Emulator::authenticate`): returns the
/// `details` object to send to `/payments/details`.
pub fn authenticate(st: &mut State, action: &Value, succeed: bool) -> Result<Value, ApiError> {
    let token = action_token(action).ok_or_else(|| bad("not an action of a /payments answer"))?;
    let stage = st
        .actions
        .get(&token)
        .map(|a| a.stage)
        .ok_or_else(|| bad("unknown action"))?;
    Ok(match stage {
        Stage::Fingerprint => json!({"threeDSResult": threeds::fingerprint_result(&token)}),
        Stage::Challenge => json!({"threeDSResult": threeds::record_outcome(st, &token, succeed)?}),
        Stage::Redirect => json!({"redirectResult": threeds::record_outcome(st, &token, succeed)?}),
    })
}

/// The redirect flow's page was completed: back to the merchant (or, for a session payment, the
/// payment completes now and the shopper goes back with the session's result).
fn leave_redirect_page(st: &mut State, token: &str, ok: bool) -> Result<Answer, ApiError> {
    let redirect_result = threeds::record_outcome(st, token, ok)?;
    let psp = st.actions[token].psp_reference.clone();
    let payment = st
        .payments
        .get(&psp)
        .ok_or_else(|| bad("unknown payment"))?;
    let (return_url, post, session) = (
        payment.return_url.clone(),
        payment.redirect_back_with_post,
        payment.session_id.clone(),
    );
    if let Some(session) = session {
        payments::complete(st, token, Completion::Authenticated(ok))?;
        let url = sessions::return_to_merchant(st, &session).unwrap_or(return_url);
        return Ok(Answer::Redirect(url));
    }
    if post {
        return Ok(Answer::Html(
            200,
            pages::post_back(&return_url, &[("redirectResult", &redirect_result)]),
        ));
    }
    Ok(Answer::Redirect(with_query(
        &return_url,
        &[("redirectResult", &redirect_result)],
    )))
}

fn challenge_page(
    st: &State,
    token: &str,
    post_url: &str,
    error: Option<&str>,
) -> Result<Answer, ApiError> {
    let action = st
        .actions
        .get(token)
        .ok_or_else(|| bad("unknown authentication"))?;
    let p = &st.payments[&action.psp_reference];
    Ok(Answer::Html(
        200,
        pages::challenge(
            post_url,
            &p.merchant_account,
            &p.amount,
            p.card.last_four(),
            error,
        ),
    ))
}

fn redirect_page(st: &mut State, token: &str) -> Result<Answer, ApiError> {
    let action = st
        .actions
        .get(token)
        .ok_or_else(|| bad("unknown authentication"))?;
    let frictionless =
        st.payments[&action.psp_reference].card.three_ds == cards::ThreeDs::Frictionless;
    if frictionless && action.outcome.is_none() {
        return leave_redirect_page(st, token, true);
    }
    let post_url = format!("/_emulator/threeds/{token}");
    challenge_page(st, token, &post_url, None)
}

fn card_form_post(p: &Params) -> Result<Answer, ApiError> {
    let return_url = p.get("return_url").unwrap_or("");
    if !(return_url.starts_with("http://") || return_url.starts_with("https://")) {
        return Err(bad("return_url must be an http:// or https:// URL"));
    }
    let card = match payments::card_from_fields(
        p.get("number").unwrap_or(""),
        p.get("expiryMonth").unwrap_or(""),
        p.get("expiryYear").unwrap_or(""),
        p.get("cvc"),
        p.get("holderName"),
    ) {
        Ok(card) => card,
        Err(e) => {
            return Ok(Answer::Html(
                400,
                pages::card_form(
                    "/_emulator/card-form",
                    return_url,
                    p.get("state"),
                    Some(&e.message),
                ),
            ));
        }
    };
    let mut token = json!({
        "type": "scheme",
        "encryptedCardNumber": format!("test_{}", card.number),
        "encryptedExpiryMonth": format!("test_{:02}", card.expiry_month),
        "encryptedExpiryYear": format!("test_{}", card.expiry_year),
    });
    if let Some(cvc) = p.get("cvc") {
        token["encryptedSecurityCode"] = json!(format!("test_{cvc}"));
    }
    if let Some(holder) = &card.holder_name {
        token["holderName"] = json!(holder);
    }
    let token = token.to_string();
    let mut pairs = vec![
        ("token", token.as_str()),
        ("brand", card.brand),
        ("lastFour", card.last_four()),
    ];
    if let Some(state) = p.get("state") {
        pairs.push(("state", state));
    }
    Ok(Answer::Redirect(with_query(return_url, &pairs)))
}

fn fail_spec(p: &Params) -> Result<FailSpec, ApiError> {
    let status = p.int("status").map_err(bad)?.unwrap_or(500);
    if !(400..=599).contains(&status) {
        return Err(bad("status must be a 4xx or 5xx code"));
    }
    Ok(FailSpec {
        count: p
            .int("count")
            .map_err(bad)?
            .unwrap_or(1)
            .clamp(0, i64::from(u32::MAX)) as u32,
        status: status as u16,
        path_prefix: p.get("path_prefix").map(str::to_string),
        transient_error: p.bool("transient_error").map_err(bad)?,
    })
}

/// Parses a dispute stage name.
pub fn dispute_stage(name: &str) -> Option<DisputeStage> {
    match name.to_ascii_lowercase().as_str() {
        "notification_of_chargeback" => Some(DisputeStage::Notified),
        "chargeback" => Some(DisputeStage::Chargeback),
        "chargeback_reversed" => Some(DisputeStage::Reversed),
        "second_chargeback" => Some(DisputeStage::SecondChargeback),
        _ => None,
    }
}

/// Marks the next `kind` modification of payment `psp` to fail asynchronously.
pub fn fail_next_modification(st: &mut State, psp: &str, kind: ModKind) -> Result<(), ApiError> {
    let p = st
        .payments
        .get_mut(psp)
        .ok_or_else(|| bad(format!("No payment {psp}")))?;
    p.fail_next.push(kind);
    Ok(())
}

/// Makes charges of stored method `id` refused with `outcome` (`count` times, or until cleared).
pub fn refuse_stored(
    st: &mut State,
    id: &str,
    outcome: Option<cards::Outcome>,
    count: Option<u32>,
) -> Result<(), ApiError> {
    let m = st
        .stored
        .get_mut(id)
        .ok_or_else(|| bad(format!("No stored payment method {id}")))?;
    m.forced_outcome = outcome.map(|o| (o, count));
    Ok(())
}

fn settlements_json(st: &State) -> Value {
    let items: Vec<Value> = st
        .unsettled
        .iter()
        .map(|item| match item {
            Settle::Modification(psp) => {
                let m = &st.modifications[psp];
                json!({"pspReference": psp, "kind": m.kind.event_code(), "paymentPspReference": m.payment_psp})
            }
            Settle::Authorisation(psp) => json!({"pspReference": psp, "kind": "AUTHORISATION"}),
        })
        .collect();
    json!({"pending": items})
}

/// Handles one admin request. `headers` tell whether a page's caller wants JSON.
pub fn handle(
    shared: &Arc<Shared>,
    method: &Method,
    path: &str,
    p: &Params,
    headers: &HeaderMap,
    base_url: &str,
) -> Answer {
    let segments: Vec<&str> = path
        .trim_start_matches("/_emulator")
        .trim_matches('/')
        .split('/')
        .collect();
    let (get, post, delete) = (
        *method == Method::GET,
        *method == Method::POST,
        *method == Method::DELETE,
    );
    let wants_json = headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    let lock = || {
        let mut st = shared.lock();
        st.base_url = base_url.to_string();
        st
    };
    let result = (|| -> Result<Answer, ApiError> {
        match segments.as_slice() {
            [""] | ["health"] => Ok(ok(
                json!({"ok": true, "apiVersion": crate::state::API_VERSION}),
            )),
            ["faults", "fail_next"] if post => {
                shared.faults.fail_next(fail_spec(p)?);
                Ok(ok(json!({"ok": true})))
            }
            ["faults", "latency"] if post => {
                let ms = p.int("ms").map_err(bad)?.unwrap_or(0).max(0) as u64;
                shared.faults.set_latency(Duration::from_millis(ms));
                Ok(ok(json!({"ok": true, "latencyMs": ms})))
            }
            ["faults", "drop_after_commit"] if post => {
                let count = p
                    .int("count")
                    .map_err(bad)?
                    .unwrap_or(1)
                    .clamp(0, i64::from(u32::MAX)) as u32;
                shared
                    .faults
                    .drop_after_commit(count, p.get("path_prefix").map(str::to_string));
                Ok(ok(json!({"ok": true})))
            }
            ["faults", "clear"] if post => {
                shared.faults.clear();
                Ok(ok(json!({"ok": true})))
            }
            ["clock"] if get => Ok(ok(json!({"now": shared.clock.now()}))),
            ["clock", "advance"] if post => {
                let seconds = p
                    .int("seconds")
                    .map_err(bad)?
                    .ok_or_else(|| bad("seconds is required"))?;
                if seconds < 0 {
                    return Err(bad(
                        "the clock only moves forward; use /_emulator/clock/set",
                    ));
                }
                shared.clock.advance(Duration::from_secs(seconds as u64));
                Ok(ok(json!({"now": shared.clock.now()})))
            }
            ["clock", "set"] if post => {
                let now = p
                    .int("now")
                    .map_err(bad)?
                    .ok_or_else(|| bad("now is required"))?;
                shared.clock.set(now);
                Ok(ok(json!({"now": shared.clock.now()})))
            }
            ["webhook_endpoints"] if post => {
                let url = p.get("url").ok_or_else(|| bad("url is required"))?;
                let hub = lock().webhooks.clone();
                let endpoint = hub
                    .add(url, p.get("hmac_key"))
                    .map_err(|e| bad(e.to_string()))?;
                Ok(ok(json!(endpoint)))
            }
            ["webhook_endpoints"] if get => Ok(ok(json!({"data": lock().webhooks.endpoints()}))),
            ["webhook_endpoints", id] if delete => {
                let removed = lock().webhooks.remove(id);
                Ok(Answer::Json(
                    if removed { 200 } else { 404 },
                    json!({"id": id, "deleted": removed}),
                ))
            }
            ["notifications"] if get => Ok(ok(json!({"items": lock().webhooks.emitted()}))),
            ["notifications", "deliveries"] if get => {
                Ok(ok(json!({"deliveries": lock().webhooks.deliveries()})))
            }
            ["notifications", "duplicate_next"] if post => {
                let count = p
                    .int("count")
                    .map_err(bad)?
                    .unwrap_or(1)
                    .clamp(0, i64::from(u32::MAX)) as u32;
                lock().webhooks.duplicate_next(count);
                Ok(ok(json!({"ok": true})))
            }
            ["notifications", "hold"] if post => {
                lock().webhooks.hold();
                Ok(ok(json!({"ok": true})))
            }
            ["notifications", "release"] if post => {
                lock().webhooks.release(p.get("order") == Some("reverse"));
                Ok(ok(json!({"ok": true})))
            }
            ["settlements"] if get => Ok(ok(settlements_json(&lock()))),
            ["settlements", "release"] if post => {
                let released = settlement::release(&mut lock(), p.get("pspReference"));
                Ok(ok(json!({"released": released})))
            }
            ["settlements", "delay"] if post => {
                let delay = if p.bool("manual").map_err(bad)? == Some(true) {
                    SettleDelay::Manual
                } else {
                    let ms = p
                        .int("ms")
                        .map_err(bad)?
                        .ok_or_else(|| bad("ms or manual=true is required"))?;
                    SettleDelay::After(Duration::from_millis(ms.max(0) as u64))
                };
                shared.set_settle_delay(delay);
                Ok(ok(json!({"ok": true})))
            }
            ["payments", psp, "fail_next"] if post => {
                let kind = match p.get("kind") {
                    Some("capture") => ModKind::Capture,
                    Some("refund") => ModKind::Refund,
                    _ => return Err(bad("kind must be capture or refund")),
                };
                fail_next_modification(&mut lock(), psp, kind)?;
                Ok(ok(json!({"ok": true})))
            }
            ["payments", psp, "chargeback"] if post => {
                let stage = dispute_stage(p.get("stage").unwrap_or("chargeback"))
                    .ok_or_else(|| bad("unknown stage"))?;
                let amount = p.int("amount").map_err(bad)?;
                let item =
                    disputes::advance(&mut lock(), psp, stage, amount, p.get("reason_code"))?;
                Ok(ok(item))
            }
            ["stored_payment_methods", id, "refuse"] if post => {
                let outcome = match (p.get("code"), p.get("holder_name")) {
                    (Some(code), _) => cards::by_code(code),
                    (None, Some(name)) => cards::by_holder_name(name),
                    (None, None) => cards::by_code("2"),
                }
                .ok_or_else(|| bad("unknown refusal code or holder name"))?;
                let count = p.int("count").map_err(bad)?.map(|c| c.max(1) as u32);
                refuse_stored(&mut lock(), id, Some(outcome), count)?;
                Ok(ok(json!({"ok": true})))
            }
            ["stored_payment_methods", id, "clear"] if post => {
                refuse_stored(&mut lock(), id, None, None)?;
                Ok(ok(json!({"ok": true})))
            }
            ["card-form"] if get => {
                let return_url = p
                    .get("return_url")
                    .ok_or_else(|| bad("return_url is required"))?;
                Ok(Answer::Html(
                    200,
                    pages::card_form("/_emulator/card-form", return_url, p.get("state"), None),
                ))
            }
            ["card-form"] if post => card_form_post(p),
            ["threeds"] if post => {
                let token = p.get("MD").ok_or_else(|| bad("MD is required"))?;
                redirect_page(&mut lock(), token)
            }
            ["threeds", token] if get => redirect_page(&mut lock(), token),
            ["threeds", token] if post => {
                let ok = authenticated(p)?;
                leave_redirect_page(&mut lock(), token, ok)
            }
            ["threeds2", token, "fingerprint"] if get || post => {
                let st = lock();
                if !st.actions.contains_key(*token) {
                    return Err(bad("unknown authentication"));
                }
                Ok(ok(
                    json!({"threeDSResult": threeds::fingerprint_result(token)}),
                ))
            }
            ["threeds2", token] if get => challenge_page(
                &lock(),
                token,
                &format!("/_emulator/threeds2/{token}"),
                None,
            ),
            ["threeds2", token] if post => {
                let ok = authenticated(p)?;
                let result = threeds::record_outcome(&mut lock(), token, ok)?;
                if wants_json {
                    Ok(Answer::Json(200, json!({"threeDSResult": result})))
                } else {
                    Ok(Answer::Html(200, pages::challenge_done(&result, ok)))
                }
            }
            ["sessions", id] if get => {
                let st = lock();
                let s = st
                    .sessions
                    .get(*id)
                    .ok_or_else(|| bad(format!("No session {id}")))?;
                Ok(Answer::Html(
                    200,
                    pages::session(
                        &format!("/_emulator/sessions/{id}"),
                        &s.merchant_account,
                        &s.amount,
                        s.store_mode == "askForConsent",
                        None,
                    ),
                ))
            }
            ["sessions", id] if post => {
                let mut st = lock();
                match sessions::pay(&mut st, id, p)? {
                    Step::Redirect(url) => Ok(Answer::Redirect(url)),
                    Step::Retry(message) => {
                        let s = &st.sessions[*id];
                        let (merchant, amount): (String, Amount) =
                            (s.merchant_account.clone(), s.amount.clone());
                        Ok(Answer::Html(
                            400,
                            pages::session(
                                &format!("/_emulator/sessions/{id}"),
                                &merchant,
                                &amount,
                                s.store_mode == "askForConsent",
                                Some(&message),
                            ),
                        ))
                    }
                }
            }
            _ => Err(ApiError::new(
                404,
                "000",
                crate::error::ErrorType::Validation,
                format!("Unrecognized emulator admin route ({method} {path})"),
            )),
        }
    })();
    result.unwrap_or_else(err)
}
