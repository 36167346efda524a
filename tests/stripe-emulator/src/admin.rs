//! Admin routes under `/_emulator/` (no API key needed, never affected by faults). They mirror the
//! library's controls, so a test in another process or a `curl` session can drive the emulator.
//! Parameters are form-encoded (query or body), like the API.
//!
//! | route | params |
//! |---|---|
//! | `GET /_emulator/health` | |
//! | `POST /_emulator/faults/fail_next` | `count`, `status` (500/503/429), `path_prefix`, `should_retry`, `lock_timeout` |
//! | `POST /_emulator/faults/latency` | `ms` |
//! | `POST /_emulator/faults/drop_after_commit` | `count`, `path_prefix` |
//! | `POST /_emulator/faults/clear` | |
//! | `GET /_emulator/clock` | |
//! | `POST /_emulator/clock/advance` | `seconds` |
//! | `POST /_emulator/clock/set` | `now` (Unix seconds) |
//! | `POST /_emulator/webhook_endpoints` | `url`, `enabled_events[]` (default all) -> `{id, secret, ...}` |
//! | `GET /_emulator/webhook_endpoints` | |
//! | `GET or POST /_emulator/authenticate/{pi_or_seti}` | `outcome=succeed` (default) or `fail`: completes 3-D Secure |
//! | `POST /_emulator/disputes/{id}/resolve` | `outcome=won` or `lost` |
//! | `POST /_emulator/delays/refunds` | `count` (default 1), `after_ms` (default 0), `outcome=succeed` (default) or `fail`: the next refunds are `pending`, settled later |
//! | `POST /_emulator/delays/captures` | `count` (default 1), `after_ms` (default 0): the next captures are `processing`, captured later |
//! | `POST /_emulator/delays/clear` | |
//! | `GET /_emulator/invoices/{id}` and `.../pdf` | the hosted invoice page |
//! | `GET or POST /_emulator/card-form`, `POST /_emulator/card-form/authenticate` | the test card form (see [`crate::card_form`]) |

use std::time::Duration;

use http::Method;
use serde_json::{Value, json};

use crate::card_form;
use crate::delays::Settle;
use crate::error::ApiError;
use crate::faults::FailSpec;
use crate::form::Params;
use crate::resources::{disputes, invoices, payment_intents, setup_intents};
use crate::server::Shared;
use crate::state::{RequestInfo, State};

/// What an admin route answers.
pub enum AdminBody {
    /// JSON.
    Json(Value),
    /// An HTML page.
    Html(String),
}

fn ok(value: Value) -> (u16, AdminBody) {
    (200, AdminBody::Json(value))
}

fn err(e: ApiError) -> (u16, AdminBody) {
    (e.status, AdminBody::Json(e.body("admin")))
}

/// Registers a webhook endpoint (admin route, and Stripe's own `POST /v1/webhook_endpoints`).
pub fn create_webhook_endpoint(
    st: &mut State,
    p: &Params,
    stripe_api: bool,
) -> Result<Value, ApiError> {
    if stripe_api {
        p.only(&[
            "url",
            "enabled_events",
            "api_version",
            "description",
            "metadata",
            "connect",
        ])?;
    }
    let url = p.required("url")?;
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(ApiError::invalid_param(
            "url",
            "Invalid URL: must start with http:// or https://",
        ));
    }
    let events = p.str_list("enabled_events")?;
    let now = st.clock.now();
    let endpoint = st.webhooks.add(url, events, now);
    Ok(endpoint_json(&endpoint, true))
}

fn endpoint_json(e: &crate::webhooks::Endpoint, with_secret: bool) -> Value {
    let mut v = json!({
        "id": e.id,
        "object": "webhook_endpoint",
        "api_version": crate::state::API_VERSION,
        "created": e.created,
        "enabled_events": e.enabled_events,
        "livemode": false,
        "status": "enabled",
        "url": e.url,
    });
    if with_secret {
        v["secret"] = json!(e.secret);
    }
    v
}

/// Lists webhook endpoints (without secrets, as Stripe does).
pub fn list_webhook_endpoints(st: &State) -> Value {
    let data: Vec<Value> = st
        .webhooks
        .endpoints
        .iter()
        .map(|e| endpoint_json(e, false))
        .collect();
    json!({"object": "list", "url": "/v1/webhook_endpoints", "has_more": false, "data": data})
}

/// Removes a webhook endpoint.
pub fn delete_webhook_endpoint(st: &mut State, id: &str) -> Result<Value, ApiError> {
    if st.webhooks.remove(id) {
        Ok(json!({"id": id, "object": "webhook_endpoint", "deleted": true}))
    } else {
        Err(ApiError::missing("webhook_endpoint", id, "id"))
    }
}

/// `count` (default 1) and `after_ms` (default 0) of a delay.
fn delay_params(p: &Params) -> Result<(u32, Duration), ApiError> {
    let count = p.int("count")?.unwrap_or(1).clamp(0, i64::from(u32::MAX)) as u32;
    let ms = p.int("after_ms")?.unwrap_or(0);
    if ms < 0 {
        return Err(ApiError::invalid_param(
            "after_ms",
            "after_ms must be 0 or more",
        ));
    }
    Ok((count, Duration::from_millis(ms as u64)))
}

fn fail_spec(p: &Params) -> Result<FailSpec, ApiError> {
    let status = p.int("status")?.unwrap_or(500);
    if !(400..=599).contains(&status) {
        return Err(ApiError::invalid_param(
            "status",
            "status must be a 4xx or 5xx code",
        ));
    }
    Ok(FailSpec {
        count: p.int("count")?.unwrap_or(1).clamp(0, i64::from(u32::MAX)) as u32,
        status: status as u16,
        path_prefix: p.non_empty("path_prefix")?.map(str::to_string),
        should_retry: p.bool("should_retry")?,
        lock_timeout: p.bool("lock_timeout")?.unwrap_or(false),
    })
}

/// Handles one admin request.
pub(crate) fn handle(
    shared: &Shared,
    method: &Method,
    path: &str,
    p: &Params,
    base_url: &str,
) -> (u16, AdminBody) {
    let segments: Vec<&str> = path
        .trim_start_matches("/_emulator")
        .trim_matches('/')
        .split('/')
        .collect();
    let post = *method == Method::POST;
    let get = *method == Method::GET;
    let result = (|| -> Result<(u16, AdminBody), ApiError> {
        match segments.as_slice() {
            ["health"] | [""] => Ok(ok(
                json!({"ok": true, "api_version": crate::state::API_VERSION}),
            )),
            ["faults", "fail_next"] if post => {
                shared.faults.fail_next(fail_spec(p)?);
                Ok(ok(json!({"ok": true})))
            }
            ["faults", "latency"] if post => {
                let ms = p.int("ms")?.unwrap_or(0).max(0) as u64;
                shared.faults.set_latency(Duration::from_millis(ms));
                Ok(ok(json!({"ok": true, "latency_ms": ms})))
            }
            ["faults", "drop_after_commit"] if post => {
                let count = p.int("count")?.unwrap_or(1).clamp(0, i64::from(u32::MAX)) as u32;
                shared
                    .faults
                    .drop_after_commit(count, p.non_empty("path_prefix")?.map(str::to_string));
                Ok(ok(json!({"ok": true})))
            }
            ["faults", "clear"] if post => {
                shared.faults.clear();
                Ok(ok(json!({"ok": true})))
            }
            ["clock"] if get => Ok(ok(json!({"now": shared.clock.now()}))),
            ["clock", "advance"] if post => {
                let seconds = p
                    .int("seconds")?
                    .ok_or_else(|| ApiError::missing_param("seconds"))?;
                if seconds < 0 {
                    return Err(ApiError::invalid_param(
                        "seconds",
                        "the clock only moves forward; use /_emulator/clock/set",
                    ));
                }
                shared.clock.advance(Duration::from_secs(seconds as u64));
                Ok(ok(json!({"now": shared.clock.now()})))
            }
            ["clock", "set"] if post => {
                let now = p
                    .int("now")?
                    .ok_or_else(|| ApiError::missing_param("now"))?;
                shared.clock.set(now);
                Ok(ok(json!({"now": shared.clock.now()})))
            }
            ["webhook_endpoints"] if post => {
                let mut st = shared.lock();
                Ok(ok(create_webhook_endpoint(&mut st, p, false)?))
            }
            ["webhook_endpoints"] if get => Ok(ok(list_webhook_endpoints(&shared.lock()))),
            ["authenticate", id] if get || post => {
                let succeed = match p.non_empty("outcome")? {
                    None | Some("succeed") => true,
                    Some("fail") => false,
                    Some(_) => {
                        return Err(ApiError::invalid_param(
                            "outcome",
                            "outcome must be succeed or fail",
                        ));
                    }
                };
                let mut st = shared.lock();
                prepare(&mut st, shared, base_url);
                if id.starts_with("seti_") {
                    Ok(ok(setup_intents::complete_authentication(
                        &mut st, id, succeed,
                    )?))
                } else {
                    Ok(ok(payment_intents::complete_authentication(
                        &mut st, id, succeed,
                    )?))
                }
            }
            ["disputes", id, "resolve"] if post => {
                let won = match p.required("outcome")? {
                    "won" => true,
                    "lost" => false,
                    _ => {
                        return Err(ApiError::invalid_param(
                            "outcome",
                            "outcome must be won or lost",
                        ));
                    }
                };
                let mut st = shared.lock();
                prepare(&mut st, shared, base_url);
                Ok(ok(disputes::resolve(&mut st, id, won)?))
            }
            ["delays", "refunds"] if post => {
                let settle = match p.non_empty("outcome")? {
                    None | Some("succeed") => Settle::Succeed,
                    Some("fail") => Settle::Fail,
                    Some(_) => {
                        return Err(ApiError::invalid_param(
                            "outcome",
                            "outcome must be succeed or fail",
                        ));
                    }
                };
                let (count, after) = delay_params(p)?;
                shared.lock().delays.set_refunds(count, after, settle);
                Ok(ok(json!({"ok": true})))
            }
            ["delays", "captures"] if post => {
                let (count, after) = delay_params(p)?;
                shared.lock().delays.set_captures(count, after);
                Ok(ok(json!({"ok": true})))
            }
            ["delays", "clear"] if post => {
                shared.lock().delays = Default::default();
                Ok(ok(json!({"ok": true})))
            }
            ["card-form"] if get => Ok((200, AdminBody::Html(card_form::page(&shared.lock(), p)?))),
            ["card-form"] if post => {
                let mut st = shared.lock();
                prepare(&mut st, shared, base_url);
                Ok((200, AdminBody::Html(card_form::submit(&mut st, p)?)))
            }
            ["card-form", "authenticate"] if post => {
                let mut st = shared.lock();
                prepare(&mut st, shared, base_url);
                Ok((200, AdminBody::Html(card_form::authenticate(&mut st, p)?)))
            }
            ["invoices", id] | ["invoices", id, "pdf"] if get => {
                let st = shared.lock();
                match invoices::hosted_page(&st, id) {
                    Some(html) => Ok((200, AdminBody::Html(html))),
                    None => Err(ApiError::missing("invoice", id, "id")),
                }
            }
            _ => Err(ApiError::new(
                404,
                "invalid_request_error",
                format!("Unrecognized emulator admin route ({method}: {path})."),
            )),
        }
    })();
    result.unwrap_or_else(err)
}

fn prepare(st: &mut State, shared: &Shared, base_url: &str) {
    st.now = shared.clock.now();
    st.request = RequestInfo {
        id: String::new(),
        idempotency_key: None,
        base_url: base_url.to_string(),
    };
}
