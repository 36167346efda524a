//! Idempotency keys, the way Stripe keeps them: the first request's status and body are saved once
//! it started executing and replayed for repeats; the same key with other parameters is a 400
//! `idempotency_error`, with another endpoint too; a repeat while the first is still running is a
//! 409 `idempotency_key_in_use`. Validation failures are not saved. Keys are pruned after 24 hours.

use std::collections::HashMap;

use bytes::Bytes;

use crate::error::ApiError;

/// How long a key is kept (by the emulator clock).
pub const RETENTION_SECS: i64 = 24 * 60 * 60;

/// The longest key Stripe accepts.
pub const MAX_KEY_LEN: usize = 255;

#[derive(Debug)]
enum Status {
    InProgress,
    Done {
        status: u16,
        body: Bytes,
        request_id: String,
    },
}

#[derive(Debug)]
struct Entry {
    endpoint: String,
    fingerprint: Vec<(String, String)>,
    created: i64,
    status: Status,
}

/// The saved keys.
#[derive(Debug, Default)]
pub struct IdempotencyStore {
    entries: HashMap<String, Entry>,
}

/// What to do with a request that carries a key.
#[derive(Debug)]
pub enum Claim {
    /// The key is new: execute, then [`IdempotencyStore::finish`].
    Execute,
    /// Replay this saved response.
    Replay {
        /// Saved status.
        status: u16,
        /// Saved body.
        body: Bytes,
        /// The request that produced it.
        request_id: String,
    },
    /// Reject without executing and without saving.
    Reject(ApiError),
}

impl IdempotencyStore {
    /// Claims `key` for a request to `endpoint` (`POST /v1/...`) with these parameters.
    pub fn claim(
        &mut self,
        key: &str,
        endpoint: &str,
        fingerprint: &[(String, String)],
        now: i64,
    ) -> Claim {
        if let Some(entry) = self.entries.get(key)
            && now - entry.created < RETENTION_SECS
        {
            if entry.endpoint != endpoint {
                return Claim::Reject(idempotency_error(format!(
                    "Keys for idempotent requests can only be used for the same endpoint they were first used for ('{}' vs '{}'). Try using a key other than '{key}' if you meant to execute a different request.",
                    entry.endpoint, endpoint
                )));
            }
            if entry.fingerprint != fingerprint {
                return Claim::Reject(idempotency_error(format!(
                    "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{key}' if you meant to execute a different request."
                )));
            }
            return match &entry.status {
                Status::InProgress => {
                    let mut e = ApiError::new(
                        409,
                        "invalid_request_error",
                        format!(
                            "There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): {key}. Please try again later."
                        ),
                    )
                    .with_code("idempotency_key_in_use");
                    e.saved = false;
                    Claim::Reject(e)
                }
                Status::Done {
                    status,
                    body,
                    request_id,
                } => Claim::Replay {
                    status: *status,
                    body: body.clone(),
                    request_id: request_id.clone(),
                },
            };
        }
        self.entries.insert(
            key.to_string(),
            Entry {
                endpoint: endpoint.to_string(),
                fingerprint: fingerprint.to_vec(),
                created: now,
                status: Status::InProgress,
            },
        );
        Claim::Execute
    }

    /// Saves the response of an executed request, or forgets the key when the response must not
    /// be saved (validation failures).
    pub fn finish(&mut self, key: &str, saved: Option<(u16, Bytes, String)>) {
        match saved {
            Some((status, body, request_id)) => {
                if let Some(entry) = self.entries.get_mut(key) {
                    entry.status = Status::Done {
                        status,
                        body,
                        request_id,
                    };
                }
            }
            None => {
                self.entries.remove(key);
            }
        }
    }
}

fn idempotency_error(message: String) -> ApiError {
    let mut e = ApiError::new(400, "idempotency_error", message);
    e.saved = false;
    e
}
