//! Authentication: `Authorization: Bearer <key>`, checked against [`super::api_keys`], and the
//! key's scope (`read` for GET, `write` for the rest; `admin` includes both, and the operators'
//! routes check it themselves through [`Caller::is_admin`]).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::config::Scope;

use super::errors::ApiError;
use super::state::AppState;

/// Who is calling: the key's name.
#[derive(Clone, Debug)]
pub struct Caller(pub String);

/// The scopes of the caller's key.
#[derive(Clone, Debug)]
pub struct CallerScopes(pub Vec<Scope>);

impl CallerScopes {
    /// Whether the key may make operators' requests.
    pub fn is_admin(&self) -> bool {
        self.0.contains(&Scope::Admin)
    }
}

/// Checks the API key and its scope; the request then carries its [`Caller`].
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
    let allowed = scopes.contains(&needs)
        || scopes.contains(&Scope::Admin)
        || (needs == Scope::Read && scopes.contains(&Scope::Write));
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
    req.extensions_mut().insert(CallerScopes(scopes.to_vec()));
    req.extensions_mut().insert(Caller(name));
    next.run(req).await
}
