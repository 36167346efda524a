//! Fault injection: failing the next requests, added latency, and "commit then drop".

/// Which requests to fail, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailSpec {
    /// How many of the next matching requests fail.
    pub count: u32,
    /// The status to answer with: 500, 503 or 429 (any 4xx/5xx is accepted).
    pub status: u16,
    /// Only requests whose path starts with this (e.g. `/v1/payment_intents`); `None` = any `/v1` path.
    pub path_prefix: Option<String>,
    /// Adds `Stripe-Should-Retry: true|false` when set.
    pub should_retry: Option<bool>,
    /// For 429: answer with code `lock_timeout` (which Stripe's clients retry) instead of `rate_limit`.
    pub lock_timeout: bool,
}

impl Default for FailSpec {
    fn default() -> Self {
        FailSpec {
            count: 1,
            status: 500,
            path_prefix: None,
            should_retry: None,
            lock_timeout: false,
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

/// A handle on the emulator's fault injection (cheap to clone). Faults apply to `/v1` requests only;
/// admin routes are never affected.
pub type Faults = emulator_support::Faults<FailSpec>;
