//! Webhook endpoints and background delivery of signed events.
//!
//! Each event is POSTed to every endpoint whose `enabled_events` match, with a
//! `Stripe-Signature: t=<clock now>,v1=<hex HMAC-SHA256(secret, "t.body")>` header, and retried
//! with backoff until the endpoint answers 2xx (at least once; deliveries are concurrent, so
//! unordered, as with Stripe).

use std::time::Duration;

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use sha2::Sha256;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::state::new_id;
use emulator_support::Clock;

/// A registered endpoint.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// `we_...`
    pub id: String,
    /// Where events are POSTed.
    pub url: String,
    /// The `whsec_...` signing secret.
    pub secret: String,
    /// Event types delivered; `*` means all.
    pub enabled_events: Vec<String>,
    /// Creation time.
    pub created: i64,
}

impl Endpoint {
    fn wants(&self, kind: &str) -> bool {
        self.enabled_events.iter().any(|e| {
            e == "*" || e == kind || e.strip_suffix('*').is_some_and(|p| kind.starts_with(p))
        })
    }
}

/// One event to deliver to one endpoint.
#[derive(Debug)]
pub struct Delivery {
    url: String,
    secret: String,
    body: Bytes,
}

/// The endpoints and the queue to the delivery task.
#[derive(Debug)]
pub struct WebhookRegistry {
    /// Registered endpoints.
    pub endpoints: Vec<Endpoint>,
    queue: mpsc::UnboundedSender<Delivery>,
}

impl WebhookRegistry {
    /// A registry feeding the given queue.
    pub fn new(queue: mpsc::UnboundedSender<Delivery>) -> Self {
        WebhookRegistry {
            endpoints: Vec::new(),
            queue,
        }
    }

    /// Registers an endpoint and returns it.
    pub fn add(&mut self, url: &str, enabled_events: Vec<String>, created: i64) -> Endpoint {
        let secret = format!("whsec_{}", &new_id("x")[2..]);
        let endpoint = Endpoint {
            id: new_id("we"),
            url: url.to_string(),
            secret,
            enabled_events: if enabled_events.is_empty() {
                vec!["*".to_string()]
            } else {
                enabled_events
            },
            created,
        };
        self.endpoints.push(endpoint.clone());
        endpoint
    }

    /// Removes an endpoint.
    pub fn remove(&mut self, id: &str) -> bool {
        let before = self.endpoints.len();
        self.endpoints.retain(|e| e.id != id);
        before != self.endpoints.len()
    }

    /// How many endpoints want this event type.
    pub fn matching(&self, kind: &str) -> usize {
        self.endpoints.iter().filter(|e| e.wants(kind)).count()
    }

    /// Queues an event for every endpoint that wants it.
    pub fn deliver(&self, kind: &str, event: &Value) {
        let body = Bytes::from(serde_json::to_vec(event).unwrap_or_default());
        for endpoint in self.endpoints.iter().filter(|e| e.wants(kind)) {
            // The receiver lives as long as the emulator; a send error only happens at shutdown.
            let _ = self.queue.send(Delivery {
                url: endpoint.url.clone(),
                secret: endpoint.secret.clone(),
                body: body.clone(),
            });
        }
    }
}

/// The `Stripe-Signature` header value for a payload: `t=<timestamp>,v1=<hex HMAC-SHA256>`.
pub fn signature_header(secret: &str, timestamp: i64, payload: &[u8]) -> String {
    format!("t={timestamp},v1={}", signature(secret, timestamp, payload))
}

/// hex(HMAC-SHA256(secret, "{timestamp}.{payload}")).
pub fn signature(secret: &str, timestamp: i64, payload: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    hex::encode(mac.finalize().into_bytes())
}

/// Runs until the queue closes (or the task is aborted when the emulator is dropped), delivering
/// each queued event concurrently.
pub async fn run_dispatcher(mut queue: mpsc::UnboundedReceiver<Delivery>, clock: Clock) {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut in_flight = JoinSet::new();
    loop {
        tokio::select! {
            next = queue.recv() => match next {
                Some(delivery) => {
                    in_flight.spawn(deliver(client.clone(), clock.clone(), delivery));
                }
                None => break,
            },
            Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
        }
    }
    while in_flight.join_next().await.is_some() {}
}

async fn deliver(
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    clock: Clock,
    delivery: Delivery,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let t = clock.now();
        let request = http::Request::post(&delivery.url)
            .header("content-type", "application/json; charset=utf-8")
            .header(
                "user-agent",
                "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            )
            .header(
                "stripe-signature",
                signature_header(&delivery.secret, t, &delivery.body),
            )
            .body(Full::new(delivery.body.clone()));
        let Ok(request) = request else {
            tracing::warn!(url = %delivery.url, "webhook endpoint URL is not valid; giving up");
            return;
        };
        match tokio::time::timeout(Duration::from_secs(10), client.request(request)).await {
            Ok(Ok(response)) if response.status().is_success() => return,
            Ok(Ok(response)) => {
                tracing::debug!(url = %delivery.url, status = %response.status(), "webhook refused; will retry")
            }
            Ok(Err(error)) => {
                tracing::debug!(url = %delivery.url, %error, "webhook delivery failed; will retry")
            }
            Err(_) => {
                tracing::debug!(url = %delivery.url, "webhook delivery timed out; will retry")
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}
