//! The kit's place in the runtime's outbound path: records every request a plugin sends (as
//! the plugin made it) and injects the fault armed for the call in progress.

use crate::faults::Fault;
use omnicrm_host::{InterceptedRequest, Interception, OutboundInterceptor};
use std::sync::Mutex;
use std::time::Instant;

/// One request the plugin sent.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// When.
    pub at: Instant,
    /// `POST`, `GET`, ...
    pub method: String,
    /// The URL without its query.
    pub url: String,
    /// Whether the host let it out (allowed origin and method).
    pub allowed: bool,
    /// The value of the idempotency header, when it had one.
    pub idempotency_key: Option<String>,
    /// The credential headers the plugin set itself (names, never values).
    pub credential_headers: Vec<String>,
    /// The fault injected into it, if any.
    pub fault: Option<Fault>,
}

/// Records requests and injects the armed fault. Calls run one at a time, so one armed fault
/// is enough.
pub struct Wiretap {
    idempotency_header: String,
    credential_header: Option<String>,
    records: Mutex<Vec<Recorded>>,
    armed: Mutex<Option<Fault>>,
}

impl Wiretap {
    /// A wiretap reading the idempotency key from `idempotency_header` (empty: none), and
    /// looking for `Authorization`, `Proxy-Authorization` and `credential_header` (the header
    /// the host authenticates with, when it is another).
    pub fn new(idempotency_header: &str, credential_header: Option<&str>) -> Wiretap {
        Wiretap {
            idempotency_header: idempotency_header.to_ascii_lowercase(),
            credential_header: credential_header.map(str::to_ascii_lowercase),
            records: Mutex::new(Vec::new()),
            armed: Mutex::new(None),
        }
    }

    /// Injects `fault` into every request from now on (`None`: none).
    pub fn arm(&self, fault: Option<Fault>) {
        *lock(&self.armed) = fault;
    }

    /// How many requests were recorded so far: a mark for [`Wiretap::since`].
    pub fn mark(&self) -> usize {
        lock(&self.records).len()
    }

    /// The requests recorded since `mark`.
    pub fn since(&self, mark: usize) -> Vec<Recorded> {
        lock(&self.records).get(mark..).unwrap_or_default().to_vec()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl OutboundInterceptor for Wiretap {
    fn intercept(&self, request: &InterceptedRequest<'_>) -> Interception {
        let header = |name: &str| {
            request
                .headers
                .get(name)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        };
        let mut credential_headers: Vec<String> = ["authorization", "proxy-authorization"]
            .into_iter()
            .chain(self.credential_header.as_deref())
            .filter(|name| request.headers.contains_key(*name))
            .map(str::to_owned)
            .collect();
        credential_headers.dedup();
        let fault = if request.allowed {
            *lock(&self.armed)
        } else {
            None
        };
        let uri = request.uri;
        let url = format!(
            "{}://{}{}",
            uri.scheme_str().unwrap_or(""),
            uri.authority().map(|a| a.as_str()).unwrap_or(""),
            uri.path()
        );
        lock(&self.records).push(Recorded {
            at: Instant::now(),
            method: request.method.to_string(),
            url,
            allowed: request.allowed,
            idempotency_key: if self.idempotency_header.is_empty() {
                None
            } else {
                header(&self.idempotency_header)
            },
            credential_headers,
            fault,
        });
        fault.map_or(Interception::Send, Fault::interception)
    }
}
