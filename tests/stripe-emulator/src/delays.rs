//! Settlement delays: refunds answered `pending` and captures answered `processing`, each settled
//! a while later (real time), as Stripe does for some payment methods and acquirers.
//!
//! - A delayed refund is created `pending` (counted in the charge's `amount_refunded`, so it can
//!   not be refunded twice), then succeeds (with its balance transaction) or fails (its amount
//!   refundable again, `failure_reason` `expired_or_canceled_card`); either way the emulator
//!   emits `charge.refund.updated` with the refund.
//! - A delayed capture leaves the PaymentIntent `processing` (emitting
//!   `payment_intent.processing`), then captures it as an immediate capture would, emitting
//!   `charge.captured` and `payment_intent.succeeded`.
//!
//! The settlement is queued while the request runs ([`State::schedule`]) and spawned once the
//! state lock is released.

use std::sync::Arc;
use std::time::Duration;

use crate::resources::{payment_intents, refunds};
use crate::server::Shared;
use crate::state::{RequestInfo, State};

/// How a delayed refund ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settle {
    /// The money goes back to the customer.
    Succeed,
    /// The refund fails: nothing goes back.
    Fail,
}

/// One kind of delay: how many of the next objects it applies to, how long they wait, and how
/// they end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Delay {
    pub count: u32,
    pub after: Duration,
    pub settle: Settle,
}

/// The delays configured now.
#[derive(Debug, Clone, Default)]
pub(crate) struct DelayConfig {
    pub refunds: Option<Delay>,
    pub captures: Option<Delay>,
}

impl DelayConfig {
    /// The delay of the next one of `which`, counting it.
    fn take(which: &mut Option<Delay>) -> Option<Delay> {
        let d = which.as_mut()?;
        if d.count == 0 {
            *which = None;
            return None;
        }
        d.count -= 1;
        Some(*d)
    }

    /// Delays the next `count` refunds by `after`, ending as `settle` says.
    pub fn set_refunds(&mut self, count: u32, after: Duration, settle: Settle) {
        self.refunds = Some(Delay {
            count,
            after,
            settle,
        });
    }

    /// Delays the next `count` captures by `after`.
    pub fn set_captures(&mut self, count: u32, after: Duration) {
        self.captures = Some(Delay {
            count,
            after,
            settle: Settle::Succeed,
        });
    }

    /// The delay of the next refund, if any (counted).
    pub fn take_refund(&mut self) -> Option<Delay> {
        Self::take(&mut self.refunds)
    }

    /// The delay of the next capture, if any (counted).
    pub fn take_capture(&mut self) -> Option<Delay> {
        Self::take(&mut self.captures)
    }
}

/// What a delayed settlement does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Settlement {
    /// Ends a pending refund.
    Refund {
        /// `re_...`
        id: String,
        /// How.
        settle: Settle,
    },
    /// Captures a processing PaymentIntent.
    Capture {
        /// `pi_...`
        id: String,
        /// The amount to capture.
        amount: i64,
    },
}

/// A settlement to run after a while.
#[derive(Debug, Clone)]
pub(crate) struct Scheduled {
    pub after: Duration,
    pub settlement: Settlement,
}

/// Runs a settlement under the state lock, at the clock's time.
fn run(shared: &Shared, settlement: &Settlement, base_url: &str) {
    let mut st = shared.lock();
    st.now = shared.clock.now();
    st.request = RequestInfo {
        id: String::new(),
        idempotency_key: None,
        base_url: base_url.to_string(),
    };
    match settlement {
        Settlement::Refund { id, settle } => refunds::settle(&mut st, id, *settle),
        Settlement::Capture { id, amount } => {
            payment_intents::finish_processing(&mut st, id, *amount)
        }
    }
}

/// Spawns the settlements a request queued, on the current (the emulator's) runtime.
pub(crate) fn spawn(shared: &Arc<Shared>, scheduled: Vec<Scheduled>, base_url: &str) {
    for s in scheduled {
        let (shared, base_url) = (shared.clone(), base_url.to_string());
        tokio::spawn(async move {
            tokio::time::sleep(s.after).await;
            run(&shared, &s.settlement, &base_url);
        });
    }
}

/// A handle on the emulator's settlement delays (cheap to clone).
#[derive(Clone)]
pub struct Delays {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Delays {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delays")
            .field("config", &self.shared.lock().delays)
            .finish()
    }
}

impl Delays {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Delays { shared }
    }

    /// The next `count` refunds are answered `pending` and end as `settle` says `after` a
    /// while (emitting `charge.refund.updated`).
    pub fn refunds(&self, count: u32, after: Duration, settle: Settle) {
        self.shared.lock().delays.set_refunds(count, after, settle);
    }

    /// The next `count` captures leave their PaymentIntent `processing` and succeed `after` a
    /// while (emitting `payment_intent.succeeded`).
    pub fn captures(&self, count: u32, after: Duration) {
        self.shared.lock().delays.set_captures(count, after);
    }

    /// Refunds and captures settle at once again.
    pub fn clear(&self) {
        self.shared.lock().delays = DelayConfig::default();
    }
}

impl State {
    /// Queues a settlement to run `after` a while, once the current request has released the
    /// state.
    pub(crate) fn schedule(&mut self, after: Duration, settlement: Settlement) {
        self.scheduled.push(Scheduled { after, settlement });
    }
}
