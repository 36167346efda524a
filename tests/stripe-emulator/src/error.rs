//! Errors: [`EmulatorError`] for the library's own failures, [`ApiError`] for the Stripe error
//! bodies the emulator answers with.

use serde_json::{Map, Value, json};

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// A listening socket could not be bound.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The emulator's Tokio runtime could not be started.
    #[error("cannot start the emulator's runtime: {0}")]
    Runtime(std::io::Error),
    /// The TLS certificate or configuration could not be made.
    #[error("cannot set up TLS: {0}")]
    Tls(String),
}

/// A Stripe error response: status code plus the `{"error": {...}}` body. Boxed so that the
/// `Result`s carrying it stay small; its fields are reached through `Deref`.
#[derive(Debug, Clone)]
pub struct ApiError(Box<ApiErrorFields>);

impl std::ops::Deref for ApiError {
    type Target = ApiErrorFields;
    fn deref(&self) -> &ApiErrorFields {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut ApiErrorFields {
        &mut self.0
    }
}

/// The fields of an [`ApiError`].
#[derive(Debug, Clone)]
pub struct ApiErrorFields {
    /// HTTP status.
    pub status: u16,
    /// `api_error`, `card_error`, `idempotency_error` or `invalid_request_error`.
    pub kind: &'static str,
    /// Stripe's error code, if any.
    pub code: Option<String>,
    /// The issuer's reason for card errors.
    pub decline_code: Option<String>,
    /// Human-readable message.
    pub message: String,
    /// The parameter at fault.
    pub param: Option<String>,
    /// Extra fields (`payment_intent`, `setup_intent`, `charge`, `payment_method`).
    pub extra: Map<String, Value>,
    /// Whether the error happened while executing (saved for idempotent replay) or while validating
    /// parameters (not saved, so the same key may be retried with corrected parameters).
    pub saved: bool,
}

impl ApiError {
    /// A generic error with the given status and type.
    pub fn new(status: u16, kind: &'static str, message: impl Into<String>) -> Self {
        ApiError(Box::new(ApiErrorFields {
            status,
            kind,
            code: None,
            decline_code: None,
            message: message.into(),
            param: None,
            extra: Map::new(),
            saved: true,
        }))
    }

    /// 400 `invalid_request_error` raised by parameter validation (never saved for replay).
    pub fn invalid_param(param: &str, message: impl Into<String>) -> Self {
        let mut e = ApiError::new(400, "invalid_request_error", message);
        e.param = Some(param.to_string());
        e.saved = false;
        e
    }

    /// 400 `parameter_missing` (validation, never saved).
    pub fn missing_param(param: &str) -> Self {
        ApiError::invalid_param(param, format!("Missing required param: {param}."))
            .with_code("parameter_missing")
    }

    /// 400 `invalid_request_error` raised by the state of an object (saved for replay).
    pub fn invalid_state(code: &str, message: impl Into<String>) -> Self {
        ApiError::new(400, "invalid_request_error", message).with_code(code)
    }

    /// 404 `resource_missing`: "No such customer: 'cus_x'".
    pub fn missing(kind: &str, id: &str, param: &str) -> Self {
        let mut e = ApiError::new(
            404,
            "invalid_request_error",
            format!("No such {kind}: '{id}'"),
        )
        .with_code("resource_missing");
        e.param = Some(param.to_string());
        e
    }

    /// Sets the error code.
    pub fn with_code(mut self, code: &str) -> Self {
        self.code = Some(code.to_string());
        self
    }

    /// Sets the parameter at fault.
    pub fn with_param(mut self, param: &str) -> Self {
        self.param = Some(param.to_string());
        self
    }

    /// Adds an extra field to the error body.
    pub fn with_extra(mut self, key: &str, value: Value) -> Self {
        self.extra.insert(key.to_string(), value);
        self
    }

    /// The JSON body, with `request_log_url` pointing at the given request.
    pub fn body(&self, request_id: &str) -> Value {
        let mut error = Map::new();
        if let Some(code) = &self.code {
            error.insert("code".into(), json!(code));
            error.insert(
                "doc_url".into(),
                json!(format!(
                    "https://stripe.com/docs/error-codes/{}",
                    code.replace('_', "-")
                )),
            );
        }
        if let Some(decline_code) = &self.decline_code {
            error.insert("decline_code".into(), json!(decline_code));
        }
        error.insert("message".into(), json!(self.message));
        if let Some(param) = &self.param {
            error.insert("param".into(), json!(param));
        }
        error.insert(
            "request_log_url".into(),
            json!(format!(
                "https://dashboard.stripe.com/test/logs/{request_id}?t=0"
            )),
        );
        error.insert("type".into(), json!(self.kind));
        for (k, v) in &self.extra {
            error.insert(k.clone(), v.clone());
        }
        json!({ "error": error })
    }
}
