//! API keys (`Authorization: Bearer <key>`, configured as SHA-256 hashes with scopes) and
//! `Idempotency-Key` replay for POST requests.

use std::sync::Arc;

use axum::body::Body as AxumBody;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use sha2::Digest;

use crate::config::{ApiKeyConfig, Scope};
use crate::error::ServiceError;
use crate::ledger::IdemBegin;
use crate::payments::digest;

use super::AppState;

/// The configured keys: the SHA-256 of each (never the key itself), its name and scopes.
#[derive(Clone, Default)]
pub struct ApiKeys {
    keys: Vec<([u8; 32], String, Vec<Scope>)>,
}

impl ApiKeys {
    /// From the configuration (the configuration checks that each `sha256` is 64 hex digits;
    /// one that is not matches no key).
    pub fn new(keys: &[ApiKeyConfig]) -> Self {
        ApiKeys {
            keys: keys
                .iter()
                .filter_map(|k| {
                    let digest = hex::decode(k.sha256.trim()).ok()?.try_into().ok()?;
                    Some((digest, k.name.clone(), k.scopes.clone()))
                })
                .collect(),
        }
    }

    /// The name and scopes of a presented key. The presented key's SHA-256 is compared with
    /// every configured one in constant time, so the answer's timing tells nothing about how
    /// close a guess came.
    pub fn lookup(&self, presented: &str) -> Option<(String, Vec<Scope>)> {
        let presented: [u8; 32] = sha2::Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for (digest, name, scopes) in &self.keys {
            let diff = digest
                .iter()
                .zip(presented.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b));
            if std::hint::black_box(diff) == 0 {
                found = Some((name.clone(), scopes.clone()));
            }
        }
        found
    }
}

/// Who is calling: the key's name.
#[derive(Clone, Debug)]
pub struct Caller(pub String);

/// A key derived from the client's `Idempotency-Key` and its API key name, for the gateway keys
/// of the objects the request creates.
#[derive(Clone, Debug)]
pub struct ClientKey(pub String);

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
        return ServiceError::unauthorized("missing API key: send `Authorization: Bearer <key>`")
            .into_response();
    };
    let Some((name, scopes)) = state.keys.lookup(&presented) else {
        return ServiceError::unauthorized("the API key is not valid").into_response();
    };
    let needs = if matches!(*req.method(), Method::GET | Method::HEAD) {
        Scope::Read
    } else {
        Scope::Write
    };
    let allowed =
        scopes.contains(&needs) || (needs == Scope::Read && scopes.contains(&Scope::Write));
    if !allowed {
        return ServiceError::forbidden(format!(
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
            return ServiceError::invalid(
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            )
            .into_response();
        }
    };
    // Read the body to fingerprint the request.
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return ServiceError::invalid("body", "the body is too large or unreadable")
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
        Err(e) => return ServiceError::from(e).into_response(),
        Ok(IdemBegin::Mismatch) => {
            return ServiceError::new_status(
                422,
                "idempotency_key_reused",
                "Idempotency-Key",
                "this key was used with a different request",
            )
            .into_response();
        }
        Ok(IdemBegin::InProgress) => {
            return ServiceError::conflict(
                "Idempotency-Key",
                "a request with this key is still running",
            )
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::hash_api_key;

    #[test]
    fn keys_are_matched_by_their_hash_only() {
        let config = |name: &str, sha256: String, scopes: Vec<Scope>| ApiKeyConfig {
            name: name.into(),
            sha256,
            scopes,
        };
        let keys = ApiKeys::new(&[
            config("crm", hash_api_key("secret-1"), vec![Scope::Write]),
            config(
                "reports",
                hash_api_key("secret-2").to_ascii_uppercase(),
                vec![Scope::Read],
            ),
            config("broken", "not hex".into(), vec![Scope::Write]),
        ]);
        assert_eq!(
            keys.lookup("secret-1"),
            Some(("crm".to_string(), vec![Scope::Write]))
        );
        assert_eq!(
            keys.lookup("secret-2"),
            Some(("reports".to_string(), vec![Scope::Read]))
        );
        assert_eq!(keys.lookup("secret-3"), None);
        assert_eq!(keys.lookup(""), None);
        // The configured hash is not a key.
        assert_eq!(keys.lookup(&hash_api_key("secret-1")), None);
        assert_eq!(keys.lookup("not hex"), None);
    }
}
