//! Webhook endpoints and the delivery of notification batches.
//!
//! Each endpoint has its own HMAC key (generated, or given as hex) and its own delivery task. A
//! task takes what is queued, up to [`MAX_BATCH`] items, signs each item with the endpoint's key,
//! POSTs the batch and retries it with backoff (100 ms doubling to 5 s) until the endpoint answers
//! 2xx with the body `[accepted]` (docs.adyen.com "development-resources/webhooks": "acknowledge
//! ... with [accepted]"; otherwise Adyen retries). Delivery is at least once and in order, unless a
//! test asks for duplicates (`duplicate_next`) or holds deliveries and releases them in reverse
//! order (`hold`, `release(true)`). Every attempt is recorded for tests ([`Hub::deliveries`]).
//! Only `http://` endpoints are delivered to.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{Notify, mpsc};

use crate::error::EmulatorError;
use crate::notifications;

/// The most items in one batch.
pub const MAX_BATCH: usize = 20;

/// How many emitted items [`Hub::emitted`] keeps (the newest).
pub const EMITTED_KEPT: usize = 10_000;

/// A registered endpoint, as the library and the admin route return it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct WebhookEndpoint {
    /// The emulator's id of the endpoint.
    pub id: String,
    /// Where batches are POSTed.
    pub url: String,
    /// The HMAC key, 64 hex digits.
    pub hmac_key: String,
}

/// One delivery attempt of a batch.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// The endpoint's id.
    pub endpoint_id: String,
    /// Attempt number of this batch, from 1.
    pub attempt: u32,
    /// The signed `NotificationRequestItem`s sent.
    pub items: Vec<Value>,
    /// The HTTP status the endpoint answered, if it answered.
    pub status: Option<u16>,
    /// Whether the endpoint accepted the batch (`[accepted]`).
    pub accepted: bool,
    /// Why the attempt failed, when it did.
    pub error: Option<String>,
}

#[derive(Debug, Default)]
struct Controls {
    duplicate_next: u32,
    held: bool,
    release_epoch: u64,
    reverse_on_release: bool,
}

struct EndpointEntry {
    info: WebhookEndpoint,
    queue: mpsc::UnboundedSender<Value>,
}

struct HubInner {
    endpoints: Mutex<Vec<EndpointEntry>>,
    deliveries: Mutex<Vec<Delivery>>,
    emitted: Mutex<VecDeque<Value>>,
    controls: Mutex<Controls>,
    released: Notify,
    runtime: tokio::runtime::Handle,
    client: Client<HttpConnector, Full<Bytes>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The endpoints and their deliveries (cheap to clone).
#[derive(Clone)]
pub struct Hub {
    inner: Arc<HubInner>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("endpoints", &lock(&self.inner.endpoints).len())
            .finish_non_exhaustive()
    }
}

impl Hub {
    /// A hub whose delivery tasks run on `runtime`.
    pub fn new(runtime: tokio::runtime::Handle) -> Hub {
        Hub {
            inner: Arc::new(HubInner {
                endpoints: Mutex::new(Vec::new()),
                deliveries: Mutex::new(Vec::new()),
                emitted: Mutex::new(VecDeque::new()),
                controls: Mutex::new(Controls::default()),
                released: Notify::new(),
                runtime,
                client: Client::builder(TokioExecutor::new()).build_http(),
            }),
        }
    }

    /// Registers an endpoint with the given hex HMAC key, or a new one.
    pub fn add(&self, url: &str, hmac_key: Option<&str>) -> Result<WebhookEndpoint, EmulatorError> {
        if !url.starts_with("http://") || url.parse::<http::Uri>().is_err() {
            return Err(EmulatorError::Webhook(format!(
                "the URL must be an http:// URL: {url:?}"
            )));
        }
        let hmac_key = match hmac_key {
            Some(key) => {
                notifications::decode_key(key)
                    .map_err(|e| EmulatorError::Webhook(e.to_string()))?;
                key.to_string()
            }
            None => notifications::generate_key(),
        };
        let key = notifications::decode_key(&hmac_key)
            .map_err(|e| EmulatorError::Webhook(e.to_string()))?;
        let info = WebhookEndpoint {
            id: format!("WH{}", crate::ids::reference()),
            url: url.to_string(),
            hmac_key,
        };
        let (queue, items) = mpsc::unbounded_channel();
        let task = Dispatcher {
            hub: self.inner.clone(),
            endpoint_id: info.id.clone(),
            url: info.url.clone(),
            key,
            items,
        };
        self.inner.runtime.spawn(task.run());
        lock(&self.inner.endpoints).push(EndpointEntry {
            info: info.clone(),
            queue,
        });
        Ok(info)
    }

    /// Removes an endpoint; its queued items are dropped.
    pub fn remove(&self, id: &str) -> bool {
        let mut endpoints = lock(&self.inner.endpoints);
        let before = endpoints.len();
        endpoints.retain(|e| e.info.id != id);
        before != endpoints.len()
    }

    /// The registered endpoints.
    pub fn endpoints(&self) -> Vec<WebhookEndpoint> {
        lock(&self.inner.endpoints)
            .iter()
            .map(|e| e.info.clone())
            .collect()
    }

    /// Records an unsigned item and queues it for every endpoint.
    pub(crate) fn emit(&self, item: Value) {
        {
            let mut emitted = lock(&self.inner.emitted);
            if emitted.len() == EMITTED_KEPT {
                emitted.pop_front();
            }
            emitted.push_back(item.clone());
        }
        for endpoint in lock(&self.inner.endpoints).iter() {
            // The task lives as long as the runtime; a send error only happens at shutdown.
            let _ = endpoint.queue.send(item.clone());
        }
    }

    /// Every item emitted (unsigned), oldest first, up to the newest [`EMITTED_KEPT`].
    pub fn emitted(&self) -> Vec<Value> {
        lock(&self.inner.emitted).iter().cloned().collect()
    }

    /// Every delivery attempt so far, oldest first, up to the newest [`EMITTED_KEPT`].
    pub fn deliveries(&self) -> Vec<Delivery> {
        lock(&self.inner.deliveries).clone()
    }

    /// Delivers each of the next `count` items twice (the second time in a batch of its own,
    /// after the first was accepted).
    pub fn duplicate_next(&self, count: u32) {
        lock(&self.inner.controls).duplicate_next += count;
    }

    /// Holds deliveries (items queue up) until [`Hub::release`].
    pub fn hold(&self) {
        lock(&self.inner.controls).held = true;
    }

    /// Resumes deliveries; with `reverse`, the items held are delivered newest first, one per
    /// batch.
    pub fn release(&self, reverse: bool) {
        {
            let mut controls = lock(&self.inner.controls);
            controls.held = false;
            controls.release_epoch += 1;
            controls.reverse_on_release = reverse;
        }
        self.inner.released.notify_waiters();
    }
}

struct Dispatcher {
    hub: Arc<HubInner>,
    endpoint_id: String,
    url: String,
    key: Vec<u8>,
    items: mpsc::UnboundedReceiver<Value>,
}

impl Dispatcher {
    async fn run(mut self) {
        let mut pending: VecDeque<Value> = VecDeque::new();
        let mut seen_epoch = 0;
        let mut one_per_batch = 0usize;
        loop {
            if pending.is_empty() {
                match self.items.recv().await {
                    Some(item) => pending.push_back(item),
                    None => return,
                }
            }
            while let Ok(item) = self.items.try_recv() {
                pending.push_back(item);
            }
            let released = self.hub.released.notified();
            let (held, epoch, reverse) = {
                let c = lock(&self.hub.controls);
                (c.held, c.release_epoch, c.reverse_on_release)
            };
            if held {
                tokio::select! {
                    _ = released => {}
                    item = self.items.recv() => match item {
                        Some(item) => pending.push_back(item),
                        None => return,
                    },
                }
                continue;
            }
            if epoch != seen_epoch {
                seen_epoch = epoch;
                if reverse {
                    pending.make_contiguous().reverse();
                    one_per_batch = pending.len();
                }
            }
            let size = if one_per_batch > 0 {
                one_per_batch -= 1;
                1
            } else {
                pending.len().min(MAX_BATCH)
            };
            let batch: Vec<Value> = pending.drain(..size).collect();
            let duplicates = {
                let mut c = lock(&self.hub.controls);
                let n = (c.duplicate_next as usize).min(batch.len());
                c.duplicate_next -= n as u32;
                n
            };
            self.deliver(&batch).await;
            if duplicates > 0 {
                self.deliver(&batch[..duplicates]).await;
            }
        }
    }

    /// Sends one batch until it is accepted.
    async fn deliver(&self, items: &[Value]) {
        let signed: Vec<Value> = items
            .iter()
            .map(|i| notifications::signed(&self.key, i))
            .collect();
        let body =
            Bytes::from(serde_json::to_vec(&notifications::batch(&signed)).unwrap_or_default());
        let mut backoff = Duration::from_millis(100);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (status, accepted, error) = self.attempt(body.clone()).await;
            {
                let mut deliveries = lock(&self.hub.deliveries);
                if deliveries.len() == EMITTED_KEPT {
                    deliveries.remove(0);
                }
                deliveries.push(Delivery {
                    endpoint_id: self.endpoint_id.clone(),
                    attempt,
                    items: signed.clone(),
                    status,
                    accepted,
                    error,
                });
            }
            if accepted {
                return;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    async fn attempt(&self, body: Bytes) -> (Option<u16>, bool, Option<String>) {
        let request = http::Request::post(&self.url)
            .header("content-type", "application/json")
            .header("user-agent", "Adyen HttpClient 1.0")
            .body(Full::new(body));
        let request = match request {
            Ok(r) => r,
            Err(e) => return (None, false, Some(e.to_string())),
        };
        let answer = tokio::time::timeout(Duration::from_secs(10), async {
            let response = self.hub.client.request(request).await?;
            let status = response.status();
            let body = response.into_body().collect().await?.to_bytes();
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>((status, body))
        })
        .await;
        match answer {
            Ok(Ok((status, body))) => {
                let accepted = status.is_success() && body.trim_ascii() == b"[accepted]";
                let error = (!accepted).then(|| {
                    format!(
                        "answered {status} {:?} instead of [accepted]",
                        String::from_utf8_lossy(&body[..body.len().min(100)])
                    )
                });
                (Some(status.as_u16()), accepted, error)
            }
            Ok(Err(e)) => (None, false, Some(e.to_string())),
            Err(_) => (None, false, Some("timed out after 10 s".into())),
        }
    }
}
