//! Signing in (a console user's password, or an API key of the `read` or `write` scope) and
//! out. The sign-in form's CSRF token belongs to a session made for it; signing in replaces
//! that session with a new one (a new id), so an id planted before sign-in is worthless.
//! Failed sign-ins are counted per name and per client address ([`super::super::throttle`]);
//! past the limits, sign-ins are refused with 429 and `Retry-After` before any password is
//! checked, with the same answer whether the name exists or not.

use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use askama::Template;
use axum::Extension;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::config::Scope;

use super::super::guard::{MAX_FORM, Signed};
use super::super::session::{Operator, clear_cookie, same_token, session_id, set_cookie};
use super::super::state::ConsoleState;
use super::{error_page, render};
use crate::config::console::{Role, hash_password, verify_password};

/// A hash checked when the name is unknown, so that the answer takes as long as for a known
/// name (the password it hashes is random and forgotten).
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_password(&super::super::session::random_token()).unwrap_or_default());

#[derive(Template)]
#[template(path = "console/sign_in.html")]
struct SignInPage {
    csrf: String,
    error: Option<String>,
}

fn page(
    st: &ConsoleState,
    headers: &HeaderMap,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    // The session of the form: the one the browser has, else a new anonymous one.
    let existing = session_id(headers).and_then(|id| st.sessions.get(&id));
    let (session, fresh) = match existing {
        Some(s) => (s, false),
        None => (st.sessions.create(None), true),
    };
    let mut res = render(&SignInPage {
        csrf: session.csrf.clone(),
        error,
    });
    *res.status_mut() = status;
    if fresh && let Ok(v) = set_cookie(&session.id, st.secure_cookies).parse() {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

/// `GET /console/sign-in`.
pub async fn show(State(st): State<Arc<ConsoleState>>, headers: HeaderMap) -> Response {
    page(&st, &headers, None, StatusCode::OK)
}

/// The sign-in form.
#[derive(Deserialize)]
pub struct SignInForm {
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    api_key: String,
}

/// The sign-in page refusing a locked name or address: 429, `Retry-After`, the wait in words.
fn locked_page(st: &ConsoleState, headers: &HeaderMap, retry_after: Duration) -> Response {
    let seconds = (retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0)).max(1);
    let wait = match seconds.div_ceil(60) {
        1 => "a minute".to_string(),
        minutes => format!("{minutes} minutes"),
    };
    let mut res = page(
        st,
        headers,
        Some(format!(
            "Too many failed sign-ins: wait about {wait}, then try again."
        )),
        StatusCode::TOO_MANY_REQUESTS,
    );
    res.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
    res
}

/// `POST /console/sign-in`; `peer` is the client's address, which failures are counted by.
pub async fn submit(
    State(st): State<Arc<ConsoleState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if body.len() > MAX_FORM {
        return error_page(StatusCode::PAYLOAD_TOO_LARGE, "The form is too large.");
    }
    let Ok(form) = serde_urlencoded::from_bytes::<SignInForm>(&body) else {
        return page(
            &st,
            &headers,
            Some("The form was incomplete.".into()),
            StatusCode::BAD_REQUEST,
        );
    };
    let Some(session) = session_id(&headers).and_then(|id| st.sessions.get(&id)) else {
        return page(
            &st,
            &headers,
            Some("Your sign-in page was too old: please sign in again.".into()),
            StatusCode::FORBIDDEN,
        );
    };
    if !same_token(&form.csrf, &session.csrf) {
        return error_page(
            StatusCode::FORBIDDEN,
            "The form's security token is missing or stale: reload the page and try again.",
        );
    }
    let with_key = !form.api_key.is_empty();
    let counted_name = (!with_key).then_some(form.name.as_str());
    let attempt = match st.sign_in_throttle.begin(counted_name, peer.ip()) {
        Ok(attempt) => attempt,
        Err(locked) => {
            tracing::debug!(address = %peer.ip(), "a console sign-in was refused: locked");
            return locked_page(&st, &headers, locked.retry_after);
        }
    };
    let operator = if with_key {
        key_operator(&st, &form.api_key)
    } else {
        password_operator(&st, &form.name, form.password).await
    };
    let Some(operator) = operator else {
        st.sign_in_throttle.failed(attempt);
        tracing::info!("a console sign-in was refused");
        return page(
            &st,
            &headers,
            Some("The name and password, or the API key, are not valid.".into()),
            StatusCode::UNAUTHORIZED,
        );
    };
    st.sign_in_throttle.succeeded(attempt);
    tracing::info!(operator = %operator.name, "signed in to the console");
    st.sessions.remove(&session.id);
    let signed = st.sessions.create(Some(operator));
    let mut res = Redirect::to("/console").into_response();
    if let Ok(v) = set_cookie(&signed.id, st.secure_cookies).parse() {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

/// The operator of an API key: its widest scope is the role.
fn key_operator(st: &ConsoleState, key: &str) -> Option<Operator> {
    let (name, scopes) = st.keys.lookup(key.trim())?;
    let role = if scopes.contains(&Scope::Admin) {
        Role::Admin
    } else if scopes.contains(&Scope::Write) {
        Role::Write
    } else if scopes.contains(&Scope::Read) {
        Role::Read
    } else {
        return None;
    };
    Some(Operator {
        name: format!("key:{name}"),
        role,
    })
}

/// The operator of a console user's name and password (argon2 on the blocking pool).
async fn password_operator(st: &ConsoleState, name: &str, password: String) -> Option<Operator> {
    let user = st.users.iter().find(|u| u.name == name).cloned();
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| DUMMY_HASH.clone());
    let matches = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .unwrap_or(false);
    let user = user.filter(|_| matches)?;
    Some(Operator {
        name: user.name,
        role: user.role,
    })
}

/// `POST /console/sign-out`.
pub async fn sign_out(
    State(st): State<Arc<ConsoleState>>,
    Extension(signed): Extension<Signed>,
) -> Response {
    st.sessions.remove(&signed.0.id);
    let mut res = Redirect::to("/console/sign-in").into_response();
    if let Ok(v) = clear_cookie(st.secure_cookies).parse() {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}
