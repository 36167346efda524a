//! How much a gateway's plugins may write to the host's log (the `logging` interface, stdout
//! and stderr): a share per call (`limits.log_bytes_per_call`) and a rate for the gateway as a
//! whole (`limits.log_bytes_per_second`, a bucket holding one second's worth). Lines beyond
//! either are dropped and counted, per call and per gateway.

use crate::diagnostics::Diagnostics;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// A gateway's log output limiter and its count of what was dropped.
pub(crate) struct OutputGate {
    per_second: f64,
    bucket: Mutex<Bucket>,
    lines_dropped: AtomicU64,
    bytes_dropped: AtomicU64,
}

struct Bucket {
    bytes: f64,
    refilled: Instant,
}

impl OutputGate {
    /// A gate letting `per_second` bytes a second through, with a full bucket.
    pub(crate) fn new(per_second: u32) -> OutputGate {
        OutputGate {
            per_second: f64::from(per_second),
            bucket: Mutex::new(Bucket {
                bytes: f64::from(per_second),
                refilled: Instant::now(),
            }),
            lines_dropped: AtomicU64::new(0),
            bytes_dropped: AtomicU64::new(0),
        }
    }

    /// Whether a line of `bytes` from the call of `diagnostics` may be logged; a line refused
    /// is counted for the call and the gateway.
    pub(crate) fn admit(&self, diagnostics: &Diagnostics, bytes: usize) -> bool {
        let admitted = if diagnostics.admit_log(bytes) {
            let taken = self.take(bytes);
            if !taken {
                diagnostics.record_log_dropped(bytes);
            }
            taken
        } else {
            false
        };
        if !admitted {
            self.lines_dropped.fetch_add(1, Ordering::Relaxed);
            self.bytes_dropped
                .fetch_add(bytes as u64, Ordering::Relaxed);
        }
        admitted
    }

    fn take(&self, bytes: usize) -> bool {
        let mut bucket = self.bucket.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let elapsed = now.duration_since(bucket.refilled).as_secs_f64();
        bucket.bytes = (bucket.bytes + elapsed * self.per_second).min(self.per_second);
        bucket.refilled = now;
        if bucket.bytes >= bytes as f64 {
            bucket.bytes -= bytes as f64;
            true
        } else {
            false
        }
    }

    /// Lines and bytes dropped since the gateway was loaded.
    pub(crate) fn dropped(&self) -> (u64, u64) {
        (
            self.lines_dropped.load(Ordering::Relaxed),
            self.bytes_dropped.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gateway_rate_and_the_call_share_both_hold() {
        let gate = OutputGate::new(1000);
        let call = Diagnostics::new(1024, 600);
        assert!(gate.admit(&call, 500));
        // The call's share is used up before the gateway's bucket.
        assert!(!gate.admit(&call, 200));
        let other = Diagnostics::new(1024, 10_000);
        assert!(gate.admit(&other, 400));
        // The bucket holds one second's worth: 1000 - 500 - 400 left 100.
        assert!(!gate.admit(&other, 400));
        assert_eq!(gate.dropped(), (2, 600));
        assert_eq!(call.log_dropped(), (1, 200));
        assert_eq!(other.log_dropped(), (1, 400));
    }
}
