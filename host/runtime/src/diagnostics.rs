//! What one call measures and leaves behind, shared outside its store: the host buffers it
//! holds against its budget, its log output against its share, and the facts that explain a
//! failure (memory limit hit, stderr's tail, a credential reflected by a response).
//!
//! Host buffers are counted in three kinds, each by the most it can hold:
//! - every handle the plugin holds (header sets, requests, streams, ...) is
//!   [`HANDLE_BYTES`], the largest header set the plugin may build;
//! - a request body is [`BODY_BYTES`], what its write buffer holds, from its creation until the
//!   request has been sent (or the call ends);
//! - a request in flight is [`IN_FLIGHT_BYTES`], its connection's buffers and the response data
//!   held for the plugin, from the send until the response body is finished or dropped.
//!
//! The budget is a call's `limits.host_buffer_mib`. Charges beyond it are refused, and the
//! resource table's capacity follows what is left, so creating a handle beyond it traps.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// How much of the guest's stderr is kept to explain a trap.
const STDERR_TAIL: usize = 2048;

/// The largest header set (`wasi:http` fields) a plugin may build, in the in-memory measure
/// `wasmtime-wasi-http` uses (names and values plus their structs); also what each handle is
/// charged.
pub(crate) const HANDLE_BYTES: usize = 16 * 1024;

/// The largest write the guest may make to a request body's stream.
pub(crate) const BODY_CHUNK_BYTES: usize = 32 * 1024;

/// What a request body is charged: its stream buffers one chunk besides the one being sent.
pub(crate) const BODY_BYTES: usize = 2 * BODY_CHUNK_BYTES;

/// What a request in flight is charged: the connection's read and write buffers (each at most
/// 64 KiB, see the client), TLS records, and the response frame held for the plugin.
pub(crate) const IN_FLIGHT_BYTES: usize = 256 * 1024;

/// What a call leaves behind for the host to explain a failure, and its meters.
pub(crate) struct Diagnostics {
    memory_limit_hit: AtomicBool,
    stderr_tail: Mutex<Vec<u8>>,
    buffers: HostBuffers,
    /// Where a response reflected an injected credential (an origin), if one did.
    credential_reflected: Mutex<Option<String>>,
    log_limit: usize,
    log_bytes: AtomicUsize,
    log_lines_dropped: AtomicU64,
    log_bytes_dropped: AtomicU64,
    /// Signalled when the call must stop at once, wherever the plugin is (running, or waiting
    /// in a host call).
    stop: Notify,
}

/// The host buffers of one call against its budget.
struct HostBuffers {
    limit: usize,
    /// Bodies and requests in flight.
    charged: AtomicUsize,
    /// The handles the plugin held at the last count, in bytes.
    handles: AtomicUsize,
    /// Bodies created but not sent yet: charged, their charges wait for their requests.
    unsent_bodies: AtomicUsize,
    /// A charge was refused.
    exceeded: AtomicBool,
    /// The resource table had no room left for another handle.
    full: AtomicBool,
}

impl Diagnostics {
    /// The diagnostics of a call with `host_buffer_limit` bytes of host buffers and
    /// `log_limit` bytes of log output.
    pub(crate) fn new(host_buffer_limit: usize, log_limit: usize) -> Arc<Diagnostics> {
        Arc::new(Diagnostics {
            memory_limit_hit: AtomicBool::new(false),
            stderr_tail: Mutex::new(Vec::new()),
            buffers: HostBuffers {
                limit: host_buffer_limit,
                charged: AtomicUsize::new(0),
                handles: AtomicUsize::new(0),
                unsent_bodies: AtomicUsize::new(0),
                exceeded: AtomicBool::new(false),
                full: AtomicBool::new(false),
            },
            credential_reflected: Mutex::new(None),
            log_limit,
            log_bytes: AtomicUsize::new(0),
            log_lines_dropped: AtomicU64::new(0),
            log_bytes_dropped: AtomicU64::new(0),
            stop: Notify::new(),
        })
    }

    /// Completes when the host has decided to stop the call: a charge was refused, or a
    /// response reflected a credential.
    pub(crate) async fn stopped(&self) {
        self.stop.notified().await;
    }

    /// Keeps the end of what the guest wrote to stderr.
    pub(crate) fn append_stderr(&self, bytes: &[u8]) {
        let mut tail = self.stderr_tail.lock().unwrap_or_else(|p| p.into_inner());
        let bytes = &bytes[bytes.len().saturating_sub(STDERR_TAIL)..];
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

    // ---- host buffers ----

    /// Charges `bytes` to the call's host buffers, released when the charge is dropped; `None`
    /// (and the budget marked exceeded) when that would go over the budget.
    pub(crate) fn charge(self: &Arc<Self>, bytes: usize) -> Option<Charge> {
        self.reserve(bytes).then(|| Charge {
            diagnostics: self.clone(),
            bytes,
        })
    }

    /// Adds `bytes` to the charged buffers if the budget has room; else marks it exceeded.
    fn reserve(&self, bytes: usize) -> bool {
        let b = &self.buffers;
        let before = b.charged.fetch_add(bytes, Ordering::Relaxed);
        let in_use = before
            .saturating_add(bytes)
            .saturating_add(b.handles.load(Ordering::Relaxed));
        if in_use > b.limit {
            b.charged.fetch_sub(bytes, Ordering::Relaxed);
            b.exceeded.store(true, Ordering::Relaxed);
            self.stop.notify_one();
            return false;
        }
        true
    }

    /// Charges a request body that was just created; the charge waits for its request in
    /// [`Diagnostics::take_unsent_body`] (a body never sent stays charged until the call ends).
    /// Marks the budget exceeded when there is no room.
    pub(crate) fn charge_new_body(&self) {
        if self.reserve(BODY_BYTES) {
            self.buffers.unsent_bodies.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The charge of a body created earlier, now leaving with its request.
    pub(crate) fn take_unsent_body(self: &Arc<Self>) -> Option<Charge> {
        self.buffers
            .unsent_bodies
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .ok()
            .map(|_| Charge {
                diagnostics: self.clone(),
                bytes: BODY_BYTES,
            })
    }

    /// Records that the plugin holds `handles` handles, and returns how many it may hold in
    /// all: those, and as many more as the budget has room for.
    pub(crate) fn count_handles(&self, handles: usize) -> usize {
        let b = &self.buffers;
        let held = handles.saturating_mul(HANDLE_BYTES);
        b.handles.store(held, Ordering::Relaxed);
        let room = b
            .limit
            .saturating_sub(b.charged.load(Ordering::Relaxed))
            .saturating_sub(held)
            / HANDLE_BYTES;
        if room == 0 {
            b.full.store(true, Ordering::Relaxed);
        }
        handles + room
    }

    /// Whether a charge was refused: the call went over its budget.
    pub(crate) fn host_buffers_exceeded(&self) -> bool {
        self.buffers.exceeded.load(Ordering::Relaxed)
    }

    /// Whether the budget was exhausted at some point (a charge refused, or no room for
    /// another handle): what a trap of a resource-hungry plugin is explained by.
    pub(crate) fn host_buffers_exhausted(&self) -> bool {
        self.host_buffers_exceeded() || self.buffers.full.load(Ordering::Relaxed)
    }

    /// The host buffers charged now, in bytes (handles as last counted).
    pub(crate) fn host_buffers_in_use(&self) -> usize {
        let b = &self.buffers;
        b.charged.load(Ordering::Relaxed) + b.handles.load(Ordering::Relaxed)
    }

    // ---- credentials ----

    /// Records that a response from `origin` reflected a credential the host injected.
    pub(crate) fn record_credential_reflected(&self, origin: String) {
        let mut reflected = self
            .credential_reflected
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        reflected.get_or_insert(origin);
        self.stop.notify_one();
    }

    /// The origin whose response reflected an injected credential, if one did.
    pub(crate) fn credential_reflected(&self) -> Option<String> {
        self.credential_reflected
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    // ---- log output ----

    /// Takes `bytes` of the call's log output share; false (and the line counted as dropped)
    /// when the share is used up.
    pub(crate) fn admit_log(&self, bytes: usize) -> bool {
        let before = self.log_bytes.fetch_add(bytes, Ordering::Relaxed);
        if before.saturating_add(bytes) > self.log_limit {
            self.log_bytes.fetch_sub(bytes, Ordering::Relaxed);
            self.record_log_dropped(bytes);
            return false;
        }
        true
    }

    /// Counts a log line of `bytes` that was dropped.
    pub(crate) fn record_log_dropped(&self, bytes: usize) {
        self.log_lines_dropped.fetch_add(1, Ordering::Relaxed);
        self.log_bytes_dropped
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Log lines and bytes of this call that were dropped.
    pub(crate) fn log_dropped(&self) -> (u64, u64) {
        (
            self.log_lines_dropped.load(Ordering::Relaxed),
            self.log_bytes_dropped.load(Ordering::Relaxed),
        )
    }
}

/// Bytes charged to a call's host buffers, released when dropped.
pub(crate) struct Charge {
    diagnostics: Arc<Diagnostics>,
    bytes: usize,
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.diagnostics
            .buffers
            .charged
            .fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_are_refused_past_the_budget_and_released_when_dropped() {
        let d = Diagnostics::new(4 * IN_FLIGHT_BYTES, 1024);
        let first = d.charge(2 * IN_FLIGHT_BYTES).expect("room");
        let second = d.charge(2 * IN_FLIGHT_BYTES).expect("room");
        assert!(d.charge(1).is_none());
        assert!(d.host_buffers_exceeded());
        drop(first);
        assert_eq!(d.host_buffers_in_use(), 2 * IN_FLIGHT_BYTES);
        // Handles count too: they leave room for the charges, and the charges for them.
        let capacity = d.count_handles(4);
        assert_eq!(
            capacity,
            4 + (2 * IN_FLIGHT_BYTES - 4 * HANDLE_BYTES) / HANDLE_BYTES
        );
        assert!(d.charge(2 * IN_FLIGHT_BYTES).is_none());
        drop(second);
        assert!(d.charge(2 * IN_FLIGHT_BYTES).is_some());
    }

    #[tokio::test]
    async fn a_refused_charge_or_a_reflected_credential_stops_the_call() {
        let d = Diagnostics::new(IN_FLIGHT_BYTES, 1024);
        let _held = d.charge(IN_FLIGHT_BYTES).expect("room");
        assert!(d.charge(1).is_none());
        tokio::time::timeout(std::time::Duration::from_secs(1), d.stopped())
            .await
            .expect("stopped");
        let d = Diagnostics::new(IN_FLIGHT_BYTES, 1024);
        d.record_credential_reflected("http://127.0.0.1:1/x".into());
        tokio::time::timeout(std::time::Duration::from_secs(1), d.stopped())
            .await
            .expect("stopped");
        assert_eq!(
            d.credential_reflected().as_deref(),
            Some("http://127.0.0.1:1/x")
        );
    }

    #[test]
    fn a_full_table_leaves_no_room() {
        let d = Diagnostics::new(10 * HANDLE_BYTES, 1024);
        assert_eq!(d.count_handles(3), 10);
        assert!(!d.host_buffers_exhausted());
        assert_eq!(d.count_handles(10), 10);
        assert!(d.host_buffers_exhausted());
        assert!(!d.host_buffers_exceeded());
    }

    #[test]
    fn bodies_wait_for_their_requests() {
        let d = Diagnostics::new(3 * BODY_BYTES, 1024);
        d.charge_new_body();
        d.charge_new_body();
        assert_eq!(d.host_buffers_in_use(), 2 * BODY_BYTES);
        let sent = d.take_unsent_body().expect("a body");
        assert_eq!(d.host_buffers_in_use(), 2 * BODY_BYTES);
        drop(sent);
        assert_eq!(d.host_buffers_in_use(), BODY_BYTES);
        d.charge_new_body();
        d.charge_new_body();
        d.charge_new_body();
        assert!(d.host_buffers_exceeded());
    }

    #[test]
    fn log_output_beyond_the_share_is_dropped_and_counted() {
        let d = Diagnostics::new(1024, 100);
        assert!(d.admit_log(60));
        assert!(!d.admit_log(60));
        assert!(d.admit_log(40));
        assert!(!d.admit_log(1));
        assert_eq!(d.log_dropped(), (2, 61));
    }
}
