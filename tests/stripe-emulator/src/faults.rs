//! Fault injection: failing the next requests, added latency, and "commit then drop".

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

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

#[derive(Debug, Default)]
struct Inner {
    fail: Vec<FailSpec>,
    drop: Vec<(u32, Option<String>)>,
    latency: Duration,
}

/// What the server must do with one request.
#[derive(Debug, Default)]
pub(crate) struct Decision {
    pub fail: Option<FailSpec>,
    pub drop_after_commit: bool,
    pub latency: Duration,
}

/// A handle on the emulator's fault injection (cheap to clone). Faults apply to `/v1` requests only;
/// admin routes are never affected.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    inner: Arc<Mutex<Inner>>,
}

fn matches(prefix: &Option<String>, path: &str) -> bool {
    prefix.as_deref().is_none_or(|p| path.starts_with(p))
}

impl Faults {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Fails the next `spec.count` matching requests with `spec.status`, without executing them
    /// (nothing changes and nothing is saved under their idempotency keys).
    pub fn fail_next(&self, spec: FailSpec) {
        if spec.count > 0 {
            self.lock().fail.push(spec);
        }
    }

    /// Delays every API request by `latency` (after its idempotency key is claimed, so a concurrent
    /// request with the same key sees it in progress). `Duration::ZERO` turns it off.
    pub fn set_latency(&self, latency: Duration) {
        self.lock().latency = latency;
    }

    /// Executes the next `count` matching requests fully (state changes and idempotent results are
    /// saved) and then closes the connection without answering: the client cannot know the outcome.
    pub fn drop_after_commit(&self, count: u32, path_prefix: Option<String>) {
        if count > 0 {
            self.lock().drop.push((count, path_prefix));
        }
    }

    /// Removes every pending fault and the latency.
    pub fn clear(&self) {
        *self.lock() = Inner::default();
    }

    /// Consumes the faults that apply to this request.
    pub(crate) fn decide(&self, path: &str) -> Decision {
        let mut inner = self.lock();
        let mut decision = Decision {
            latency: inner.latency,
            ..Decision::default()
        };
        if let Some(i) = inner
            .fail
            .iter()
            .position(|f| matches(&f.path_prefix, path))
        {
            let spec = inner.fail[i].clone();
            inner.fail[i].count -= 1;
            if inner.fail[i].count == 0 {
                inner.fail.remove(i);
            }
            decision.fail = Some(spec);
            return decision;
        }
        if let Some(i) = inner.drop.iter().position(|(_, p)| matches(p, path)) {
            inner.drop[i].0 -= 1;
            if inner.drop[i].0 == 0 {
                inner.drop.remove(i);
            }
            decision.drop_after_commit = true;
        }
        decision
    }
}
