//! The pipeline every request goes through (connections are `emulator_support`'s): faults, auth,
//! parameter decoding, idempotency, latency, execution under the state lock, response headers, and
//! "commit then drop".

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use emulator_support::ConnectionDropped;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use serde_json::Value;

use crate::auth;
use crate::error::ApiError;
use crate::faults::{FailSpec, Faults};
use crate::form::Params;
use crate::idempotency::{Claim, MAX_KEY_LEN};
use crate::router;
use crate::state::{API_VERSION, RequestInfo, State, new_id};
use emulator_support::Clock;

/// Largest request body accepted.
const MAX_BODY: usize = 1 << 20;

/// What every connection shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub state: Mutex<State>,
    pub faults: Faults,
    pub clock: Clock,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock must not take the emulator down with it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Headers every API response carries.
struct ResponseMeta {
    request_id: String,
    version: String,
    idempotency_key: Option<String>,
}

fn respond(status: u16, body: Bytes, meta: &ResponseMeta) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert("server", HeaderValue::from_static("stripe-emulator"));
    if let Ok(v) = HeaderValue::from_str(&meta.request_id) {
        headers.insert("request-id", v);
    }
    if let Ok(v) = HeaderValue::from_str(&meta.version) {
        headers.insert("stripe-version", v);
    }
    if let Some(key) = &meta.idempotency_key
        && let Ok(v) = HeaderValue::from_str(key)
    {
        headers.insert("idempotency-key", v);
    }
    response
}

fn respond_json(status: u16, value: &Value, meta: &ResponseMeta) -> Response<Full<Bytes>> {
    respond(
        status,
        Bytes::from(serde_json::to_vec(value).unwrap_or_default()),
        meta,
    )
}

fn respond_error(error: &ApiError, meta: &ResponseMeta) -> Response<Full<Bytes>> {
    respond_json(error.status, &error.body(&meta.request_id), meta)
}

fn fault_response(spec: &FailSpec, meta: &ResponseMeta) -> Response<Full<Bytes>> {
    let error = match spec.status {
        429 if spec.lock_timeout => ApiError::new(
            429,
            "invalid_request_error",
            "This object cannot be accessed right now because another API request or Stripe process is currently accessing it. If you see this error intermittently, retry the request. If you see this error frequently and are making multiple concurrent requests to a single object, make your requests serially or at a lower rate.",
        )
        .with_code("lock_timeout"),
        429 => ApiError::new(
            429,
            "invalid_request_error",
            "Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.",
        )
        .with_code("rate_limit"),
        503 => ApiError::new(503, "api_error", "Stripe is temporarily unavailable. Please try again later."),
        status => ApiError::new(
            status,
            "api_error",
            "An unknown error occurred while processing your request (injected fault).",
        ),
    };
    let mut response = respond_error(&error, meta);
    if let Some(retry) = spec.should_retry {
        response.headers_mut().insert(
            "stripe-should-retry",
            HeaderValue::from_static(if retry { "true" } else { "false" }),
        );
    }
    response
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

pub(crate) async fn handle(
    shared: Arc<Shared>,
    base_url: Arc<str>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, ConnectionDropped> {
    let mut meta = ResponseMeta {
        request_id: new_id("req"),
        version: request
            .headers()
            .get("stripe-version")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .unwrap_or(API_VERSION)
            .to_string(),
        idempotency_key: None,
    };
    let path = request.uri().path().to_string();
    let is_admin = path == "/_emulator" || path.starts_with("/_emulator/");
    let decision = if path.starts_with("/v1/") {
        shared.faults.decide(&path)
    } else {
        Default::default()
    };
    if let Some(spec) = &decision.fail {
        return Ok(fault_response(spec, &meta));
    }
    if !is_admin && let Err(error) = auth::check(request.headers()) {
        return Ok(respond_error(&error, &meta));
    }
    let method = request.method().clone();
    let query = request.uri().query().map(str::to_string);
    let key = (method == Method::POST)
        .then(|| request.headers().get("idempotency-key"))
        .flatten()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let body = match Limited::new(request.into_body(), MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            let error = ApiError::new(
                400,
                "invalid_request_error",
                "The request body could not be read or is larger than 1 MiB.",
            );
            return Ok(respond_error(&error, &meta));
        }
    };
    let params = match Params::parse(query.as_deref(), &body) {
        Ok(p) => p,
        Err(error) => return Ok(respond_error(&error, &meta)),
    };
    if is_admin {
        let (status, value) = crate::admin::handle(&shared, &method, &path, &params, &base_url);
        return Ok(match value {
            crate::admin::AdminBody::Json(v) => respond_json(status, &v, &meta),
            crate::admin::AdminBody::Html(html) => {
                let mut r = respond(status, Bytes::from(html), &meta);
                r.headers_mut().insert(
                    "content-type",
                    HeaderValue::from_static("text/html; charset=utf-8"),
                );
                r
            }
        });
    }
    meta.idempotency_key = key.clone();
    let mut guard = KeyGuard {
        shared: shared.clone(),
        key: None,
    };
    if let Some(key) = &key {
        if key.is_empty() || key.len() > MAX_KEY_LEN {
            let error = ApiError::invalid_param(
                "Idempotency-Key",
                format!("Idempotency-Key must be between 1 and {MAX_KEY_LEN} characters long."),
            );
            return Ok(respond_error(&error, &meta));
        }
        let endpoint = format!("{method} {path}");
        let claim = {
            let mut st = shared.lock();
            let now = shared.clock.now();
            st.idempotency
                .claim(key, &endpoint, params.fingerprint(), now)
        };
        match claim {
            Claim::Execute => guard.key = Some(key.clone()),
            Claim::Replay {
                status,
                body,
                request_id,
            } => {
                let mut response = respond(status, body, &meta);
                response
                    .headers_mut()
                    .insert("idempotent-replayed", HeaderValue::from_static("true"));
                if let Ok(v) = HeaderValue::from_str(&request_id) {
                    response.headers_mut().insert("original-request", v);
                }
                if decision.drop_after_commit {
                    return Err(ConnectionDropped);
                }
                return Ok(response);
            }
            Claim::Reject(error) => return Ok(respond_error(&error, &meta)),
        }
    }
    if !decision.latency.is_zero() {
        tokio::time::sleep(decision.latency).await;
    }
    let encode = |result: Result<Value, ApiError>| match result {
        Ok(value) => (
            200,
            Bytes::from(serde_json::to_vec(&value).unwrap_or_default()),
            true,
        ),
        Err(error) => (
            error.status,
            Bytes::from(serde_json::to_vec(&error.body(&meta.request_id)).unwrap_or_default()),
            error.saved,
        ),
    };
    let (status, body) = {
        let mut st = shared.lock();
        st.now = shared.clock.now();
        st.request = RequestInfo {
            id: meta.request_id.clone(),
            idempotency_key: key.clone(),
            base_url: base_url.to_string(),
        };
        let result = router::route(&mut st, &method, &path, &params);
        let scheduled = std::mem::take(&mut st.scheduled);
        if !scheduled.is_empty() {
            crate::delays::spawn(&shared, scheduled, &base_url);
        }
        match guard.key.take() {
            // The saved response must be stored before the lock is released.
            Some(key) => {
                let (status, body, saved) = encode(result);
                st.idempotency.finish(
                    &key,
                    saved.then(|| (status, body.clone(), meta.request_id.clone())),
                );
                (status, body)
            }
            // Serialize outside the lock: it is most of the work of a simple request.
            None => {
                drop(st);
                let (status, body, _) = encode(result);
                (status, body)
            }
        }
    };
    if decision.drop_after_commit {
        return Err(ConnectionDropped);
    }
    Ok(respond(status, body, &meta))
}
