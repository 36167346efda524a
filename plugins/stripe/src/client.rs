//! The Stripe API client: one pinned API version, settings from the host's configuration,
//! retries as Stripe's own libraries do them, always with the same idempotency key, and never past
//! the call's deadline.

use core::time::Duration;

use omnicrm_gateway_sdk::http::{self, Method, Request, Response};
use omnicrm_gateway_sdk::omnicrm::payments::types::GatewayError;
use omnicrm_gateway_sdk::{log, settings, time};

use crate::errors::{self, Target, failure};
use crate::form::Form;
use crate::json::Json;

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

    /// `GET path?query`.
    pub fn get(&self, path: &str, query: &Form, target: Target<'_>) -> Result<Json, GatewayError> {
        self.call(Method::Get, path, query, None, target)
    }

    /// `POST path` with a form body and an idempotency key.
    pub fn post(
        &self,
        path: &str,
        form: &Form,
        idempotency_key: Option<&str>,
        target: Target<'_>,
    ) -> Result<Json, GatewayError> {
        self.call(Method::Post, path, form, idempotency_key, target)
    }

    fn call(
        &self,
        method: Method,
        path: &str,
        params: &Form,
        idempotency_key: Option<&str>,
        target: Target<'_>,
    ) -> Result<Json, GatewayError> {
        let mut request = Request::new(method, format!("{}{path}", self.base))
            .header("stripe-version", STRIPE_VERSION)
            .header("user-agent", USER_AGENT)
            .header("accept", "application/json");
        if method == Method::Get {
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
        loop {
            let left = time::remaining().saturating_sub(DEADLINE_MARGIN);
            if left < MIN_ATTEMPT {
                let message = "no time left before the call's deadline";
                // After a failed attempt of a POST, that attempt may have been processed.
                return Err(if retries > 0 && method == Method::Post {
                    GatewayError::OutcomeUnknown(failure(message, None))
                } else {
                    GatewayError::NotAttempted(failure(message, None))
                });
            }
            let result = http::send(&request, self.timeout.min(left));
            let (retry, retry_after) = should_retry(method, &result);
            if retry && retries < self.max_retries {
                let delay = self.backoff(retries + 1, retry_after);
                let left = time::remaining().saturating_sub(DEADLINE_MARGIN);
                if delay + MIN_ATTEMPT <= left {
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
            return match result {
                Ok(response) if response.is_success() => Json::parse(&response.body).map_err(|e| {
                    let message = format!("unreadable Stripe response: {e}");
                    let request_id = response.header("request-id").map(str::to_owned);
                    if method == Method::Post {
                        GatewayError::OutcomeUnknown(failure(message, request_id))
                    } else {
                        GatewayError::NotAttempted(failure(message, request_id))
                    }
                }),
                Ok(response) => {
                    let error = errors::from_response(method, &response, target);
                    log!(
                        info,
                        "{} {path}: HTTP {} (request-id {})",
                        method.as_str(),
                        response.status,
                        response.header("request-id").unwrap_or("-")
                    );
                    Err(error)
                }
                Err(e) => {
                    log!(warn, "{} {path}: {e}", method.as_str());
                    Err(errors::from_transport(method, &e))
                }
            };
        }
    }

    /// `initial * 2^(n-1)`, capped, jittered into `[0.5, 1]x`, never below `initial`; at least
    /// `Retry-After` when the server asks for a wait no longer than a minute.
    fn backoff(&self, n: u32, retry_after: Option<Duration>) -> Duration {
        let base = self
            .backoff_initial
            .saturating_mul(1 << (n - 1).min(16))
            .min(self.backoff_max);
        let jitter = 500 + time::random_u64() % 501; // per mille
        let delay = (base * u32::try_from(jitter).unwrap_or(1000) / 1000).max(self.backoff_initial);
        match retry_after {
            Some(wait) if wait <= MAX_RETRY_AFTER => delay.max(wait),
            _ => delay,
        }
    }
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
/// `lock_timeout`, 503, 500 only for non-POST; connection failures and timeouts. Returns the
/// decision and the `Retry-After` the response asks for.
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
        429 => {
            let body = Json::parse(&response.body).unwrap_or(Json::Null);
            body.path("error.code").str() == Some("lock_timeout")
        }
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
