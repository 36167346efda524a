//! Fault injection on the API (`/v71/...`; never the admin routes): failing the next requests,
//! added latency, and "commit then drop" (see `emulator_support::Faults`).

use crate::error::{ApiError, ErrorType};

/// Which requests to fail, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailSpec {
    /// How many of the next matching requests fail.
    pub count: u32,
    /// The status to answer with: 500, 503 or 429 (any 4xx/5xx is accepted).
    pub status: u16,
    /// Only requests whose path starts with this (e.g. `/v71/payments`); `None` = any API path.
    pub path_prefix: Option<String>,
    /// Adds `Transient-Error: true|false` when set (Adyen's hint that the same request may be
    /// retried later with the same idempotency key).
    pub transient_error: Option<bool>,
}

impl Default for FailSpec {
    fn default() -> Self {
        FailSpec {
            count: 1,
            status: 500,
            path_prefix: None,
            transient_error: None,
        }
    }
}

impl emulator_support::FailRule for FailSpec {
    fn remaining(&self) -> u32 {
        self.count
    }
    fn set_remaining(&mut self, remaining: u32) {
        self.count = remaining;
    }
    fn path_prefix(&self) -> Option<&str> {
        self.path_prefix.as_deref()
    }
}

/// A handle on the emulator's fault injection (cheap to clone).
pub type Faults = emulator_support::Faults<FailSpec>;

/// The answer to a failed request. The bodies are the emulator's: Adyen documents
/// `ServiceError` bodies for 500 (`errorType: internal`), and answers an unavailable idempotency
/// store with 503 / `703`.
pub fn answer(spec: &FailSpec) -> ApiError {
    let mut error = match spec.status {
        429 => ApiError::new(
            429,
            "000",
            ErrorType::Validation,
            "Too many requests. Retry later.",
        ),
        503 => ApiError::new(503, "000", ErrorType::Internal, "Service Unavailable"),
        status => ApiError::new(
            status,
            "000",
            ErrorType::Internal,
            "An unknown error occurred (injected fault)",
        ),
    };
    error.transient = spec.transient_error;
    error
}
