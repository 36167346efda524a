//! The monotonic clock guests see.

use std::time::Instant;
use wasmtime_wasi::HostMonotonicClock;

/// The monotonic clock given to guests: nanoseconds since the runtime started. The same base
/// is used for `call-context.deadline`.
#[derive(Clone, Copy)]
pub(crate) struct HostClock {
    base: Instant,
}

impl HostClock {
    /// A clock whose zero is now.
    pub(crate) fn starting_now() -> HostClock {
        HostClock {
            base: Instant::now(),
        }
    }

    /// `at` in this clock's nanoseconds.
    pub(crate) fn instant_of(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.base).as_nanos()).unwrap_or(u64::MAX)
    }
}

impl HostMonotonicClock for HostClock {
    fn resolution(&self) -> u64 {
        1
    }
    fn now(&self) -> u64 {
        self.instant_of(Instant::now())
    }
}
