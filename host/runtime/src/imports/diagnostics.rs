//! What a call leaves behind for the host to explain a failure.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// How much of the guest's stderr is kept to explain a trap.
const STDERR_TAIL: usize = 2048;

/// What a call leaves behind for the host to explain a failure, shared outside the store.
#[derive(Default)]
pub(crate) struct Diagnostics {
    memory_limit_hit: AtomicBool,
    stderr_tail: Mutex<Vec<u8>>,
}

impl Diagnostics {
    /// Keeps the end of what the guest wrote to stderr.
    pub(crate) fn append_stderr(&self, bytes: &[u8]) {
        let mut tail = self.stderr_tail.lock().unwrap_or_else(|p| p.into_inner());
        tail.extend_from_slice(bytes);
        if tail.len() > STDERR_TAIL {
            let cut = tail.len() - STDERR_TAIL;
            tail.drain(..cut);
        }
    }

    /// Records that a memory growth was refused because of the memory limit.
    pub(crate) fn record_memory_limit_hit(&self) {
        self.memory_limit_hit.store(true, Ordering::Relaxed);
    }

    /// Whether a memory growth was refused because of the memory limit.
    pub(crate) fn memory_limit_hit(&self) -> bool {
        self.memory_limit_hit.load(Ordering::Relaxed)
    }

    /// The last lines the guest wrote to stderr (a panic message, typically).
    pub(crate) fn stderr_tail(&self) -> String {
        let tail = self.stderr_tail.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&tail).trim().to_string()
    }
}
