//! A minimal Adyen Checkout client over real HTTP for the emulator's tests, a webhook receiver,
//! and an HMAC check written from Adyen's documentation (independent of the emulator's code).
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use adyen_emulator::{Emulator, EmulatorOptions};
use base64::Engine;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::{HeaderMap, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use tokio::sync::mpsc;

pub const KEY: &str = "AQEyhmfxTestKeyForTheEmulator";
pub const MERCHANT: &str = "OmniCRMTest";
pub const RETURN_URL: &str = "http://shop.example/return";

/// One answer.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    #[track_caller]
    pub fn ok(self) -> Value {
        assert!(
            self.status == 200 || self.status == 201,
            "unexpected answer {}: {}",
            self.status,
            self.text
        );
        self.json
    }
    #[track_caller]
    pub fn error(&self, status: u16, code: &str) -> &Value {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(self.json["status"], status, "{}", self.text);
        assert_eq!(self.json["errorCode"], code, "{}", self.text);
        &self.json
    }
}

/// A client bound to one emulator.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

pub async fn start() -> (Emulator, Api) {
    start_with(EmulatorOptions::default()).await
}

pub async fn start_with(options: EmulatorOptions) -> (Emulator, Api) {
    let emulator = Emulator::start(options).await.expect("emulator starts");
    let api = Api::new(emulator.base_url());
    (emulator, api)
}

impl Api {
    pub fn new(base: &str) -> Api {
        Api {
            base: base.to_string(),
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// Sends a request; `Err` when the connection failed or closed without an answer.
    pub async fn try_send(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
        headers: &[(&str, &str)],
    ) -> Result<Resp, String> {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{}", self.base, path)
        };
        let mut builder = Request::builder().method(method).uri(url);
        let mut has_key = false;
        for (k, v) in headers {
            has_key |= k.eq_ignore_ascii_case("x-api-key");
            builder = builder.header(*k, *v);
        }
        if !has_key {
            builder = builder.header("x-api-key", KEY);
        }
        let request = builder
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| e.to_string())?;
        let response = tokio::time::timeout(Duration::from_secs(10), self.client.request(request))
            .await
            .map_err(|_| "timeout".to_string())?
            .map_err(|e| format!("{e:?}"))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(Resp {
            status,
            headers,
            text,
            json,
        })
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut all = vec![("content-type", "application/json")];
        all.extend_from_slice(headers);
        self.try_send(method, path, body.map(|b| Bytes::from(b.to_string())), &all)
            .await
            .expect("an answer")
    }

    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        self.send(Method::POST, &format!("/v71{path}"), Some(body), &[])
            .await
    }

    pub async fn post_key(&self, path: &str, body: &Value, key: &str) -> Resp {
        self.send(
            Method::POST,
            &format!("/v71{path}"),
            Some(body),
            &[("idempotency-key", key)],
        )
        .await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, &format!("/v71{path}"), None, &[])
            .await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.send(Method::DELETE, &format!("/v71{path}"), None, &[])
            .await
    }

    /// A form POST (admin routes, pages).
    pub async fn form(&self, path: &str, pairs: &[(&str, &str)], headers: &[(&str, &str)]) -> Resp {
        let body = form(pairs);
        let mut all = vec![("content-type", "application/x-www-form-urlencoded")];
        all.extend_from_slice(headers);
        self.try_send(Method::POST, path, Some(Bytes::from(body)), &all)
            .await
            .expect("an answer")
    }

    pub async fn page(&self, path: &str) -> Resp {
        self.try_send(Method::GET, path, None, &[])
            .await
            .expect("an answer")
    }

    pub async fn admin(&self, path: &str, pairs: &[(&str, &str)]) -> Value {
        self.form(&format!("/_emulator/{path}"), pairs, &[])
            .await
            .ok()
    }

    /// Pays `amount` EUR with card `number`; returns the answer.
    pub async fn pay(&self, number: &str, amount: i64) -> Value {
        self.post("/payments", &payment(amount, "EUR", card(number)))
            .await
            .ok()
    }

    /// Stores card `number` for `shopper` with a zero-amount authorisation; returns its id.
    pub async fn store(&self, number: &str, shopper: &str) -> String {
        let mut body = payment(0, "EUR", card(number));
        body["shopperReference"] = json!(shopper);
        body["storePaymentMethod"] = json!(true);
        body["recurringProcessingModel"] = json!("UnscheduledCardOnFile");
        let answer = self.post("/payments", &body).await.ok();
        assert_eq!(answer["resultCode"], "Authorised", "{answer}");
        s(&answer["additionalData"]["tokenization.storedPaymentMethodId"]).to_string()
    }

    /// A merchant-initiated charge of a stored method.
    pub async fn charge(&self, id: &str, shopper: &str, amount: i64) -> Resp {
        let mut body = payment(
            amount,
            "EUR",
            json!({"type": "scheme", "storedPaymentMethodId": id}),
        );
        body["shopperReference"] = json!(shopper);
        body["shopperInteraction"] = json!("ContAuth");
        body["recurringProcessingModel"] = json!("UnscheduledCardOnFile");
        self.post("/payments", &body).await
    }
}

pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// The `paymentMethod` of a test card with `test_` fields.
pub fn card(number: &str) -> Value {
    let cvc = if number.starts_with("34") || number.starts_with("37") {
        "7373"
    } else {
        "737"
    };
    json!({
        "type": "scheme",
        "encryptedCardNumber": format!("test_{number}"),
        "encryptedExpiryMonth": "test_03",
        "encryptedExpiryYear": "test_2030",
        "encryptedSecurityCode": format!("test_{cvc}"),
        "holderName": "Jo Tester",
    })
}

/// A `/payments` body.
pub fn payment(amount: i64, currency: &str, method: Value) -> Value {
    json!({
        "merchantAccount": MERCHANT,
        "amount": {"value": amount, "currency": currency},
        "reference": format!("order-{}", rand_suffix()),
        "paymentMethod": method,
        "returnUrl": RETURN_URL,
    })
}

fn rand_suffix() -> u64 {
    static N: AtomicUsize = AtomicUsize::new(0);
    N.fetch_add(1, Ordering::Relaxed) as u64
}

pub fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

/// A query parameter of a URL.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Adyen's documented HMAC check of a `NotificationRequestItem`, written independently.
pub fn verify_hmac(hex_key: &str, item: &Value) -> bool {
    let field = |k: &str| item[k].as_str().unwrap_or("").to_string();
    let data = [
        field("pspReference"),
        field("originalReference"),
        field("merchantAccountCode"),
        field("merchantReference"),
        item["amount"]["value"]
            .as_i64()
            .map(|v| v.to_string())
            .unwrap_or_default(),
        item["amount"]["currency"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        field("eventCode"),
        field("success"),
    ]
    .join(":");
    let key = hex::decode(hex_key).expect("hex key");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(data.as_bytes());
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    item["additionalData"]["hmacSignature"].as_str() == Some(expected.as_str())
}

/// A webhook receiver: answers each batch with what `answer(n)` gives for the n-th batch (from
/// 0), and passes every batch on.
pub async fn receiver(
    answer: fn(usize) -> (u16, &'static str),
) -> (String, mpsc::UnboundedReceiver<Value>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/adyen", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    let seen = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (tx, seen) = (tx.clone(), seen.clone());
            tokio::spawn(async move {
                let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let (tx, seen) = (tx.clone(), seen.clone());
                    async move {
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let n = seen.fetch_add(1, Ordering::SeqCst);
                        let (status, text) = answer(n);
                        let mut batch: Value = serde_json::from_slice(&body).unwrap();
                        batch["_answeredStatus"] = json!(status);
                        batch["_answered"] = json!(text);
                        let _ = tx.send(batch);
                        Ok::<_, std::convert::Infallible>(
                            http::Response::builder()
                                .status(status)
                                .body(Full::new(Bytes::from_static(text.as_bytes())))
                                .unwrap(),
                        )
                    }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (url, rx)
}

pub fn accept_all(_: usize) -> (u16, &'static str) {
    (200, "[accepted]")
}

/// The next batch received.
pub async fn next_batch(rx: &mut mpsc::UnboundedReceiver<Value>) -> Value {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a notification batch")
        .unwrap()
}

/// The items of a batch.
pub fn items(batch: &Value) -> Vec<Value> {
    batch["notificationItems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["NotificationRequestItem"].clone())
        .collect()
}

/// Waits for an emitted notification with this eventCode and pspReference / originalReference.
pub async fn emitted(emulator: &Emulator, event_code: &str, psp: &str) -> Value {
    for _ in 0..200 {
        if let Some(item) = emulator.webhooks().emitted().into_iter().find(|i| {
            i["eventCode"] == event_code
                && (i["pspReference"] == psp || i["originalReference"] == psp)
        }) {
            return item;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "no {event_code} for {psp} in {:?}",
        emulator.webhooks().emitted()
    )
}
