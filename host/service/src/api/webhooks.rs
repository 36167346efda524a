//! `POST /webhooks/{gateway}`: the raw headers and body go to [`crate::events`] untouched; the
//! answer acknowledges the event (a duplicate too, so the gateway stops delivering it).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::json;

use crate::events::{self, Handled};

use super::state::{ApiResult, AppState, ok};

/// `POST /webhooks/{gateway}`.
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
        json!({
            "received": true,
            "event": event.id,
            "type": event.gateway_type,
            "duplicate": handled == Handled::Duplicate,
            "action": handled.action(),
        }),
    )
}

/// Lower-cased header names and raw values, as `verify-event` wants them.
pub fn raw_headers(headers: &HeaderMap) -> Vec<(String, Vec<u8>)> {
    headers
        .iter()
        .map(|(k, v)| (k.as_str().to_ascii_lowercase(), v.as_bytes().to_vec()))
        .collect()
}
