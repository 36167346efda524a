//! Errors: [`EmulatorError`] for the library's own failures, [`ApiError`] for the error bodies the
//! emulator answers with.
//!
//! Adyen's Checkout API answers errors with a `ServiceError` body: `status`, `errorCode`,
//! `message`, `errorType` (`validation`, `security`, `configuration`, `internal`) and, once the
//! request reached payment processing, a `pspReference` (Checkout API v71 OpenAPI spec, examples
//! `generic-400` ... `generic-500`, Adyen/adyen-openapi `json/CheckoutService-v71.json`).

use serde_json::{Value, json};

/// Why the emulator could not start, or a library call was refused.
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
    /// A webhook endpoint's URL or HMAC key is not usable.
    #[error("invalid webhook endpoint: {0}")]
    Webhook(String),
}

/// The category of an Adyen error (`errorType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    /// The request is malformed or its values are not acceptable.
    Validation,
    /// Authentication or permission.
    Security,
    /// The account is not set up for the request.
    Configuration,
    /// Adyen's own failure.
    Internal,
}

impl ErrorType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::Validation => "validation",
            ErrorType::Security => "security",
            ErrorType::Configuration => "configuration",
            ErrorType::Internal => "internal",
        }
    }
}

/// An error response: HTTP status plus Adyen's `ServiceError` body. Boxed so the `Result`s
/// carrying it stay small.
#[derive(Debug, Clone)]
pub struct ApiError(Box<ApiErrorFields>);

/// The fields of an [`ApiError`].
#[derive(Debug, Clone)]
pub struct ApiErrorFields {
    /// HTTP status.
    pub status: u16,
    /// Adyen's error code (`"702"`, `"14_030"`, ...).
    pub error_code: String,
    /// Human-readable message.
    pub message: String,
    /// The category.
    pub error_type: ErrorType,
    /// Whether the body names a `pspReference` (errors raised once processing began).
    pub with_psp_reference: bool,
    /// `Transient-Error` header: `Some(true)` when the same request may be retried later with the
    /// same idempotency key.
    pub transient: Option<bool>,
}

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

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.error_code, self.message)
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    /// An error with the given status, code, type and message.
    pub fn new(status: u16, code: &str, error_type: ErrorType, message: impl Into<String>) -> Self {
        ApiError(Box::new(ApiErrorFields {
            status,
            error_code: code.to_string(),
            message: message.into(),
            error_type,
            with_psp_reference: false,
            transient: None,
        }))
    }

    /// 400 `702`: a body that is not the JSON structure expected.
    pub fn unexpected_input(message: impl Into<String>) -> Self {
        ApiError::new(400, "702", ErrorType::Validation, message)
    }

    /// 400 `702` for unknown fields, worded as Adyen words it ("Structure of PaymentRequest
    /// contains the following unknown fields: [x]", quoted by client libraries' tests, e.g.
    /// adyen-ruby-api-library and commercetools-adyen-integration).
    pub fn unknown_fields(structure: &str, fields: &[String]) -> Self {
        ApiError::unexpected_input(format!(
            "Structure of {structure} contains the following unknown fields: [{}]",
            fields.join(", ")
        ))
    }

    /// 422 validation error, raised once the request is being processed (names a pspReference).
    pub fn unprocessable(code: &str, message: impl Into<String>) -> Self {
        let mut e = ApiError::new(422, code, ErrorType::Validation, message);
        e.with_psp_reference = true;
        e
    }

    /// 401 `000`, Adyen's answer to a missing or unknown API key.
    pub fn unauthorized() -> Self {
        ApiError::new(
            401,
            "000",
            ErrorType::Security,
            "HTTP Status Response - Unauthorized",
        )
    }

    /// 403 `901` "Invalid Merchant Account".
    pub fn invalid_merchant_account() -> Self {
        let mut e = ApiError::new(403, "901", ErrorType::Security, "Invalid Merchant Account");
        e.with_psp_reference = true;
        e
    }

    /// 404 for a path the API doesn't have.
    pub fn not_found(method: &http::Method, path: &str) -> Self {
        ApiError::new(
            404,
            "000",
            ErrorType::Validation,
            format!("Not Found ({method} {path})"),
        )
    }

    /// The JSON body; `psp_reference` is used when the error names one.
    pub fn body(&self, psp_reference: &str) -> Value {
        let mut body = json!({
            "status": self.status,
            "errorCode": self.error_code,
            "message": self.message,
            "errorType": self.error_type.as_str(),
        });
        if self.with_psp_reference {
            body["pspReference"] = json!(psp_reference);
        }
        body
    }
}
