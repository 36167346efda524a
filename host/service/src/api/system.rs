//! The service's own routes: health, the OpenAPI document, the loaded gateways, and the answer
//! for unknown routes.

use std::sync::Arc;

use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::error::Error;

use super::errors::{ApiError, ErrorResponse};
use super::openapi::DocumentJson;
use super::state::{ApiResult, AppState, ok};
use super::views::{GatewayView, Gateways, Health};

/// `GET /health`.
#[utoipa::path(
    get,
    path = "/health",
    tag = "system",
    summary = "Liveness: the ledger answers; the gateways configured",
    responses(
        (status = 200, description = "Up", body = Health),
        (status = 503, description = "The ledger does not answer", body = Health),
    )
)]
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
        Health {
            status: if db_ok { "ok" } else { "degraded" },
            ledger: if db_ok { "ok" } else { "unavailable" },
            gateways: st.service.gateways.names(),
        },
    )
}

/// `GET /openapi.json`.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "system",
    summary = "This document (OpenAPI 3.1)",
    responses((status = 200, description = "The document", content_type = "application/json", body = Object))
)]
pub async fn openapi_doc(Extension(DocumentJson(doc)): Extension<DocumentJson>) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        doc.as_str().to_string(),
    )
        .into_response()
}

/// `GET /v1/gateways`.
#[utoipa::path(
    get,
    path = "/gateways",
    tag = "system",
    summary = "The loaded gateways, their plugin and contract versions",
    responses(
        (status = 200, description = "The gateways", body = Gateways),
        (status = 401, description = "No valid API key", body = ErrorResponse),
    ),
    security(("api_key" = ["read"]))
)]
pub async fn gateways(State(st): State<Arc<AppState>>) -> ApiResult {
    ok(
        StatusCode::OK,
        Gateways {
            contract: format!(
                "{}@{}",
                omnicrm_host::contract::CONTRACT_PACKAGE,
                omnicrm_host::contract::CONTRACT_VERSION
            ),
            default: st.service.gateways.default_name().map(str::to_string),
            gateways: st
                .service
                .gateways
                .statuses()
                .into_iter()
                .map(GatewayView::from)
                .collect(),
        },
    )
}

/// Any route that does not exist.
pub async fn not_found() -> ApiError {
    Error::not_found("path", "no such route; see /openapi.json").into()
}
