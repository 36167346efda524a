//! The service's own routes: health, the OpenAPI document, the loaded gateways, and the answer
//! for unknown routes.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::Error;

use super::errors::ApiError;
use super::openapi;
use super::state::{ApiResult, AppState, ok};

/// `GET /health`.
pub async fn health(State(st): State<Arc<AppState>>) -> ApiResult {
    let db_ok = st
        .service
        .db
        .run(|l| l.customer_links("").map(|_| ()))
        .await
        .is_ok();
    let status = if db_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    ok(
        status,
        json!({
            "status": if db_ok { "ok" } else { "degraded" },
            "ledger": if db_ok { "ok" } else { "unavailable" },
            "gateways": st.service.gateways.names(),
        }),
    )
}

/// `GET /openapi.json`.
pub async fn openapi_doc() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        openapi::document().to_string(),
    )
        .into_response()
}

/// `GET /v1/gateways`.
pub async fn gateways(State(st): State<Arc<AppState>>) -> ApiResult {
    ok(
        StatusCode::OK,
        json!({
            "contract": format!("{}@{}", omnicrm_host::contract::CONTRACT_PACKAGE, omnicrm_host::contract::CONTRACT_VERSION),
            "default": st.service.gateways.default_name(),
            "gateways": st.service.gateways.statuses(),
        }),
    )
}

/// Any route that does not exist.
pub async fn not_found() -> ApiError {
    Error::not_found("path", "no such route; see /openapi.json").into()
}
