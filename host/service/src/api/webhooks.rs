//! `POST /webhooks/{gateway}`: the request (method, path, query, raw headers and body) goes to
//! [`crate::events`] untouched; the answer is the one the gateway's plugin chose (status,
//! content type and body: Stripe's acknowledgement, Adyen's `[accepted]`), duplicates included,
//! so the gateway stops delivering them.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::Response;
use omnicrm_host::contract::{WebhookRequest, WebhookResponse};

use crate::events;

use super::errors::ErrorResponse;
use super::state::{ApiResult, AppState};

/// `POST /webhooks/{gateway}`.
#[utoipa::path(
    post,
    path = "/webhooks/{gateway}",
    tag = "system",
    summary = "Gateway events, verified by the gateway's plugin; duplicates are acknowledged and ignored",
    params(("gateway" = String, Path, description = "The configured gateway's name")),
    request_body(content = Object, description = "The gateway's event, as it sends it"),
    responses(
        (status = 200, description = "The answer the gateway's plugin chose (status, content type and body: Stripe's `{\"received\": true}`, Adyen's `[accepted]`)"),
        (status = 400, description = "Not verified (missing or bad signature, outside the tolerance, malformed)", body = ErrorResponse),
        (status = 404, description = "No such gateway", body = ErrorResponse),
        (status = 503, description = "The plugin cannot verify events now: deliver again", body = ErrorResponse),
    )
)]
pub async fn receive(
    State(st): State<Arc<AppState>>,
    Path(gateway): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let request = WebhookRequest {
        method: method.as_str().to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or_default().to_string(),
        headers: raw_headers(&headers),
        body: body.to_vec(),
    };
    let received = events::receive(&st.service, &gateway, request).await?;
    Ok(answer(received.response))
}

/// The plugin's answer as an HTTP response. A status that is not one (outside 100..=999) is
/// answered 200: the events were recorded, and the gateway must not deliver them again.
fn answer(response: WebhookResponse) -> Response {
    let status = StatusCode::from_u16(response.status).unwrap_or(StatusCode::OK);
    let mut builder = Response::builder().status(status);
    if let Some(content_type) = response
        .content_type
        .as_deref()
        .and_then(|c| header::HeaderValue::from_str(c).ok())
    {
        builder = builder.header(header::CONTENT_TYPE, content_type);
    }
    builder
        .body(Body::from(response.body))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

/// Lower-cased header names and raw values, as `handle-webhook` wants them.
pub fn raw_headers(headers: &HeaderMap) -> Vec<(String, Vec<u8>)> {
    headers
        .iter()
        .map(|(k, v)| (k.as_str().to_ascii_lowercase(), v.as_bytes().to_vec()))
        .collect()
}
