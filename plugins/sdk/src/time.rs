//! Clocks and the current call's deadline.

use core::time::Duration;

use crate::omnicrm::payments::call_context;
use crate::wasi::clocks::monotonic_clock::{self, Instant};

/// The current `wasi:clocks/monotonic-clock` instant, in nanoseconds.
pub fn now() -> Instant {
    monotonic_clock::now()
}

/// The instant by which the current call must have returned (the host stops it then).
pub fn deadline() -> Instant {
    call_context::deadline()
}

/// The time left until [`deadline`]; zero once it has passed.
pub fn remaining() -> Duration {
    Duration::from_nanos(deadline().saturating_sub(now()))
}

/// Blocks for `duration`.
pub fn sleep(duration: Duration) {
    let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
    monotonic_clock::subscribe_duration(nanos).block();
}

/// Seconds since the Unix epoch from the wall clock (0 if the clock is before the epoch).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
