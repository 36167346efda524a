//! Retries of gateway calls that did nothing: which failures may be repeated at once with the
//! same inputs (hence the same idempotency key), and how long to wait between attempts.

use std::time::Duration;

use omnicrm_host::contract::GatewayError;
use omnicrm_host::error::CallError;

/// How calls that did nothing are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all (at least 1).
    pub attempts: u32,
    /// First back-off.
    pub initial: Duration,
    /// Longest back-off.
    pub max: Duration,
}

impl RetryPolicy {
    /// For calls made while an API client waits.
    pub const INTERACTIVE: RetryPolicy = RetryPolicy {
        attempts: 3,
        initial: Duration::from_millis(200),
        max: Duration::from_secs(2),
    };
    /// For billing runs and the reconciler.
    pub const BATCH: RetryPolicy = RetryPolicy {
        attempts: 8,
        initial: Duration::from_millis(250),
        max: Duration::from_secs(8),
    };

    /// The wait before attempt `attempt + 1`: exponential with jitter, at least the gateway's
    /// own hint (within the policy's longest back-off).
    pub fn delay(&self, attempt: u32, hint: Option<Duration>) -> Duration {
        let exp = self
            .initial
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max);
        let jitter = 0.5 + rand::random::<f64>() * 0.5;
        let d = exp.mul_f64(jitter).max(self.initial);
        match hint {
            Some(h) => d.max(h.min(self.max)),
            None => d,
        }
    }
}

/// Whether a failed call did nothing at the gateway and may be repeated with the same key; the
/// inner value is the gateway's hint of how long to wait.
pub fn retryable(e: &CallError) -> Option<Option<Duration>> {
    match e {
        CallError::Gateway(GatewayError::RateLimited(r)) => {
            Some(r.retry_after_ms.map(Duration::from_millis))
        }
        CallError::Gateway(GatewayError::NotAttempted(_)) => Some(None),
        CallError::Gateway(GatewayError::IdempotencyConflict(_)) => Some(None),
        CallError::Host(_) => Some(None),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use omnicrm_host::contract::{Failure, RateLimited};

    #[test]
    fn only_calls_that_did_nothing_are_retried() {
        let failure = || Failure {
            message: "x".into(),
            request_id: None,
        };
        assert_eq!(
            retryable(&CallError::Gateway(GatewayError::RateLimited(
                RateLimited {
                    retry_after_ms: Some(1500),
                    message: "slow down".into(),
                    request_id: None,
                }
            ))),
            Some(Some(Duration::from_millis(1500)))
        );
        assert_eq!(
            retryable(&CallError::Gateway(GatewayError::NotAttempted(failure()))),
            Some(None)
        );
        assert_eq!(retryable(&CallError::Host("busy".into())), Some(None));
        assert_eq!(
            retryable(&CallError::Gateway(GatewayError::OutcomeUnknown(failure()))),
            None
        );
        assert_eq!(retryable(&CallError::Trap("boom".into())), None);
    }

    #[test]
    fn delays_grow_within_bounds_and_honour_the_hint() {
        let p = RetryPolicy::INTERACTIVE;
        for attempt in 0..20 {
            let d = p.delay(attempt, None);
            assert!(d >= p.initial && d <= p.max, "{attempt}: {d:?}");
        }
        assert_eq!(
            p.delay(0, Some(Duration::from_secs(60))),
            p.max,
            "a hint is capped by the policy"
        );
        assert!(p.delay(0, Some(Duration::from_millis(1500))) >= Duration::from_millis(1500));
    }
}
