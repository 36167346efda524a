//! `Idempotency-Key` on POST requests: a key names one request (its method, path and body, the
//! body's JSON compared regardless of key order or spacing) for the API key that sent it.
//!
//! - The same key with another request is refused (422 `idempotency_key_reused`, saying what
//!   differs), whatever became of the first.
//! - A final answer (a success, a decline, or a refusal after the gateway was called) is saved and
//!   replayed to repeats (`Idempotent-Replayed: true`).
//! - A request that wrote nothing (refused input, not found, a conflict found before writing)
//!   frees the key: the corrected request may use it.
//! - A request that wrote something and has no final answer (a 5xx, an unknown outcome, an
//!   operation still unsettled) keeps the key bound to it: the same request runs again, and
//!   settles what the first one started (its gateway keys derive from the client's key and the
//!   request, [`ClientKey`]).
//! - A repeat that arrives while the first is still running in this process waits for its answer.
//!
//! What a request wrote is what [`crate::payments::journal`] recorded while it ran.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Extension, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::keys::digest;
use crate::ledger::{IdemBegin, OpState};
use crate::payments::journal;

use super::auth::Caller;
use super::errors::ApiError;
use super::extract::MAX_BODY;
use super::state::AppState;

/// How long a repeat waits for the first request with its key to answer.
const WAIT_FOR_FIRST: Duration = Duration::from_secs(120);

/// A key derived from the client's `Idempotency-Key`, its API key name and the request, for the
/// gateway keys of what the request writes: the same request repeated writes (or finds) the
/// same objects.
#[derive(Clone, Debug)]
pub struct ClientKey(pub String);

/// The key derived from the client's `Idempotency-Key`, when it sent one.
pub fn client_key(k: Option<Extension<ClientKey>>) -> Option<String> {
    k.map(|Extension(ClientKey(k))| k)
}

/// Repeats waiting for the request running with their key in this process.
#[derive(Default)]
pub struct KeyWaits(Mutex<HashMap<(String, String), Arc<Notify>>>);

impl KeyWaits {
    fn watch(&self, scope: &str, key: &str) -> Arc<Notify> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.entry((scope.to_string(), key.to_string()))
            .or_default()
            .clone()
    }

    fn done(&self, scope: &str, key: &str) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.remove(&(scope.to_string(), key.to_string())) {
            n.notify_waiters();
        }
    }
}

/// The state of [`idempotency`].
#[derive(Clone)]
pub struct IdempotencyState {
    /// The handlers' state.
    pub app: Arc<AppState>,
    /// Repeats waiting for their first request.
    pub waits: Arc<KeyWaits>,
}

/// A request as an idempotency key remembers it.
struct Fingerprint {
    method: String,
    path: String,
    body: Value,
}

impl Fingerprint {
    fn of(method: &Method, path: &str, body: &[u8]) -> Self {
        let body = if body.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            serde_json::from_slice::<Value>(body)
                .map(canonical)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
        };
        Fingerprint {
            method: method.as_str().to_string(),
            path: path.to_string(),
            body,
        }
    }

    /// The stored form (JSON, object keys sorted).
    fn stored(&self) -> Vec<u8> {
        canonical(json!({ "method": self.method, "path": self.path, "body": self.body }))
            .to_string()
            .into_bytes()
    }

    /// What differs between the request stored first (`first`) and this one.
    fn difference_from(&self, first: &[u8]) -> String {
        let Ok(first) = serde_json::from_slice::<Value>(first) else {
            return "the first request is not known in detail".to_string();
        };
        let (method, path) = (first["method"].as_str(), first["path"].as_str());
        if method != Some(self.method.as_str()) || path != Some(self.path.as_str()) {
            return format!(
                "it was used for {} {}, now for {} {}",
                method.unwrap_or("?"),
                path.unwrap_or("?"),
                self.method,
                self.path
            );
        }
        let empty = serde_json::Map::new();
        let (was, now) = match (&first["body"], &self.body) {
            (Value::Object(a), Value::Object(b)) => (a, b),
            (Value::Object(a), Value::Null) => (a, &empty),
            (Value::Null, Value::Object(b)) => (&empty, b),
            (a, b) => return format!("the body was {a}, now {b}"),
        };
        let mut fields: Vec<&String> = was.keys().chain(now.keys()).collect();
        fields.sort();
        fields.dedup();
        let shown = |v: Option<&Value>| match v {
            Some(v) => v.to_string(),
            None => "absent".to_string(),
        };
        let diffs: Vec<String> = fields
            .into_iter()
            .filter(|f| was.get(*f) != now.get(*f))
            .map(|f| format!("`{f}` was {}, now {}", shown(was.get(f)), shown(now.get(f))))
            .collect();
        if diffs.is_empty() {
            "the body differs".to_string()
        } else {
            diffs.join("; ")
        }
    }
}

/// `v` with every object's keys in order, so that equal JSON compares and hashes equal.
fn canonical(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let sorted: BTreeMap<String, Value> =
                m.into_iter().map(|(k, v)| (k, canonical(v))).collect();
            Value::Object(sorted.into_iter().collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(canonical).collect()),
        other => other,
    }
}

/// Handles `Idempotency-Key` on POST (after [`super::auth::authenticate`]).
pub async fn idempotency(State(st): State<IdempotencyState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let key = match req.headers().get("idempotency-key").map(|v| v.to_str()) {
        None => return next.run(req).await,
        Some(Ok(k)) if !k.is_empty() && k.len() <= 255 => k.to_string(),
        Some(_) => {
            return ApiError::invalid(
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            )
            .into_response();
        }
    };
    let scope = match req.extensions().get::<Caller>() {
        Some(Caller(name)) => name.clone(),
        None => return ApiError::unauthorized("no API key").into_response(),
    };
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return ApiError::payload_too_large(MAX_BODY).into_response();
    };
    let request = Fingerprint::of(&parts.method, parts.uri.path(), &bytes);
    let stored = request.stored();
    let hash = digest(&["request", &String::from_utf8_lossy(&stored)]);

    let deadline = tokio::time::Instant::now() + WAIT_FOR_FIRST;
    loop {
        let notify = st.waits.watch(&scope, &key);
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let (s, k, h, r, owner) = (
            scope.clone(),
            key.clone(),
            hash.clone(),
            stored.clone(),
            st.app.service.boot_id.clone(),
        );
        let begin = st
            .app
            .service
            .db
            .run(move |l| l.idem_begin(&s, &k, &h, &r, &owner))
            .await;
        match begin {
            Err(e) => return ApiError::from(e).into_response(),
            Ok(IdemBegin::Mismatch { request: first }) => {
                return ApiError::idempotency_key_reused(request.difference_from(&first))
                    .into_response();
            }
            Ok(IdemBegin::InProgress) => {
                // The same request is running in this process: its answer is this one's.
                if tokio::time::timeout_at(deadline, notified).await.is_err() {
                    return ApiError::idempotency_key_in_use().into_response();
                }
            }
            Ok(IdemBegin::Replay { status, body }) => return replay(status, body),
            Ok(IdemBegin::Run) => break,
        }
    }

    let mut req = Request::from_parts(parts, Body::from(bytes));
    req.extensions_mut()
        .insert(ClientKey(digest(&[&scope, &key, &hash])));
    let (resp, touched) = journal::tracking(next.run(req)).await;
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let status = parts.status;
    let saved = bytes.to_vec();
    let (s, k) = (scope.clone(), key.clone());
    let ended = st
        .app
        .service
        .db
        .run(move |l| {
            // The operations the request wrote or ran that remain (a charge the gateway
            // refused as invalid input is removed with its transaction).
            let mut states = Vec::new();
            for id in &touched {
                if let Some(op) = l.operation(*id)? {
                    states.push(op.state);
                }
            }
            let unsettled = states
                .iter()
                .any(|s| matches!(s, OpState::Pending | OpState::Unknown));
            let outcome = status.is_success() || status == StatusCode::PAYMENT_REQUIRED;
            if outcome || (!states.is_empty() && !unsettled && !status.is_server_error()) {
                // A final answer: replayed to repeats.
                l.idem_finish(&s, &k, status.as_u16(), &saved)
            } else if states.is_empty() {
                // Nothing was written: the key is free for the corrected request.
                l.idem_abort(&s, &k)
            } else {
                l.idem_unsettled(&s, &k)
            }
        })
        .await;
    if let Err(e) = ended {
        tracing::error!(error = %e, "recording an idempotency key's answer failed");
    }
    st.waits.done(&scope, &key);
    Response::from_parts(parts, Body::from(bytes))
}

/// A saved answer, replayed.
fn replay(status: u16, body: Vec<u8>) -> Response {
    let mut resp = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response();
    resp.headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(body: &str) -> Fingerprint {
        Fingerprint::of(&Method::POST, "/v1/transactions", body.as_bytes())
    }

    #[test]
    fn requests_compare_as_json_and_differences_are_named() {
        assert_eq!(
            fp(r#"{"amount": 5000, "currency": "USD"}"#).stored(),
            fp(r#"{"currency":"USD","amount":5000}"#).stored(),
            "key order and spacing do not matter"
        );
        let first = fp(r#"{"amount": 5000, "currency": "USD"}"#).stored();
        assert_eq!(
            fp(r#"{"amount": 7000, "currency": "USD"}"#).difference_from(&first),
            "`amount` was 5000, now 7000"
        );
        assert_eq!(
            fp(r#"{"amount": 5000, "currency": "USD", "description": "x"}"#)
                .difference_from(&first),
            "`description` was absent, now \"x\""
        );
        let other = Fingerprint::of(&Method::POST, "/v1/transactions/4/capture", b"{}");
        assert!(
            other
                .difference_from(&first)
                .contains("/v1/transactions/4/capture")
        );
        assert_eq!(
            fp("").difference_from(&first),
            "`amount` was 5000, now absent; `currency` was \"USD\", now absent"
        );
    }
}
