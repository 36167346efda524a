//! Maps `METHOD /v71/...` to the handlers.

use http::Method;
use serde_json::Value;

use crate::body::Params;
use crate::error::ApiError;
use crate::modifications;
use crate::payments;
use crate::sessions;
use crate::state::{API_VERSION, ModKind, State};
use crate::stored;

/// What an API request answers when it succeeds.
#[derive(Debug)]
pub enum Reply {
    /// A JSON body with this status (200 or 201).
    Json(u16, Value),
    /// `204 No Content`.
    NoContent,
}

/// The path prefix of the API: `/v71`.
pub fn prefix() -> String {
    format!("/v{API_VERSION}")
}

/// Executes one API request against the state.
pub fn route(
    st: &mut State,
    method: &Method,
    path: &str,
    query: &Params,
    body: &Value,
) -> Result<Reply, ApiError> {
    let Some(rest) = path
        .strip_prefix(&prefix())
        .and_then(|r| r.strip_prefix('/'))
    else {
        return Err(ApiError::not_found(method, path));
    };
    let segments: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    let (get, post, delete) = (
        *method == Method::GET,
        *method == Method::POST,
        *method == Method::DELETE,
    );
    let modification = |kind| {
        move |st: &mut State, psp: &str| {
            modifications::request(st, kind, Some(psp), body).map(|v| Reply::Json(201, v))
        }
    };
    match segments.as_slice() {
        ["payments"] if post => payments::create(st, body).map(|v| Reply::Json(200, v)),
        ["payments", "details"] if post => payments::details(st, body).map(|v| Reply::Json(200, v)),
        ["payments", psp, "captures"] if post => modification(ModKind::Capture)(st, psp),
        ["payments", psp, "cancels"] if post => modification(ModKind::Cancel)(st, psp),
        ["payments", psp, "refunds"] if post => modification(ModKind::Refund)(st, psp),
        ["payments", psp, "reversals"] if post => modification(ModKind::Reversal)(st, psp),
        ["cancels"] if post => modifications::request(st, ModKind::TechnicalCancel, None, body)
            .map(|v| Reply::Json(201, v)),
        ["sessions"] if post => sessions::create(st, body).map(|v| Reply::Json(201, v)),
        ["sessions", id] if get => sessions::result(st, id, query).map(|v| Reply::Json(200, v)),
        ["storedPaymentMethods"] if get => stored::list(st, query).map(|v| Reply::Json(200, v)),
        ["storedPaymentMethods", id] if delete => {
            stored::delete(st, id, query).map(|()| Reply::NoContent)
        }
        _ => Err(ApiError::not_found(method, path)),
    }
}
