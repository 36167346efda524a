//! An emulator's controllable clock: real time plus an offset that tests move.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A handle on an emulator's clock (cheap to clone). Every time the emulator records or signs
/// reads it, so moving it moves all of them; it keeps running with real time from where it was put.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_secs: Arc<AtomicI64>,
}

fn real_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Clock {
    /// Current emulated time, seconds since the Unix epoch. Keeps running with real time.
    pub fn now(&self) -> i64 {
        real_now() + self.offset_secs.load(Ordering::Relaxed)
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let secs = i64::try_from(by.as_secs()).unwrap_or(i64::MAX / 4);
        self.offset_secs.fetch_add(secs, Ordering::Relaxed);
    }

    /// Sets the clock to the given Unix time; it keeps running from there.
    pub fn set(&self, unix_secs: i64) {
        self.offset_secs
            .store(unix_secs - real_now(), Ordering::Relaxed);
    }
}
