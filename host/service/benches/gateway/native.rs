//! Native Rust clients (hyper-util's pooled client over hyper-rustls) sending the same charge
//! request the Stripe component sends: the baseline of the component figures.

use anyhow::{Context as _, Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::sync::Arc;
use std::time::Duration;

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// How the native client treats connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connections {
    /// Pooled keep-alive connections (HTTP/2 by ALPN over TLS, like the host's client).
    KeepAlive,
    /// A new TCP (+ TLS) connection for every request, HTTP/1.1: what the stock
    /// `wasmtime-wasi-http` `default_send_request` does.
    Fresh,
}

/// A native Stripe client for the charge request.
#[derive(Clone)]
pub struct NativeClient {
    client: Client<Connector, Full<Bytes>>,
    base: Arc<str>,
}

/// The key every request authenticates with (the emulator accepts any `sk_test_`).
pub const API_KEY: &str = "sk_test_omnicrm_bench";
/// The Stripe API version the plugin pins.
const STRIPE_VERSION: &str = "2025-03-31.basil";

impl NativeClient {
    /// A client for `base` (`http://` or `https://`), trusting `ca_pem` in addition to nothing
    /// else (the emulator's CA).
    pub fn new(base: &str, ca_pem: Option<&str>, connections: Connections) -> Result<Self> {
        let mut roots = rustls::RootCertStore::empty();
        if let Some(pem) = ca_pem {
            for cert in rustls_pemfile::certs(&mut pem.as_bytes()) {
                roots.add(cert.context("emulator CA")?)?;
            }
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        let builder = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http();
        let connector = match connections {
            Connections::KeepAlive => builder.enable_http1().enable_http2().wrap_connector(http),
            Connections::Fresh => builder.enable_http1().wrap_connector(http),
        };
        let idle = match connections {
            Connections::KeepAlive => 1024,
            Connections::Fresh => 0,
        };
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(idle)
            .build(connector);
        Ok(NativeClient {
            client,
            base: Arc::from(base.trim_end_matches('/')),
        })
    }

    /// Creates and confirms a PaymentIntent exactly as the Stripe component's `charge` does
    /// (same form, headers and expansion), parses the JSON answer and checks it succeeded.
    /// Returns the HTTP version used.
    pub async fn charge(
        &self,
        customer: &str,
        card: &str,
        amount: i64,
        key: &str,
    ) -> Result<http::Version> {
        let body = charge_form(customer, card, amount, key);
        let request = http::Request::post(format!("{}/v1/payment_intents", self.base))
            .header("stripe-version", STRIPE_VERSION)
            .header("user-agent", "omnicrm-bench-native/0.1")
            .header("accept", "application/json")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("idempotency-key", format!("{key}:payment_intent"))
            .header("authorization", format!("Bearer {API_KEY}"))
            .body(Full::new(Bytes::from(body)))?;
        let response = self.client.request(request).await?;
        let version = response.version();
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            bail!(
                "native charge: HTTP {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        let json: serde_json::Value = serde_json::from_slice(&body)?;
        if json["status"] != "succeeded" {
            bail!("native charge: status {}", json["status"]);
        }
        Ok(version)
    }

    /// `POST {base}{path}` with a form body, no API key (admin routes).
    pub async fn admin_post(&self, path: &str, form: &str) -> Result<()> {
        let request = http::Request::post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from(form.to_string())))?;
        let response = self.client.request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            bail!("{path}: HTTP {status}: {}", String::from_utf8_lossy(&body));
        }
        Ok(())
    }
}

/// The form body of the Stripe component's charge (see plugins/stripe/src/charging.rs).
fn charge_form(customer: &str, card: &str, amount: i64, key: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("amount", &amount.to_string())
        .append_pair("currency", "usd")
        .append_pair("customer", customer)
        .append_pair("payment_method", card)
        .append_pair("payment_method_types[]", "card")
        .append_pair("off_session", "true")
        .append_pair("confirm", "true")
        .append_pair("capture_method", "automatic")
        .append_pair("description", "bench charge")
        .append_pair("metadata[crm_transaction_id]", key)
        .append_pair("expand[]", "latest_charge.balance_transaction")
        .finish()
}
