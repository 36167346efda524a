//! A minimal Stripe client over real HTTP for the emulator's tests.
#![allow(dead_code)]

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use stripe_emulator::{Emulator, EmulatorOptions};

pub const KEY: &str = "sk_test_emulator_tests";

/// One answer.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub json: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn id(&self) -> String {
        self.json["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no id in {}", self.json))
            .to_string()
    }
    pub fn error(&self) -> &Value {
        &self.json["error"]
    }
    #[track_caller]
    pub fn ok(self) -> Value {
        assert_eq!(self.status, 200, "unexpected answer: {}", self.json);
        self.json
    }
}

/// A client bound to one emulator.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

pub async fn start() -> (Emulator, Api) {
    let emulator = Emulator::start(EmulatorOptions::default())
        .await
        .expect("emulator starts");
    let api = Api::new(emulator.base_url());
    (emulator, api)
}

pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
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
        body: String,
        headers: &[(&str, &str)],
    ) -> Result<Resp, String> {
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("{}{}", self.base, path));
        let mut has_auth = false;
        for (k, v) in headers {
            has_auth |= k.eq_ignore_ascii_case("authorization");
            builder = builder.header(*k, *v);
        }
        if !has_auth {
            builder = builder.header("authorization", format!("Bearer {KEY}"));
        }
        if !body.is_empty() {
            builder = builder.header("content-type", "application/x-www-form-urlencoded");
        }
        let request = builder
            .body(Full::new(Bytes::from(body)))
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
        let json = serde_json::from_slice(&bytes)
            .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Ok(Resp {
            status,
            headers,
            json,
        })
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: String,
        headers: &[(&str, &str)],
    ) -> Resp {
        self.try_send(method, path, body, headers)
            .await
            .expect("an answer")
    }

    pub async fn post(&self, path: &str, pairs: &[(&str, &str)]) -> Resp {
        self.send(Method::POST, path, form(pairs), &[]).await
    }

    pub async fn post_key(&self, path: &str, pairs: &[(&str, &str)], key: &str) -> Resp {
        self.send(Method::POST, path, form(pairs), &[("idempotency-key", key)])
            .await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, path, String::new(), &[]).await
    }

    pub async fn get_q(&self, path: &str, pairs: &[(&str, &str)]) -> Resp {
        self.get(&format!("{path}?{}", form(pairs))).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.send(Method::DELETE, path, String::new(), &[]).await
    }

    pub async fn admin(&self, path: &str, pairs: &[(&str, &str)]) -> Value {
        self.post(&format!("/_emulator/{path}"), pairs).await.ok()
    }

    // Shortcuts for common setups.

    pub async fn customer(&self) -> String {
        self.post(
            "/v1/customers",
            &[("email", "jo@example.com"), ("name", "Jo")],
        )
        .await
        .ok()["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub async fn attach(&self, customer: &str, token: &str) -> Resp {
        self.post(
            &format!("/v1/payment_methods/{token}/attach"),
            &[("customer", customer)],
        )
        .await
    }

    /// Creates and confirms a SetupIntent saving `pm` for `customer`.
    pub async fn confirm_setup(&self, customer: &str, pm: &str) -> Resp {
        self.post(
            "/v1/setup_intents",
            &[
                ("customer", customer),
                ("payment_method", pm),
                ("confirm", "true"),
            ],
        )
        .await
    }

    /// Off-session charge of a stored card.
    pub async fn charge(&self, customer: &str, pm: &str, amount: i64, currency: &str) -> Resp {
        let amount = amount.to_string();
        self.post(
            "/v1/payment_intents",
            &[
                ("amount", &amount),
                ("currency", currency),
                ("customer", customer),
                ("payment_method", pm),
                ("confirm", "true"),
                ("off_session", "true"),
            ],
        )
        .await
    }

    /// Finalizes invoice `id`; returns the open invoice.
    pub async fn finalize(&self, id: &str) -> Value {
        self.post(&format!("/v1/invoices/{id}/finalize"), &[])
            .await
            .ok()
    }

    /// An open invoice of `customer` with one item of `amount` cents; returns its id.
    pub async fn open_invoice(&self, customer: &str, amount: &str) -> String {
        let inv = self
            .post("/v1/invoices", &[("customer", customer)])
            .await
            .ok();
        let id = s(&inv["id"]).to_string();
        self.post(
            "/v1/invoiceitems",
            &[("customer", customer), ("invoice", &id), ("amount", amount)],
        )
        .await
        .ok();
        self.finalize(&id).await;
        id
    }

    /// Creates a customer, attaches the card and charges it; returns the succeeded intent.
    pub async fn paid_intent(&self, token: &str, amount: i64, currency: &str) -> Value {
        let customer = self.customer().await;
        let pm = self.attach(&customer, token).await.ok()["id"]
            .as_str()
            .unwrap()
            .to_string();
        self.charge(&customer, &pm, amount, currency).await.ok()
    }
}

pub fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}
