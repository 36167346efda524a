//! The console's stylesheet and scripts, compiled into the binary: nothing is loaded from
//! elsewhere.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The stylesheet.
const CSS: &[u8] = include_bytes!("../../assets/console/console.css");
/// The console's script (progress polling).
const JS: &[u8] = include_bytes!("../../assets/console/console.js");
/// The script of the Stripe Elements card page.
const STRIPE_ELEMENTS_JS: &[u8] = include_bytes!("../../assets/console/stripe-elements.js");

/// `GET /console/assets/{name}`.
pub async fn asset(Path(name): Path<String>) -> Response {
    let (body, kind) = match name.as_str() {
        "console.css" => (CSS, "text/css; charset=utf-8"),
        "console.js" => (JS, "text/javascript; charset=utf-8"),
        "stripe-elements.js" => (STRIPE_ELEMENTS_JS, "text/javascript; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    res
}
