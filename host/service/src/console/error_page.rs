//! The console's bare error page (no menu: the request may not be signed in).

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorPage<'a> {
    status: u16,
    reason: &'a str,
    message: &'a str,
}

/// An error page with `status` and a message for people (escaped).
pub fn error_page(status: StatusCode, message: &str) -> Response {
    let page = ErrorPage {
        status: status.as_u16(),
        reason: status.canonical_reason().unwrap_or(""),
        message,
    };
    let html = page
        .render()
        .unwrap_or_else(|_| "<!doctype html><title>Error</title><p>Error</p>".to_string());
    (status, Html(html)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_is_escaped() {
        let html = ErrorPage {
            status: 403,
            reason: "Forbidden",
            message: "<script>alert(1)</script>",
        }
        .render()
        .unwrap();
        assert!(
            !html.contains("<script>") && html.contains("alert(1)"),
            "{html}"
        );
        let res = error_page(StatusCode::FORBIDDEN, "no");
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
    }
}
