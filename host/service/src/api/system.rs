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
use super::views::{FailedGateway, GatewayView, Gateways, Health};
use crate::live_gateways::SlotState;

/// `GET /health`.
#[utoipa::path(
    get,
    path = "/health",
    tag = "system",
    summary = "Liveness: the ledger answers; the gateways configured, loading or failed",
    description = "Answers as soon as the service listens, while gateways still load their components: `status` is `starting` while some gateway loads, `degraded` when one failed to load (with the reason in `failed`) or the ledger does not answer, else `ok`. Only a ledger that does not answer makes it 503.",
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
    let statuses = st.service.gateways.statuses();
    let loading: Vec<String> = statuses
        .iter()
        .filter(|g| g.state == SlotState::Loading)
        .map(|g| g.name.clone())
        .collect();
    let failed: Vec<FailedGateway> = statuses
        .iter()
        .filter(|g| g.state == SlotState::Failed)
        .map(|g| FailedGateway {
            name: g.name.clone(),
            error: g.error.clone().unwrap_or_default(),
        })
        .collect();
    let overall = if !db_ok || !failed.is_empty() {
        "degraded"
    } else if !loading.is_empty() {
        "starting"
    } else {
        "ok"
    };
    ok(
        status,
        Health {
            status: overall,
            ledger: if db_ok { "ok" } else { "unavailable" },
            gateways: st.service.gateways.names(),
            loading,
            failed,
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
    summary = "The configured gateways: loading, ready or failed (with the reason), their plugin and contract versions",
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
