//! The Checkout API client: JSON requests under the pinned API version, an `Idempotency-Key` on
//! every POST, retries with the same key, and never past the call's deadline.
//!
//! Adyen's own libraries (adyen-node-api-library, adyen-python-api-library) send a request once
//! and leave retries to the integrator; Adyen's guidance is what this client follows:
//! - "in the case of a timeout error, it is possible to safely retry sending the same API payment
//!   call multiple times with the guarantee that the payment detail will only be charged once"
//!   (docs.adyen.com "development-resources/api-idempotency"): transport failures are retried,
//!   with the same key;
//! - an error answer with `Transient-Error: true` "can be retried later with the same idempotency
//!   key" (the same page: a key whose first request is still in progress, `704`); one with
//!   `Transient-Error: false` is final;
//! - 500, 502, 503 and 504 are retried: the key makes a repeat harmless;
//! - everything else (validation, refusals, 429) is answered at once: the host paces calls and
//!   backs off on `rate-limited` itself.
//!
//! Backoff is exponential with jitter; no attempt starts without time to finish before the
//! call's deadline.

use core::time::Duration;

use omnicrm_gateway_sdk::http::{self, Method, Request, Response};
use omnicrm_gateway_sdk::types::GatewayError;
use omnicrm_gateway_sdk::{log, time};
use serde::de::DeserializeOwned;

use crate::config::Config;
use crate::errors::{self, Target, failure};
use crate::wire::{self, ServiceError};

const USER_AGENT: &str = concat!("omnicrm-adyen-gateway/", env!("CARGO_PKG_VERSION"));

/// Time kept in reserve before the call's deadline, to map the outcome and return.
const DEADLINE_MARGIN: Duration = Duration::from_millis(250);
/// Don't start an attempt with less time than this left.
const MIN_ATTEMPT: Duration = Duration::from_millis(100);

/// A request that failed after its retries.
#[derive(Debug)]
pub struct Failed {
    /// The contract's error.
    pub error: GatewayError,
    /// Whether an attempt may have been processed by Adyen.
    pub maybe_processed: bool,
    /// Adyen's error body, when the last attempt was answered.
    pub service: Option<ServiceError>,
}

/// A client configured by the plugin's settings.
pub struct Client<'a> {
    config: &'a Config,
}

impl<'a> Client<'a> {
    /// A client of `config`.
    pub fn new(config: &'a Config) -> Self {
        Client { config }
    }

    /// `POST path` with a JSON body and an idempotency key; the answer decoded as `T`.
    pub fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: Vec<u8>,
        key: &str,
        target: Target<'_>,
    ) -> Result<T, GatewayError> {
        let response = self
            .call(Method::Post, path, body, Some(key), target)
            .map_err(|f| f.error)?;
        decode(Method::Post, path, &response)
    }

    /// `GET path` (query included); the answer decoded as `T`.
    pub fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        target: Target<'_>,
    ) -> Result<T, GatewayError> {
        let response = self
            .call(Method::Get, path, Vec::new(), None, target)
            .map_err(|f| f.error)?;
        decode(Method::Get, path, &response)
    }

    /// `DELETE path` (query included). Adyen keeps no idempotency for DELETE (it is idempotent
    /// by definition), so its failure is returned whole: a repeat of a deletion that an earlier
    /// attempt may have done is answered "not found".
    pub fn delete(&self, path: &str, target: Target<'_>) -> Result<(), Failed> {
        self.call(Method::Delete, path, Vec::new(), None, target)
            .map(drop)
    }

    fn call(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
        key: Option<&str>,
        target: Target<'_>,
    ) -> Result<Response, Failed> {
        let mut request = Request::new(method, format!("{}{path}", self.config.api))
            .header("accept", "application/json")
            .header("user-agent", USER_AGENT);
        if method == Method::Post {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }

        let mut retries = 0;
        // Whether an attempt may have been processed by Adyen: then a later "not sent" or
        // "in use" answer doesn't mean that nothing happened.
        let mut maybe_processed = false;
        loop {
            let left = time::remaining().saturating_sub(DEADLINE_MARGIN);
            if left < MIN_ATTEMPT {
                let message = "no time left before the call's deadline";
                return Err(Failed {
                    error: if maybe_processed {
                        GatewayError::OutcomeUnknown(failure(message, None))
                    } else {
                        GatewayError::NotAttempted(failure(message, None))
                    },
                    maybe_processed,
                    service: None,
                });
            }
            let result = http::send(&request, self.config.timeout.min(left));
            maybe_processed |= method != Method::Get && may_have_been_processed(&result);
            if should_retry(&result) && retries < self.config.max_retries {
                let delay = self.backoff(retries + 1);
                let left = time::remaining().saturating_sub(DEADLINE_MARGIN);
                if delay.saturating_add(MIN_ATTEMPT) <= left {
                    retries += 1;
                    log!(
                        warn,
                        "{} {path}: {}; retry {retries} in {} ms with the same key",
                        method.as_str(),
                        describe(&result),
                        delay.as_millis()
                    );
                    time::sleep(delay);
                    continue;
                }
            }
            return match result {
                Ok(response) if response.is_success() => Ok(response),
                Ok(response) => {
                    let service = ServiceError::parse(&response.body);
                    log!(
                        info,
                        "{} {path}: HTTP {} {} (pspReference {})",
                        method.as_str(),
                        response.status,
                        service.code(),
                        errors::request_id(&response, &service)
                            .as_deref()
                            .unwrap_or("-")
                    );
                    let error = errors::from_response(method, &response, target);
                    Err(Failed {
                        error: if maybe_processed {
                            unknown_after(error)
                        } else {
                            error
                        },
                        maybe_processed,
                        service: Some(service),
                    })
                }
                Err(e) => {
                    log!(warn, "{} {path}: {e}", method.as_str());
                    let error = errors::from_transport(method, &e);
                    Err(Failed {
                        error: if maybe_processed {
                            unknown_after(error)
                        } else {
                            error
                        },
                        maybe_processed,
                        service: None,
                    })
                }
            };
        }
    }

    /// The wait before retry `n`, with the host's randomness.
    fn backoff(&self, n: u32) -> Duration {
        let jitter = 500 + u32::try_from(time::random_u64() % 501).unwrap_or(500);
        backoff(
            self.config.backoff_initial,
            self.config.backoff_max,
            n,
            jitter,
        )
    }
}

/// Decodes a 2xx answer; one that doesn't decode is [`errors::unusable`].
fn decode<T: DeserializeOwned>(
    method: Method,
    path: &str,
    response: &Response,
) -> Result<T, GatewayError> {
    wire::decode(&response.body).map_err(|e| undecodable(method, path, response, &e))
}

// Apart from the generic `decode`, so that it is compiled once.
fn undecodable(
    method: Method,
    path: &str,
    response: &Response,
    error: &wire::DecodeError,
) -> GatewayError {
    let request_id = response.header("pspreference");
    log!(
        warn,
        "{} {path}: unusable answer (pspReference {}): {error}",
        method.as_str(),
        request_id.unwrap_or("-")
    );
    errors::unusable(method, error.to_string(), request_id.map(str::to_owned))
}

/// `initial * 2^(n-1)`, capped at `max`, times `jitter` per mille (500 to 1000), never below
/// `initial`.
fn backoff(initial: Duration, max: Duration, n: u32, jitter: u32) -> Duration {
    let base = initial
        .saturating_mul(1 << n.saturating_sub(1).min(16))
        .min(max);
    (base.saturating_mul(jitter) / 1000).max(initial)
}

/// Whether Adyen may have acted on an attempt: no (complete) answer after the request went out,
/// or a server error (a 5xx to a POST is not known to be harmless).
fn may_have_been_processed(result: &Result<Response, http::Error>) -> bool {
    match result {
        Ok(response) => response.status >= 500,
        Err(e) => !e.is_not_sent(),
    }
}

/// The `Transient-Error` header: `Some(true)` when the same request may succeed later with the
/// same key, `Some(false)` when it will not.
fn transient(response: &Response) -> Option<bool> {
    match response.header("transient-error")?.trim() {
        v if v.eq_ignore_ascii_case("true") => Some(true),
        v if v.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// See the module documentation.
fn should_retry(result: &Result<Response, http::Error>) -> bool {
    match result {
        Err(_) => true,
        Ok(response) => match transient(response) {
            Some(retry) => retry,
            None => matches!(response.status, 500 | 502 | 503 | 504),
        },
    }
}

/// The final error of a request an earlier attempt of which may have been processed: answers
/// that say "nothing happened" only speak for the last attempt.
fn unknown_after(error: GatewayError) -> GatewayError {
    let (message, request_id) = match error {
        GatewayError::NotAttempted(f) | GatewayError::IdempotencyConflict(f) => {
            (f.message, f.request_id)
        }
        GatewayError::RateLimited(r) => (r.message, r.request_id),
        other => return other,
    };
    GatewayError::OutcomeUnknown(failure(
        format!("an earlier attempt may have been processed; the last one failed: {message}"),
        request_id,
    ))
}

fn describe(result: &Result<Response, http::Error>) -> String {
    match result {
        Ok(r) => format!("HTTP {}", r.status),
        Err(e) => e.to_string(),
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters kept).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, headers: &[(&str, &str)]) -> Response {
        Response {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
                .collect(),
            body: Vec::new(),
        }
    }

    #[test]
    fn retries_as_adyen_advises() {
        let retry = |status, headers: &[(&str, &str)]| should_retry(&Ok(response(status, headers)));
        for status in [500, 502, 503, 504] {
            assert!(retry(status, &[]), "{status}");
        }
        assert!(retry(409, &[("transient-error", "true")]));
        assert!(retry(422, &[("transient-error", "TRUE")]));
        assert!(!retry(503, &[("transient-error", "false")]));
        assert!(!retry(422, &[("transient-error", "false")]));
        for status in [400, 401, 403, 404, 409, 422, 429, 501] {
            assert!(!retry(status, &[]), "{status}");
        }
        for error in [
            http::Error::NotSent {
                reason: "refused".into(),
                timed_out: false,
            },
            http::Error::NoResponse {
                reason: "reset".into(),
                timed_out: true,
            },
        ] {
            assert!(should_retry(&Err(error)));
        }
    }

    #[test]
    fn knows_which_attempts_may_have_been_processed() {
        assert!(may_have_been_processed(&Ok(response(500, &[]))));
        assert!(may_have_been_processed(&Ok(response(
            503,
            &[("transient-error", "true")]
        ))));
        assert!(!may_have_been_processed(&Ok(response(429, &[]))));
        assert!(!may_have_been_processed(&Ok(response(
            409,
            &[("transient-error", "true")]
        ))));
        assert!(!may_have_been_processed(&Err(http::Error::NotSent {
            reason: "refused".into(),
            timed_out: false
        })));
        assert!(may_have_been_processed(&Err(http::Error::NoResponse {
            reason: "reset".into(),
            timed_out: false
        })));
        assert!(matches!(
            unknown_after(GatewayError::NotAttempted(failure("refused", None))),
            GatewayError::OutcomeUnknown(f) if f.message.contains("refused")
        ));
        assert!(matches!(
            unknown_after(GatewayError::IdempotencyConflict(failure("in use", Some("R".into())))),
            GatewayError::OutcomeUnknown(f) if f.request_id.as_deref() == Some("R")
        ));
        assert!(matches!(
            unknown_after(GatewayError::invalid_input("amount", "x")),
            GatewayError::InvalidInput(_)
        ));
    }

    #[test]
    fn backoff_grows_caps_and_jitters() {
        let ms = Duration::from_millis;
        assert_eq!(backoff(ms(500), ms(5_000), 1, 1000), ms(500));
        assert_eq!(
            backoff(ms(500), ms(5_000), 1, 500),
            ms(500),
            "never below initial"
        );
        assert_eq!(backoff(ms(500), ms(5_000), 3, 1000), ms(2_000));
        assert_eq!(backoff(ms(500), ms(5_000), 3, 500), ms(1_000));
        assert_eq!(backoff(ms(500), ms(5_000), 40, 1000), ms(5_000));
        let huge = Duration::from_millis(u64::MAX);
        assert_eq!(
            backoff(huge, huge, 40, 1000),
            huge.saturating_mul(1000) / 1000
        );
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(encode("CRM-42_a.b~"), "CRM-42_a.b~");
        assert_eq!(encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }
}
