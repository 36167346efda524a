//! Idempotency keys, as Adyen keeps them (docs.adyen.com "development-resources/api-idempotency"):
//! the `Idempotency-Key` header on a POST, at most 64 characters (Checkout API v71 spec,
//! parameter `Idempotency-Key`); the first response is saved and replayed for a repeat; keys are
//! valid for 7 to 14 days after first submission (the emulator keeps them 7 days of its clock, the
//! floor a client must plan for); keys belong to the account, not to an endpoint.
//!
//! A repeat while the first request is still being processed gets `704` "request already processed
//! or in progress" with `Transient-Error: true` ("the API returns an HTTP 422 – Unprocessable
//! Entity or HTTP 409 - Conflict status with the error code 704"; the emulator answers 409, as
//! Adyen's live answers quoted in integrators' reports do). Adyen documents no check of the body of
//! a repeat; the emulator refuses a repeat with another body or endpoint with the same `704`, as 422
//! and `Transient-Error: false`, rather than replay an answer that belongs to another request.
//!
//! Saved: answers of requests that were executed (2xx, including refusals, which are 200s).
//! Not saved, so the key stays usable: validation errors (4xx) and injected faults.

use std::collections::HashMap;

use bytes::Bytes;

use crate::error::{ApiError, ErrorType};

/// How long a key is kept (by the emulator clock).
pub const RETENTION_SECS: i64 = 7 * 24 * 60 * 60;

/// The longest key Adyen accepts.
pub const MAX_KEY_LEN: usize = 64;

#[derive(Debug)]
enum Status {
    InProgress,
    Done { status: u16, body: Bytes },
}

#[derive(Debug)]
struct Entry {
    fingerprint: String,
    created: i64,
    status: Status,
}

/// The saved keys.
#[derive(Debug, Default)]
pub struct IdempotencyStore {
    entries: HashMap<String, Entry>,
    claims_since_prune: usize,
}

/// What to do with a request that carries a key.
#[derive(Debug)]
pub enum Claim {
    /// The key is new: execute, then [`IdempotencyStore::finish`].
    Execute,
    /// Replay this saved answer.
    Replay {
        /// Saved status.
        status: u16,
        /// Saved body.
        body: Bytes,
    },
    /// Refuse without executing and without saving.
    Reject(ApiError),
}

fn in_progress_error(transient: bool) -> ApiError {
    let mut e = ApiError::new(
        if transient { 409 } else { 422 },
        "704",
        ErrorType::Validation,
        "request already processed or in progress",
    );
    e.transient = Some(transient);
    e
}

impl IdempotencyStore {
    /// Claims `key` for a request whose endpoint and canonical body make `fingerprint`.
    pub fn claim(&mut self, key: &str, fingerprint: &str, now: i64) -> Claim {
        self.prune(now);
        if let Some(entry) = self.entries.get(key)
            && now - entry.created < RETENTION_SECS
        {
            if entry.fingerprint != fingerprint {
                return Claim::Reject(in_progress_error(false));
            }
            return match &entry.status {
                Status::InProgress => Claim::Reject(in_progress_error(true)),
                Status::Done { status, body } => Claim::Replay {
                    status: *status,
                    body: body.clone(),
                },
            };
        }
        self.entries.insert(
            key.to_string(),
            Entry {
                fingerprint: fingerprint.to_string(),
                created: now,
                status: Status::InProgress,
            },
        );
        Claim::Execute
    }

    /// Saves the answer of an executed request, or forgets the key when it must not be saved.
    pub fn finish(&mut self, key: &str, saved: Option<(u16, Bytes)>) {
        match saved {
            Some((status, body)) => {
                if let Some(entry) = self.entries.get_mut(key) {
                    entry.status = Status::Done { status, body };
                }
            }
            None => {
                self.entries.remove(key);
            }
        }
    }

    /// Number of keys held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Drops expired keys now and then (a benchmark makes many).
    fn prune(&mut self, now: i64) {
        self.claims_since_prune += 1;
        if self.claims_since_prune < 10_000 {
            return;
        }
        self.claims_since_prune = 0;
        self.entries.retain(|_, e| {
            now - e.created < RETENTION_SECS || matches!(e.status, Status::InProgress)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_mismatch_in_progress_and_expiry() {
        let mut store = IdempotencyStore::default();
        assert!(matches!(store.claim("k", "a", 0), Claim::Execute));
        match store.claim("k", "a", 1) {
            Claim::Reject(e) => assert_eq!((e.status, e.transient), (409, Some(true))),
            other => panic!("{other:?}"),
        }
        store.finish("k", Some((200, Bytes::from_static(b"{}"))));
        assert!(matches!(
            store.claim("k", "a", 2),
            Claim::Replay { status: 200, .. }
        ));
        match store.claim("k", "b", 2) {
            Claim::Reject(e) => assert_eq!((e.status, &*e.error_code), (422, "704")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            store.claim("k", "b", RETENTION_SECS),
            Claim::Execute
        ));
        store.finish("k", None);
        assert!(store.is_empty());
    }
}
