//! The pipeline every request goes through (connections are `emulator_support`'s): faults, the
//! `X-API-Key` check, body decoding, idempotency, latency, execution under the state lock,
//! response headers, and "commit then drop". Admin routes skip faults, keys and idempotency.

use std::sync::Arc;

use bytes::Bytes;
use emulator_support::ConnectionDropped;
use emulator_support::server::HandlerResult;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use serde_json::Value;

use crate::admin::{self, Answer};
use crate::body::{self, Params};
use crate::error::ApiError;
use crate::faults;
use crate::idempotency::{Claim, MAX_KEY_LEN};
use crate::ids;
use crate::router::{self, Reply};
use crate::shared::Shared;

/// Largest request body accepted.
const MAX_BODY: usize = 1 << 20;

fn respond(status: u16, body: Bytes, content_type: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static(content_type));
    headers.insert("server", HeaderValue::from_static("adyen-emulator"));
    response
}

fn respond_json(status: u16, value: &Value) -> Response<Full<Bytes>> {
    respond(
        status,
        Bytes::from(serde_json::to_vec(value).unwrap_or_default()),
        "application/json;charset=UTF-8",
    )
}

fn respond_error(error: &ApiError) -> Response<Full<Bytes>> {
    let mut response = respond_json(error.status, &error.body(&ids::reference()));
    if let Some(transient) = error.transient {
        response.headers_mut().insert(
            "transient-error",
            HeaderValue::from_static(if transient { "true" } else { "false" }),
        );
    }
    response
}

fn admin_response(answer: Answer) -> Response<Full<Bytes>> {
    match answer {
        Answer::Json(status, value) => respond_json(status, &value),
        Answer::Html(status, html) => {
            respond(status, Bytes::from(html), "text/html; charset=utf-8")
        }
        Answer::Redirect(url) => {
            let mut response = respond(303, Bytes::new(), "text/plain");
            if let Ok(v) = HeaderValue::from_str(&url) {
                response.headers_mut().insert("location", v);
            }
            response
        }
    }
}

fn with_key(mut response: Response<Full<Bytes>>, key: Option<&str>) -> Response<Full<Bytes>> {
    if let Some(key) = key
        && let Ok(v) = HeaderValue::from_str(key)
    {
        response.headers_mut().insert("idempotency-key", v);
    }
    response
}

/// JSON with object keys sorted at every level: two bodies that differ only in key order or
/// whitespace compare equal.
fn canonical(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let fields: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::String(k.clone()), canonical(&map[k])))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

fn api_key_accepted(shared: &Shared, headers: &HeaderMap) -> bool {
    let Some(key) = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
    else {
        return false;
    };
    shared.api_keys.is_empty() || shared.api_keys.iter().any(|k| k == key)
}

/// Forgets a claimed idempotency key if the request is abandoned before it finishes (the client
/// went away during injected latency), so the key doesn't stay "in progress" forever.
struct KeyGuard {
    shared: Arc<Shared>,
    key: Option<String>,
}

impl Drop for KeyGuard {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.shared.lock().idempotency.finish(&key, None);
        }
    }
}

/// Handles one request.
pub async fn handle(
    shared: Arc<Shared>,
    base_url: Arc<str>,
    request: Request<Incoming>,
) -> HandlerResult {
    let path = request.uri().path().to_string();
    let query = request.uri().query().map(str::to_string);
    let method = request.method().clone();
    let headers = request.headers().clone();
    if path == "/_emulator" || path.starts_with("/_emulator/") {
        let form = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let body = match Limited::new(request.into_body(), MAX_BODY).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => return Ok(respond_error(&ApiError::unexpected_input("Body too large"))),
        };
        let params = Params::parse(query.as_deref(), form.then_some(&body[..]));
        let answer = admin::handle(&shared, &method, &path, &params, &headers, &base_url);
        return Ok(admin_response(answer));
    }
    let api = path.starts_with(&format!("{}/", router::prefix()));
    let decision = if api {
        shared.faults.decide(&path)
    } else {
        Default::default()
    };
    if let Some(spec) = &decision.fail {
        return Ok(respond_error(&faults::answer(spec)));
    }
    if !api_key_accepted(&shared, &headers) {
        return Ok(respond_error(&ApiError::unauthorized()));
    }
    let key = (method == Method::POST)
        .then(|| headers.get("idempotency-key"))
        .flatten()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let body = match Limited::new(request.into_body(), MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            let error = ApiError::unexpected_input("The request body is larger than 1 MiB");
            return Ok(with_key(respond_error(&error), key.as_deref()));
        }
    };
    let value = if method == Method::POST {
        match body::parse(&body) {
            Ok(v) => v,
            Err(e) => return Ok(with_key(respond_error(&e), key.as_deref())),
        }
    } else {
        Value::Object(Default::default())
    };
    let params = Params::parse(query.as_deref(), None);
    let mut guard = KeyGuard {
        shared: shared.clone(),
        key: None,
    };
    if let Some(key) = &key {
        if key.is_empty() || key.len() > MAX_KEY_LEN {
            let error = ApiError::unexpected_input(format!(
                "Idempotency-Key must be between 1 and {MAX_KEY_LEN} characters long"
            ));
            return Ok(with_key(respond_error(&error), Some(key)));
        }
        let fingerprint = format!(
            "{method} {path}?{}\n{}",
            query.as_deref().unwrap_or(""),
            canonical(&value)
        );
        let claim = {
            let mut st = shared.lock();
            let now = st.now;
            st.idempotency.claim(key, &fingerprint, now)
        };
        match claim {
            Claim::Execute => guard.key = Some(key.clone()),
            Claim::Replay { status, body } => {
                if decision.drop_after_commit {
                    return Err(ConnectionDropped);
                }
                let response = respond(status, body, "application/json;charset=UTF-8");
                return Ok(with_key(response, Some(key)));
            }
            Claim::Reject(error) => return Ok(with_key(respond_error(&error), Some(key))),
        }
    }
    if !decision.latency.is_zero() {
        tokio::time::sleep(decision.latency).await;
    }
    let response = {
        let mut st = shared.lock();
        st.base_url = base_url.to_string();
        let result = router::route(&mut st, &method, &path, &params, &value);
        let (status, bytes, error) = match &result {
            Ok(Reply::Json(status, v)) => (
                *status,
                Bytes::from(serde_json::to_vec(v).unwrap_or_default()),
                None,
            ),
            Ok(Reply::NoContent) => (204, Bytes::new(), None),
            Err(e) => (e.status, Bytes::new(), Some(e)),
        };
        if let Some(key) = guard.key.take() {
            // Saved before the lock is released, so a repeat can't slip in between.
            let saved = error.is_none().then(|| (status, bytes.clone()));
            st.idempotency.finish(&key, saved);
        }
        drop(st);
        match error {
            Some(e) => respond_error(e),
            None if status == 204 => respond(204, Bytes::new(), "application/json;charset=UTF-8"),
            None => respond(status, bytes, "application/json;charset=UTF-8"),
        }
    };
    if decision.drop_after_commit {
        return Err(ConnectionDropped);
    }
    Ok(with_key(response, key.as_deref()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn canonical_ignores_key_order() {
        let a: serde_json::Value =
            serde_json::from_str(r#"{"b":1,"a":{"d":[1,{"y":2,"x":1}],"c":"s"}}"#).unwrap();
        let b: serde_json::Value =
            serde_json::from_str(r#"{"a":{"c":"s","d":[1,{"x":1,"y":2}]},"b":1}"#).unwrap();
        assert_eq!(super::canonical(&a), super::canonical(&b));
    }
}
