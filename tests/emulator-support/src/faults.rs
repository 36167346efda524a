//! Fault injection: failing the next requests, added latency, and "commit then drop". The
//! emulator decides which paths are subject to faults (its API, never its admin routes) and how a
//! failed request is answered; this module only keeps count.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// A rule that fails some of the next requests. Each emulator has its own (the answer's details
/// differ: Stripe's `Stripe-Should-Retry`, Adyen's `Transient-Error`).
pub trait FailRule: Clone {
    /// How many more matching requests this rule fails.
    fn remaining(&self) -> u32;
    /// Sets how many more matching requests this rule fails.
    fn set_remaining(&mut self, remaining: u32);
    /// Only requests whose path starts with this; `None` matches every path subject to faults.
    fn path_prefix(&self) -> Option<&str>;
}

#[derive(Debug)]
struct Inner<S> {
    fail: Vec<S>,
    drop: Vec<(u32, Option<String>)>,
    latency: Duration,
}

impl<S> Default for Inner<S> {
    fn default() -> Self {
        Inner {
            fail: Vec::new(),
            drop: Vec::new(),
            latency: Duration::ZERO,
        }
    }
}

/// What the server must do with one request.
#[derive(Debug)]
pub struct Decision<S> {
    /// Answer with this failure without executing the request.
    pub fail: Option<S>,
    /// Execute the request, then close the connection without answering.
    pub drop_after_commit: bool,
    /// Delay to add once the request's idempotency key is claimed.
    pub latency: Duration,
}

impl<S> Default for Decision<S> {
    fn default() -> Self {
        Decision {
            fail: None,
            drop_after_commit: false,
            latency: Duration::ZERO,
        }
    }
}

/// A handle on an emulator's fault injection (cheap to clone).
#[derive(Debug)]
pub struct Faults<S> {
    inner: Arc<Mutex<Inner<S>>>,
}

impl<S> Clone for Faults<S> {
    fn clone(&self) -> Self {
        Faults {
            inner: self.inner.clone(),
        }
    }
}

impl<S> Default for Faults<S> {
    fn default() -> Self {
        Faults {
            inner: Arc::new(Mutex::new(Inner::default())),
        }
    }
}

fn matches(prefix: Option<&str>, path: &str) -> bool {
    prefix.is_none_or(|p| path.starts_with(p))
}

impl<S: FailRule> Faults<S> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<S>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Fails the next `rule.remaining()` matching requests, without executing them (nothing
    /// changes and nothing is saved under their idempotency keys).
    pub fn fail_next(&self, rule: S) {
        if rule.remaining() > 0 {
            self.lock().fail.push(rule);
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

    /// Consumes the faults that apply to a request for `path`.
    pub fn decide(&self, path: &str) -> Decision<S> {
        let mut inner = self.lock();
        let mut decision = Decision {
            latency: inner.latency,
            ..Decision::default()
        };
        if let Some(i) = inner
            .fail
            .iter()
            .position(|f| matches(f.path_prefix(), path))
        {
            let rule = inner.fail[i].clone();
            let left = inner.fail[i].remaining().saturating_sub(1);
            if left == 0 {
                inner.fail.remove(i);
            } else {
                inner.fail[i].set_remaining(left);
            }
            decision.fail = Some(rule);
            return decision;
        }
        if let Some(i) = inner
            .drop
            .iter()
            .position(|(_, p)| matches(p.as_deref(), path))
        {
            inner.drop[i].0 -= 1;
            if inner.drop[i].0 == 0 {
                inner.drop.remove(i);
            }
            decision.drop_after_commit = true;
        }
        decision
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone)]
    struct Rule(u32, Option<String>);

    impl FailRule for Rule {
        fn remaining(&self) -> u32 {
            self.0
        }
        fn set_remaining(&mut self, remaining: u32) {
            self.0 = remaining;
        }
        fn path_prefix(&self) -> Option<&str> {
            self.1.as_deref()
        }
    }

    #[test]
    fn rules_are_consumed_by_matching_paths_only() {
        let faults = Faults::default();
        faults.fail_next(Rule(2, Some("/a".into())));
        faults.drop_after_commit(1, None);
        assert!(faults.decide("/b").fail.is_none());
        // "/b" consumed the drop.
        assert!(!faults.decide("/b").drop_after_commit);
        assert!(faults.decide("/a/x").fail.is_some());
        assert!(faults.decide("/a").fail.is_some());
        assert!(faults.decide("/a").fail.is_none());
        faults.set_latency(Duration::from_millis(5));
        assert_eq!(faults.decide("/a").latency, Duration::from_millis(5));
        faults.clear();
        assert_eq!(faults.decide("/a").latency, Duration::ZERO);
    }
}
