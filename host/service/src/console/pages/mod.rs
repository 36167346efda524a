//! The console's pages, one module each: [`sign_in`], [`dashboard`], [`customers`] (with the
//! card form), [`transactions`], [`invoices`], [`disputes`], [`gateways`], [`billing_runs`].
//! Here: what every page shares (the [`Chrome`] around it, rendering, notices, errors).

pub mod billing_runs;
pub mod customers;
pub mod dashboard;
pub mod disputes;
pub mod gateways;
pub mod invoices;
pub mod sign_in;
pub mod transactions;

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::error::{Error, ErrorKind};

pub use super::error_page::error_page;
use super::guard::Signed;
use super::session::Notice;
use super::state::ConsoleState;

/// What surrounds every page: who is signed in, what they may do, the CSRF token of the
/// forms, the section of the menu, the notice left by the last form.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// The operator's name.
    pub operator: String,
    /// Whether write forms are shown.
    pub can_write: bool,
    /// Whether the form settling a flagged transaction by hand is shown.
    pub can_settle: bool,
    /// The session's CSRF token, in every form.
    pub csrf: String,
    /// The menu entry to highlight.
    pub section: &'static str,
    /// The notice left by the last form, if any.
    pub notice: Option<Notice>,
}

impl Chrome {
    /// The chrome of a page of `section` for the signed-in session (takes its notice).
    pub fn new(st: &ConsoleState, signed: &Signed, section: &'static str) -> Self {
        let session = &signed.0;
        let operator = session.operator.clone();
        Chrome {
            operator: operator
                .as_ref()
                .map(|o| o.name.clone())
                .unwrap_or_default(),
            can_write: operator.as_ref().is_some_and(|o| o.can_write()),
            can_settle: operator.as_ref().is_some_and(|o| o.can_settle()),
            csrf: session.csrf.clone(),
            section,
            notice: st.sessions.take_notice(&session.id),
        }
    }
}

/// A page as HTML (500 when its template fails).
pub fn render(page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a console page did not render");
            error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The page could not be drawn.",
            )
        }
    }
}

/// The HTTP status a domain error stands for on a page.
pub fn status_of(e: &Error) -> StatusCode {
    match e.kind {
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::InvalidInput => StatusCode::BAD_REQUEST,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        _ => StatusCode::BAD_GATEWAY,
    }
}

/// The error page of a domain error.
pub fn domain_error(e: &Error) -> Response {
    error_page(status_of(e), &e.message)
}

/// After a form: a notice for the next page, then a redirect (303) to `to`.
pub fn after_form(
    st: &ConsoleState,
    signed: &Signed,
    to: &str,
    result: Result<String, String>,
) -> Response {
    let notice = match result {
        Ok(text) => Notice { error: false, text },
        Err(text) => Notice { error: true, text },
    };
    st.sessions.set_notice(&signed.0.id, notice);
    Redirect::to(to).into_response()
}

/// A path segment with everything but unreserved characters percent-encoded (customer ids
/// come from the CRM and may hold anything).
pub fn segment(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
