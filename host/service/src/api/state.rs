//! The state the handlers share, and the shape of their answers.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::service::Service;

use super::api_keys::ApiKeys;
use super::errors::ApiError;

/// State shared by the handlers.
pub struct AppState {
    /// The service.
    pub service: Arc<Service>,
    /// The API keys.
    pub keys: ApiKeys,
}

/// What a handler answers.
pub type ApiResult = Result<Response, ApiError>;

/// A JSON answer.
pub fn ok<T: Serialize>(status: StatusCode, v: T) -> ApiResult {
    Ok((status, axum::Json(v)).into_response())
}
