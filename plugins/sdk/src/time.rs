//! Clocks and the current call's deadline.

use core::time::Duration;

use crate::bindings::omnicrm::payments::call_context;
use crate::bindings::wasi::clocks::monotonic_clock::{self, Instant};

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

/// Seconds since the Unix epoch from `wasi:clocks/wall-clock`.
pub fn unix_now() -> i64 {
    i64::try_from(crate::bindings::wasi::clocks::wall_clock::now().seconds).unwrap_or(i64::MAX)
}

/// A random `u64` from the host (`wasi:random/random`).
pub fn random_u64() -> u64 {
    crate::bindings::wasi::random::random::get_random_u64()
}
