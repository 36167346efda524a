//! How many calls a gateway gets, and how fast: its concurrency permits and its pacing
//! (`requests_per_second`), split between two lanes so that lookups never starve the calls that
//! move money.
//!
//! - [`Lane::Foreground`] (charges, captures, refunds, customers and cards, invoices): the
//!   gateway's whole rate and every permit.
//! - [`Lane::Lookup`] (the lookups events and the reconciler make): their own budget first, at
//!   most [`LOOKUP_SHARE`] of the rate and of the permits, then a place among the foreground's.
//!   When both lanes are busy the foreground keeps at least the rest of the rate; when no
//!   lookup runs it has all of it.

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

use crate::config::GatewayEntry;

/// The share of a gateway's rate and permits lookups may take at most.
pub const LOOKUP_SHARE: f64 = 0.2;

/// Which budget a gateway call draws on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// Calls that move money or answer a caller: the whole budget.
    Foreground,
    /// Lookups of payments and refunds (events, the reconciler): their own share first.
    Lookup,
}

/// Spaces call starts `1 / rate` seconds apart (on Tokio's clock, which tests can pause).
struct Pacer {
    interval: Option<Duration>,
    next: Mutex<Instant>,
}

impl Pacer {
    fn new(rate: Option<f64>) -> Self {
        Pacer {
            interval: rate
                .filter(|r| r.is_finite() && *r > 0.0)
                .map(|r| Duration::from_secs_f64(1.0 / r)),
            next: Mutex::new(Instant::now()),
        }
    }

    async fn wait(&self) {
        let Some(interval) = self.interval else {
            return;
        };
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let slot = (*next).max(now);
            *next = slot + interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }

    /// Pushes every later start back (after a rate-limit answer).
    fn push_back(&self, by: Duration) {
        if self.interval.is_none() {
            return;
        }
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        let target = Instant::now() + by;
        if *next < target {
            *next = target;
        }
    }
}

/// A gateway's call budget: permits and pacing, with the lookups' own share.
pub(crate) struct CallBudget {
    permits: Semaphore,
    pacer: Pacer,
    lookup_permits: Semaphore,
    lookup_pacer: Pacer,
}

/// The right to start one call now; held while it runs.
pub(crate) struct Admission<'a> {
    _lookup: Option<SemaphorePermit<'a>>,
    _permit: SemaphorePermit<'a>,
}

impl CallBudget {
    /// The budget of a gateway configured by `entry`.
    pub(crate) fn new(entry: &GatewayEntry) -> Self {
        let permits = entry.max_concurrency.max(1);
        let lookup_permits = ((permits as f64 * LOOKUP_SHARE).floor() as usize).max(1);
        CallBudget {
            permits: Semaphore::new(permits),
            pacer: Pacer::new(entry.requests_per_second),
            lookup_permits: Semaphore::new(lookup_permits),
            lookup_pacer: Pacer::new(entry.requests_per_second.map(|r| r * LOOKUP_SHARE)),
        }
    }

    /// Waits until a call of `lane` may start.
    pub(crate) async fn admit(&self, lane: Lane) -> Result<Admission<'_>, BudgetClosed> {
        let lookup = match lane {
            Lane::Foreground => None,
            Lane::Lookup => {
                let permit = self
                    .lookup_permits
                    .acquire()
                    .await
                    .map_err(|_| BudgetClosed)?;
                self.lookup_pacer.wait().await;
                Some(permit)
            }
        };
        let permit = self.permits.acquire().await.map_err(|_| BudgetClosed)?;
        self.pacer.wait().await;
        Ok(Admission {
            _lookup: lookup,
            _permit: permit,
        })
    }

    /// Pushes every later start of both lanes back (the gateway said it is rate limited).
    pub(crate) fn push_back(&self, by: Duration) {
        self.pacer.push_back(by);
        self.lookup_pacer.push_back(by);
    }
}

/// The budget's semaphores were closed (never, while the slot lives).
#[derive(Debug)]
pub(crate) struct BudgetClosed;

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn entry(rate: f64, permits: usize) -> GatewayEntry {
        let mut e = GatewayEntry::new(omnicrm_host::config::GatewayConfig::new("unused.wasm"));
        e.requests_per_second = Some(rate);
        e.max_concurrency = permits;
        e
    }

    #[tokio::test(start_paused = true)]
    async fn lookups_take_at_most_their_share_when_both_lanes_are_busy() {
        let budget = Arc::new(CallBudget::new(&entry(50.0, 10)));
        let counts = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut tasks = Vec::new();
        for (lane, workers) in [(Lane::Foreground, 4), (Lane::Lookup, 40)] {
            for _ in 0..workers {
                let (budget, counts) = (budget.clone(), counts.clone());
                tasks.push(tokio::spawn(async move {
                    while Instant::now() < deadline {
                        let _admitted = budget.admit(lane).await.unwrap();
                        // Starts after the 10 s (of workers queued before) are not counted.
                        if Instant::now() < deadline {
                            counts[(lane == Lane::Lookup) as usize].fetch_add(1, Ordering::SeqCst);
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }));
            }
        }
        for t in tasks {
            t.await.unwrap();
        }
        let (foreground, lookups) = (
            counts[0].load(Ordering::SeqCst),
            counts[1].load(Ordering::SeqCst),
        );
        // 10 s at 50/s: about 500 starts, of which lookups about a fifth.
        assert!(
            (480..=520).contains(&(foreground + lookups)),
            "{foreground} + {lookups}"
        );
        assert!((90..=110).contains(&lookups), "{lookups}");
        assert!(foreground >= 380, "{foreground}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_foreground_has_the_whole_rate_when_no_lookup_runs() {
        let budget = CallBudget::new(&entry(50.0, 10));
        let start = Instant::now();
        for _ in 0..100 {
            let _admitted = budget.admit(Lane::Foreground).await.unwrap();
        }
        // 100 starts 20 ms apart, the first at once.
        assert_eq!(start.elapsed(), Duration::from_millis(99 * 20));
    }
}
