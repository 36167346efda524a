//! Authentication (`Authorization: Bearer <key>`, checked against [`super::api_keys`]) and
//! `Idempotency-Key` replay for POST requests.

use std::sync::Arc;

use axum::body::Body as AxumBody;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use axum::extract::Extension;

use crate::config::Scope;
use crate::error::Error;
use crate::keys::digest;
use crate::ledger::IdemBegin;

use super::errors::ApiError;
use super::state::AppState;

/// Who is calling: the key's name.
#[derive(Clone, Debug)]
pub struct Caller(pub String);

/// A key derived from the client's `Idempotency-Key` and its API key name, for the gateway keys
/// of the objects the request creates.
#[derive(Clone, Debug)]
pub struct ClientKey(pub String);

/// The key derived from the client's `Idempotency-Key`, when it sent one.
pub fn client_key(k: Option<Extension<ClientKey>>) -> Option<String> {
    k.map(|Extension(ClientKey(k))| k)
}

const MAX_BODY: usize = 1 << 20;

/// Checks the API key and its scope, then handles `Idempotency-Key` on POST.
pub async fn authenticate(
    State(state): State<Arc<AppState>>,
    mut req: Request,
    next: Next,
) -> Response {
    let presented = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .map(str::to_string);
    let Some(presented) = presented else {
        return ApiError::unauthorized("missing API key: send `Authorization: Bearer <key>`")
            .into_response();
    };
    let Some((name, scopes)) = state.keys.lookup(&presented) else {
        return ApiError::unauthorized("the API key is not valid").into_response();
    };
    let needs = if matches!(*req.method(), Method::GET | Method::HEAD) {
        Scope::Read
    } else {
        Scope::Write
    };
    let allowed =
        scopes.contains(&needs) || (needs == Scope::Read && scopes.contains(&Scope::Write));
    if !allowed {
        return ApiError::forbidden(format!(
            "the API key {name:?} lacks the `{}` scope",
            if needs == Scope::Read {
                "read"
            } else {
                "write"
            }
        ))
        .into_response();
    }
    req.extensions_mut().insert(Caller(name.clone()));
    let idem = req
        .headers()
        .get("idempotency-key")
        .map(|v| v.to_str().map(str::to_string));
    let idem = match idem {
        None => return next.run(req).await,
        Some(Ok(k)) if !k.is_empty() && k.len() <= 255 && *req.method() == Method::POST => k,
        Some(Ok(_)) if *req.method() != Method::POST => return next.run(req).await,
        Some(_) => {
            return ApiError::from(Error::invalid(
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            ))
            .into_response();
        }
    };
    // Read the body to fingerprint the request.
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::from(Error::invalid(
                "body",
                "the body is too large or unreadable",
            ))
            .into_response();
        }
    };
    let hash = digest(&[
        parts.method.as_str(),
        parts.uri.path(),
        &String::from_utf8_lossy(&bytes),
    ]);
    let (scope, key, owner) = (name.clone(), idem.clone(), state.service.boot_id.clone());
    let begin = state
        .service
        .db
        .run(move |l| l.idem_begin(&scope, &key, &hash, &owner))
        .await;
    match begin {
        Err(e) => return ApiError::from(e).into_response(),
        Ok(IdemBegin::Mismatch) => {
            return ApiError::idempotency_key_reused().into_response();
        }
        Ok(IdemBegin::InProgress) => {
            return ApiError::from(Error::conflict(
                "Idempotency-Key",
                "a request with this key is still running",
            ))
            .into_response();
        }
        Ok(IdemBegin::Replay { status, body }) => {
            let mut resp = (
                StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response();
            resp.headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            return resp;
        }
        Ok(IdemBegin::Run) => {}
    }
    let mut req = Request::from_parts(parts, AxumBody::from(bytes));
    req.extensions_mut()
        .insert(ClientKey(digest(&[&name, &idem])));
    let resp = next.run(req).await;
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let status = parts.status.as_u16();
    let (scope, key, saved) = (name, idem, bytes.to_vec());
    // A request that is not saved may be retried with the same key: the objects it wrote carry
    // gateway keys derived from this one, so nothing is done twice.
    let _ = state
        .service
        .db
        .run(move |l| {
            // Saved: successes and declines (outcomes). Not saved, like Stripe: refused input
            // (nothing was done; a corrected request may reuse the key) and server-side failures.
            if status < 300 || status == 402 {
                l.idem_finish(&scope, &key, status, &saved)
            } else {
                l.idem_abort(&scope, &key)
            }
        })
        .await;
    Response::from_parts(parts, AxumBody::from(bytes))
}
