//! What stands in front of every console page: the security headers (a Content-Security-Policy
//! that allows nothing but the console's own assets), the session check, the role check of
//! every write and the CSRF check of every form.

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use super::error_page::error_page;
use super::session::{SessionView, same_token, session_id};
use super::state::ConsoleState;

/// The largest form the console accepts.
pub const MAX_FORM: usize = 64 * 1024;

/// The Content-Security-Policy of every console answer: scripts, styles, images, forms and
/// connections from the console's own origin only; no inline script or style, no framing, no
/// plugins. A page that loads a gateway's card SDK adds that origin itself.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// Adds the security headers to every answer (a page's own CSP is kept).
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

/// The signed-in operator's session, for the pages.
#[derive(Clone, Debug)]
pub struct Signed(pub SessionView);

/// Lets a request through only with a signed-in session: pages without one redirect to the
/// sign-in page, forms are refused. A POST must carry the session's CSRF token (`csrf`) and,
/// except signing out, come from an operator with the `write` role; else 403.
pub async fn require_operator(
    State(st): State<Arc<ConsoleState>>,
    req: Request,
    next: Next,
) -> Response {
    let session = session_id(req.headers()).and_then(|id| st.sessions.get(&id));
    let reading = matches!(*req.method(), Method::GET | Method::HEAD);
    let Some(session) = session.filter(|s| s.operator.is_some()) else {
        return if reading {
            Redirect::to("/console/sign-in").into_response()
        } else {
            error_page(
                StatusCode::FORBIDDEN,
                "You are not signed in (or your session ended).",
            )
        };
    };
    let mut req = req;
    if !reading {
        let signing_out = req.uri().path().ends_with("/sign-out");
        let may_write = session.operator.as_ref().is_some_and(|o| o.can_write());
        if !may_write && !signing_out {
            return error_page(
                StatusCode::FORBIDDEN,
                "Your sign-in is read-only: it cannot change anything.",
            );
        }
        let (parts, body) = req.into_parts();
        let Ok(bytes) = to_bytes(body, MAX_FORM).await else {
            return error_page(StatusCode::PAYLOAD_TOO_LARGE, "The form is too large.");
        };
        if !form_token_matches(&bytes, &session.csrf) {
            return error_page(
                StatusCode::FORBIDDEN,
                "The form's security token is missing or stale: reload the page and try again.",
            );
        }
        req = Request::from_parts(parts, Body::from(bytes));
    }
    req.extensions_mut().insert(Signed(session));
    next.run(req).await
}

/// Whether a URL-encoded form carries `csrf` equal to the session's token.
pub fn form_token_matches(form: &[u8], token: &str) -> bool {
    form_urlencoded::parse(form)
        .find(|(k, _)| k == "csrf")
        .is_some_and(|(_, v)| same_token(&v, token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_needs_the_sessions_token() {
        assert!(form_token_matches(b"amount=1&csrf=abc", "abc"));
        assert!(!form_token_matches(b"amount=1&csrf=abd", "abc"));
        assert!(!form_token_matches(b"amount=1", "abc"));
        assert!(!form_token_matches(b"csrf=", "abc"));
    }
}
