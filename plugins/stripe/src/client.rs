//! The Stripe API client: one pinned API version, settings from the host's configuration,
//! retries as Stripe's own libraries do them, always with the same idempotency key, and never past
//! the call's deadline.

use core::time::Duration;

use omnicrm_gateway_sdk::http::{self, Method, Request, Response};
use omnicrm_gateway_sdk::types::GatewayError;
use omnicrm_gateway_sdk::{log, settings, time};
use serde::de::DeserializeOwned;

use crate::errors::{self, Target, failure};
use crate::form::Form;
use crate::wire::{self, ErrorBody, HasId, List};

/// The Stripe API version every request pins (2025-03-31.basil: invoices no longer carry
/// `payment_intent`/`charge`/`paid`, payment intents no longer carry `invoice`).
pub const STRIPE_VERSION: &str = "2025-03-31.basil";
const USER_AGENT: &str = concat!("omnicrm-stripe-gateway/", env!("CARGO_PKG_VERSION"));

/// Time kept in reserve before the call's deadline, to map the outcome and return.
const DEADLINE_MARGIN: Duration = Duration::from_millis(250);
/// Don't start an attempt with less time than this left.
const MIN_ATTEMPT: Duration = Duration::from_millis(100);
/// Longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// A configured client. Settings (all optional): `base-url` (default `https://api.stripe.com`),
/// `timeout-ms` per attempt (default 30000), `max-retries` (default 2), `retry-backoff-ms` initial
/// backoff (default 500), `retry-backoff-max-ms` (default 5000) and `page-size` of the lists
/// walked page by page (default 100).
pub struct Client {
    base: String,
    timeout: Duration,
    max_retries: u32,
    backoff_initial: Duration,
    backoff_max: Duration,
    /// `limit` of the list requests that walk every page (`page-size`, 1 to 100, default 100).
    pub page_size: u32,
}

fn setting<T: core::str::FromStr>(key: &str, default: T) -> Result<T, GatewayError> {
    settings::get_or(key, default)
        .map_err(|e| GatewayError::Configuration(failure(e.to_string(), None)))
}

impl Client {
    /// The client configured by the plugin's settings; `configuration` when one doesn't parse.
    pub fn from_config() -> Result<Client, GatewayError> {
        let base = settings::get("base-url")
            .filter(|b| !b.is_empty())
            .unwrap_or_else(|| "https://api.stripe.com".into());
        let base = base.trim_end_matches('/').to_owned();
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(GatewayError::Configuration(failure(
                "setting `base-url` must be an http(s) URL",
                None,
            )));
        }
        Ok(Client {
            base,
            timeout: Duration::from_millis(setting("timeout-ms", 30_000u64)?),
            max_retries: setting("max-retries", 2u32)?,
            backoff_initial: Duration::from_millis(setting("retry-backoff-ms", 500u64)?),
            backoff_max: Duration::from_millis(setting("retry-backoff-max-ms", 5_000u64)?),
            page_size: setting("page-size", 100u32)?.clamp(1, 100),
        })
    }

    /// `GET path?query`, its answer decoded as `T`.
    pub fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &Form,
        target: Target<'_>,
    ) -> Result<T, GatewayError> {
        let response = self.call(Method::Get, path, query, None, target)?;
        decode(Method::Get, path, &response)
    }

    /// `POST path` with a form body and the step's idempotency key, its answer decoded as `T`.
    /// Without a key (an update that is harmless to repeat, like setting the default card), a
    /// random key is made for this call, so that its own retries are still applied at most once,
    /// as Stripe's libraries do.
    pub fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        form: &Form,
        idempotency_key: Option<&str>,
        target: Target<'_>,
    ) -> Result<T, GatewayError> {
        let generated;
        let key = match idempotency_key {
            Some(key) => key,
            None => {
                generated = format!(
                    "omnicrm-{:016x}{:016x}",
                    time::random_u64(),
                    time::random_u64()
                );
                &generated
            }
        };
        let response = self.call(Method::Post, path, form, Some(key), target)?;
        decode(Method::Post, path, &response)
    }

    /// `DELETE path`, its answer decoded as `T`. Stripe keeps no idempotency key for deletes
    /// (repeating one answers `not-found` once the object is gone): callers make the repeat safe
    /// themselves.
    pub fn delete<T: DeserializeOwned>(
        &self,
        path: &str,
        target: Target<'_>,
    ) -> Result<T, GatewayError> {
        let response = self.call(Method::Delete, path, &Form::new(), None, target)?;
        decode(Method::Delete, path, &response)
    }

    /// Calls `each` for every object of a list, page after page (`limit` is `page-size`), starting
    /// after the object `after` when given.
    pub fn walk<T: DeserializeOwned + HasId>(
        &self,
        path: &str,
        query: &Form,
        after: Option<String>,
        target: Target<'_>,
        mut each: impl FnMut(T),
    ) -> Result<(), GatewayError> {
        let mut cursor = after;
        loop {
            let mut page_query = query.clone();
            page_query
                .add("limit", self.page_size)
                .opt("starting_after", cursor.as_ref());
            let page: List<T> = self.get(path, &page_query, target)?;
            cursor = page.data.last().map(|x| x.id().to_owned());
            page.data.into_iter().for_each(&mut each);
            if !page.has_more || cursor.is_none() {
                return Ok(());
            }
        }
    }

    fn call(
        &self,
        method: Method,
        path: &str,
        params: &Form,
        idempotency_key: Option<&str>,
        target: Target<'_>,
    ) -> Result<Response, GatewayError> {
        let mut request = Request::new(method, format!("{}{path}", self.base))
            .header("stripe-version", STRIPE_VERSION)
            .header("user-agent", USER_AGENT)
            .header("accept", "application/json");
        if matches!(method, Method::Get | Method::Delete) {
            if !params.is_empty() {
                request.url.push('?');
                request.url.push_str(&params.encode());
            }
        } else {
            request = request
                .header("content-type", "application/x-www-form-urlencoded")
                .body(params.encode());
        }
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }

        let mut retries = 0;
        // Whether an attempt of this call may have been processed by Stripe: then a later "not
        // sent", rate limit or key-in-use answer doesn't mean that nothing happened.
        let mut maybe_processed = false;
        loop {
            let left = time::remaining().saturating_sub(DEADLINE_MARGIN);
            if left < MIN_ATTEMPT {
                let message = "no time left before the call's deadline";
                return Err(if maybe_processed {
                    GatewayError::OutcomeUnknown(failure(message, None))
                } else {
                    GatewayError::NotAttempted(failure(message, None))
                });
            }
            let result = http::send(&request, self.timeout.min(left));
            maybe_processed |= method != Method::Get && may_have_been_processed(&result);
            let (retry, retry_after) = should_retry(method, &result);
            if retry && retries < self.max_retries {
                let delay = self.backoff(retries + 1, retry_after);
                let left = time::remaining().saturating_sub(DEADLINE_MARGIN);
                if delay.saturating_add(MIN_ATTEMPT) <= left {
                    retries += 1;
                    log!(
                        warn,
                        "{} {path}: {} (request-id {}); retry {retries} in {} ms",
                        method.as_str(),
                        describe(&result),
                        request_id(&result).unwrap_or("-"),
                        delay.as_millis()
                    );
                    time::sleep(delay);
                    continue;
                }
            }
            let outcome = match result {
                Ok(response) if response.is_success() => Ok(response),
                Ok(response) => {
                    log!(
                        info,
                        "{} {path}: HTTP {} (request-id {})",
                        method.as_str(),
                        response.status,
                        response.header("request-id").unwrap_or("-")
                    );
                    Err(errors::from_response(method, &response, target))
                }
                Err(e) => {
                    log!(warn, "{} {path}: {e}", method.as_str());
                    Err(errors::from_transport(method, &e))
                }
            };
            return outcome.map_err(|e| if maybe_processed { unknown_after(e) } else { e });
        }
    }

    /// The wait before retry `n` (see [`backoff`]), with the host's randomness.
    fn backoff(&self, n: u32, retry_after: Option<Duration>) -> Duration {
        let jitter = 500 + u32::try_from(time::random_u64() % 501).unwrap_or(500);
        backoff(
            self.backoff_initial,
            self.backoff_max,
            n,
            retry_after,
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
    let request_id = response.header("request-id");
    let message = errors::redact(&error.to_string());
    log!(
        warn,
        "{} {path}: unusable answer (request-id {}): {message}",
        method.as_str(),
        request_id.unwrap_or("-")
    );
    errors::unusable(method, message, request_id.map(str::to_owned))
}

/// `initial * 2^(n-1)`, capped at `max`, times `jitter` per mille (500 to 1000), never below
/// `initial`; at least `Retry-After` when the server asks for a wait no longer than a minute.
fn backoff(
    initial: Duration,
    max: Duration,
    n: u32,
    retry_after: Option<Duration>,
    jitter: u32,
) -> Duration {
    let base = initial
        .saturating_mul(1 << n.saturating_sub(1).min(16))
        .min(max);
    let delay = (base.saturating_mul(jitter) / 1000).max(initial);
    match retry_after {
        Some(wait) if wait <= MAX_RETRY_AFTER => delay.max(wait),
        _ => delay,
    }
}

/// Whether Stripe may have acted on an attempt: no (complete) response after the request went
/// out, or a server error (a 5xx to a POST is not known to be harmless).
fn may_have_been_processed(result: &Result<Response, http::Error>) -> bool {
    match result {
        Ok(response) => response.status >= 500,
        Err(e) => !e.is_not_sent(),
    }
}

/// The final error of a POST an earlier attempt of which may have been processed: answers that
/// say "nothing happened" only speak for the last attempt.
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

fn request_id(result: &Result<Response, http::Error>) -> Option<&str> {
    result.as_ref().ok().and_then(|r| r.header("request-id"))
}

fn describe(result: &Result<Response, http::Error>) -> String {
    match result {
        Ok(r) => format!("HTTP {}", r.status),
        Err(e) => e.to_string(),
    }
}

/// Stripe's libraries' rules: `Stripe-Should-Retry` first; then 409, 429 only for
/// `lock_timeout`, 503, 500 only for non-POST; connection failures and timeouts (every POST
/// carries an idempotency key, so a retry of a request that did reach Stripe is applied at most
/// once). Returns the decision and the `Retry-After` the response asks for.
fn should_retry(
    method: Method,
    result: &Result<Response, http::Error>,
) -> (bool, Option<Duration>) {
    let response = match result {
        Ok(r) => r,
        Err(_) => return (true, None),
    };
    let retry_after = response
        .header("retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    match response.header("stripe-should-retry") {
        Some("true") => return (true, retry_after),
        Some("false") => return (false, None),
        _ => {}
    }
    let retry = match response.status {
        409 | 503 => true,
        429 => ErrorBody::parse(&response.body).error.code.as_deref() == Some("lock_timeout"),
        500 => method != Method::Post,
        _ => false,
    };
    (retry, retry_after)
}

/// Checks a caller's idempotency key (1 to 200 characters of `[A-Za-z0-9._:-]`) and derives the
/// key of one step: `<key>:<step>`. Stripe keys belong to one endpoint, so every request of an
/// operation gets its own.
pub fn step_key(key: &str, step: &str) -> Result<String, GatewayError> {
    let valid = !key.is_empty()
        && key.len() <= 200
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    if !valid {
        return Err(errors::invalid(
            "idempotency-key",
            "must be 1 to 200 characters of A-Z a-z 0-9 . _ : -",
        ));
    }
    Ok(format!("{key}:{step}"))
}

/// Checks an object id before it goes into a URL path.
pub fn check_id<'a>(kind: &'static str, field: &str, id: &'a str) -> Result<&'a str, GatewayError> {
    if id.is_empty()
        || id.len() > 255
        || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(errors::invalid(
            field,
            format!("not a valid {kind} identifier"),
        ));
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn retries_as_stripe_libraries_do() {
        let retry = |method, status, headers: &[(&str, &str)], body: &str| {
            should_retry(method, &Ok(response(status, headers, body))).0
        };
        assert!(retry(Method::Post, 409, &[], ""));
        assert!(retry(Method::Post, 503, &[], ""));
        assert!(!retry(Method::Post, 500, &[], ""));
        assert!(retry(Method::Get, 500, &[], ""));
        assert!(!retry(Method::Post, 502, &[], ""));
        assert!(!retry(
            Method::Post,
            429,
            &[],
            r#"{"error":{"code":"rate_limit"}}"#
        ));
        assert!(retry(
            Method::Post,
            429,
            &[],
            r#"{"error":{"code":"lock_timeout"}}"#
        ));
        assert!(!retry(
            Method::Post,
            503,
            &[("stripe-should-retry", "false")],
            ""
        ));
        assert!(retry(
            Method::Post,
            400,
            &[("stripe-should-retry", "true")],
            ""
        ));
        assert!(!retry(Method::Post, 402, &[], ""));
        let (_, after) = should_retry(
            Method::Post,
            &Ok(response(503, &[("retry-after", " 3 ")], "")),
        );
        assert_eq!(after, Some(Duration::from_secs(3)));
        for error in [
            http::Error::NotSent {
                reason: "refused".into(),
                timed_out: false,
            },
            http::Error::NoResponse {
                reason: "dropped".into(),
                timed_out: false,
            },
        ] {
            assert!(should_retry(Method::Post, &Err(error)).0);
        }
    }

    #[test]
    fn knows_which_attempts_may_have_been_processed() {
        let not_sent = http::Error::NotSent {
            reason: "refused".into(),
            timed_out: false,
        };
        let dropped = http::Error::NoResponse {
            reason: "dropped".into(),
            timed_out: false,
        };
        assert!(!may_have_been_processed(&Err(not_sent)));
        assert!(may_have_been_processed(&Err(dropped)));
        assert!(may_have_been_processed(&Ok(response(503, &[], ""))));
        assert!(!may_have_been_processed(&Ok(response(429, &[], ""))));
        assert!(!may_have_been_processed(&Ok(response(409, &[], ""))));

        // After such an attempt, "nothing happened" answers become "outcome unknown".
        let not_attempted = GatewayError::NotAttempted(failure("refused", None));
        assert!(matches!(
            unknown_after(not_attempted),
            GatewayError::OutcomeUnknown(_)
        ));
        let in_use = GatewayError::IdempotencyConflict(failure("in use", Some("req_1".into())));
        assert!(matches!(
            unknown_after(in_use),
            GatewayError::OutcomeUnknown(f) if f.request_id.as_deref() == Some("req_1")
        ));
        let declined = errors::invalid("amount", "too much");
        assert!(matches!(
            unknown_after(declined),
            GatewayError::InvalidInput(_)
        ));
    }

    #[test]
    fn backoff_grows_caps_jitters_and_honours_retry_after() {
        let ms = Duration::from_millis;
        let (initial, max) = (ms(500), ms(5_000));
        assert_eq!(backoff(initial, max, 1, None, 1000), ms(500));
        assert_eq!(
            backoff(initial, max, 1, None, 500),
            ms(500),
            "never below initial"
        );
        assert_eq!(backoff(initial, max, 3, None, 1000), ms(2_000));
        assert_eq!(backoff(initial, max, 3, None, 500), ms(1_000));
        assert_eq!(backoff(initial, max, 30, None, 1000), ms(5_000));
        assert_eq!(backoff(initial, max, 1, Some(ms(3_000)), 1000), ms(3_000));
        assert_eq!(
            backoff(initial, max, 1, Some(Duration::from_secs(3_600)), 1000),
            ms(500)
        );
        // Absurd settings saturate instead of overflowing.
        let huge = Duration::from_millis(u64::MAX);
        assert_eq!(
            backoff(huge, huge, 40, None, 1000),
            huge.saturating_mul(1000) / 1000
        );
        assert_eq!(backoff(ms(0), ms(0), 0, None, 500), ms(0));
    }

    #[test]
    fn step_keys_and_ids_are_checked() {
        assert_eq!(step_key("order-1", "capture").unwrap(), "order-1:capture");
        assert!(step_key("", "x").is_err());
        assert!(step_key("bad key", "x").is_err());
        assert!(step_key(&"k".repeat(201), "x").is_err());
        assert!(
            step_key(&"k".repeat(200), "mark_uncollectible")
                .unwrap()
                .len()
                <= 255
        );
        assert!(check_id("payment", "payment", "pi_123").is_ok());
        for bad in ["", "pi_1/../x", "pi 1", "pi_1?x=1", "pi_é"] {
            assert!(check_id("payment", "payment", bad).is_err(), "{bad}");
        }
    }
}
