//! `POST /webhooks/{gateway}`: the raw headers and body (within the API's body limit) go to
//! [`crate::events`] untouched (the gateway's plugin verifies them, whatever their content
//! type); the answer acknowledges the
//! event (a duplicate too, so the gateway stops delivering it).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};

use crate::events::{self, Handled};

use super::errors::ErrorResponse;
use super::state::{ApiResult, AppState, ok};
use super::views::WebhookAck;

/// `POST /webhooks/{gateway}`.
#[utoipa::path(
    post,
    path = "/webhooks/{gateway}",
    tag = "system",
    summary = "Gateway events, verified by the gateway's plugin; duplicates are acknowledged and ignored",
    params(("gateway" = String, Path, description = "The configured gateway's name")),
    request_body(content = Object, description = "The gateway's event, as it sends it"),
    responses(
        (status = 200, description = "Acknowledged", body = WebhookAck),
        (status = 400, description = "Not verified (missing or bad signature, outside the tolerance, malformed)", body = ErrorResponse),
        (status = 404, description = "No such gateway", body = ErrorResponse),
        (status = 503, description = "The plugin cannot verify events now: deliver again", body = ErrorResponse),
    )
)]
pub async fn receive(
    State(st): State<Arc<AppState>>,
    Path(gateway): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let (event, handled) =
        events::receive(&st.service, &gateway, raw_headers(&headers), body.to_vec()).await?;
    ok(
        StatusCode::OK,
        WebhookAck {
            received: true,
            event: event.id,
            event_type: event.gateway_type,
            duplicate: handled == Handled::Duplicate,
            action: handled.action(),
        },
    )
}

/// Lower-cased header names and raw values, as `verify-event` wants them.
pub fn raw_headers(headers: &HeaderMap) -> Vec<(String, Vec<u8>)> {
    headers
        .iter()
        .map(|(k, v)| (k.as_str().to_ascii_lowercase(), v.as_bytes().to_vec()))
        .collect()
}
