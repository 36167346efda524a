//! Measurement 8: an Adyen charge (a merchant-initiated payment with a stored card, `POST
//! /v71/payments`) through the host and the Adyen component, side by side with a native
//! keep-alive client sending the same request, both against one Adyen emulator on loopback
//! (in this process, on the emulator's own runtime).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use omnicrm_host::contract::{
    CaptureMode, ChargeRequest, CustomerRequest, Money, PaymentStatus, StoreCardRequest,
    StoredCredentialUse,
};
use omnicrm_host::{Gateway, GatewayConfig, OutboundAuth, SecretSource};
use serde_json::{Value, json};

use crate::measure::{Bench, ratio};
use crate::stats::{Row, Samples};

/// The built Adyen component.
pub const ADYEN_WASM: &str = "omnicrm_adyen_gateway.wasm";

const API_KEY: &str = "AQE_omnicrm_bench";
const MERCHANT_ACCOUNT: &str = "OmniCRMBench";
const RETURN_URL: &str = "https://crm.example/payments/return";

/// The Adyen gateway's configuration against an emulator at `base`.
fn adyen_config(component: &std::path::Path, base: &str) -> GatewayConfig {
    GatewayConfig::new(component)
        .allow_host(base)
        .with_auth(OutboundAuth::Header {
            name: "X-API-Key".into(),
            secret: "api-key".into(),
            prefix: None,
        })
        .with_secret("api-key", SecretSource::value(API_KEY))
        .with_secret(
            "hmac-key",
            SecretSource::value("00112233445566778899AABBCCDDEEFF"),
        )
        .with_setting("base-url", base)
        .with_setting("merchant-account", MERCHANT_ACCOUNT)
        .with_setting("return-url", RETURN_URL)
}

/// The shopper, the card and the keys both clients charge with.
struct Charges {
    shopper: String,
    card: String,
    run_id: u64,
    keys: AtomicUsize,
}

impl Charges {
    fn key(&self) -> String {
        format!(
            "bench-{}-adyen-{}",
            self.run_id,
            self.keys.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// A charge through the component: authorised and captured.
    async fn component(&self, gateway: &Gateway) -> Result<()> {
        let key = self.key();
        let payment = gateway
            .charge(ChargeRequest {
                customer: self.shopper.clone(),
                card: self.card.clone(),
                amount: Money {
                    amount: 1_999,
                    currency: "EUR".into(),
                },
                description: None,
                metadata: vec![("crm_transaction_id".into(), key.clone())],
                capture: CaptureMode::Automatic,
                stored_credential: StoredCredentialUse::MerchantUnscheduled,
                network_transaction_id: None,
                return_url: None,
                idempotency_key: key,
            })
            .await
            .map_err(|e| anyhow::anyhow!("component charge: {e}"))?;
        if payment.status != PaymentStatus::Succeeded {
            bail!("component charge: {:?}", payment.status);
        }
        Ok(())
    }

    /// The same request the component sends (see plugins/adyen/src/charging.rs), sent natively
    /// and its JSON answer read.
    async fn native(&self, client: &Client<HttpConnector, Full<Bytes>>, api: &str) -> Result<()> {
        let key = self.key();
        let body = json!({
            "merchantAccount": MERCHANT_ACCOUNT,
            "amount": {"value": 1_999, "currency": "EUR"},
            "reference": key,
            "paymentMethod": {"type": "scheme", "storedPaymentMethodId": self.card},
            "shopperReference": self.shopper,
            "shopperInteraction": "ContAuth",
            "recurringProcessingModel": "UnscheduledCardOnFile",
            "returnUrl": RETURN_URL,
            "metadata": {"crm_transaction_id": key, "omnicrm_capture": "automatic"},
        });
        let request = http::Request::post(format!("{api}/payments"))
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .header("x-api-key", API_KEY)
            .header("idempotency-key", format!("{key}:payment"))
            .body(Full::new(Bytes::from(body.to_string())))?;
        let response = client.request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        let answer: Value = serde_json::from_slice(&body)
            .with_context(|| format!("native charge: HTTP {status}"))?;
        if answer["resultCode"] != "Authorised" {
            bail!("native charge: HTTP {status} {answer}");
        }
        Ok(())
    }
}

/// Measures the Adyen rows.
pub async fn charge_vs_native(bench: &mut Bench) -> Result<()> {
    let emulator = adyen_emulator::Emulator::start(adyen_emulator::EmulatorOptions {
        api_keys: vec![API_KEY.into()],
        merchant_accounts: vec![MERCHANT_ACCOUNT.into()],
        ..Default::default()
    })
    .await
    .map_err(|e| anyhow::anyhow!("Adyen emulator: {e}"))?;
    let path = bench.path(ADYEN_WASM);
    let gateway = bench
        .runtime
        .load("adyen", &adyen_config(&path, emulator.base_url()))
        .await
        .with_context(|| format!("loading {}", path.display()))?;
    let run_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let shopper = gateway
        .ensure_customer(
            CustomerRequest {
                crm_customer_id: format!("bench-shopper-{run_id}"),
                email: None,
                name: None,
                phone: None,
                metadata: Vec::new(),
            },
            &format!("bench-{run_id}-shopper"),
        )
        .await
        .map_err(|e| anyhow::anyhow!("ensure_customer: {e}"))?;
    let card = gateway
        .store_card(StoreCardRequest {
            customer: shopper.id.clone(),
            token: r#"{"type":"scheme","encryptedCardNumber":"test_4111111111111111","encryptedExpiryMonth":"test_03","encryptedExpiryYear":"test_2030","encryptedSecurityCode":"test_737"}"#.into(),
            make_default: true,
            return_url: None,
            idempotency_key: format!("bench-{run_id}-card"),
        })
        .await
        .map_err(|e| anyhow::anyhow!("store_card: {e}"))?;
    let charges = Charges {
        shopper: shopper.id,
        card: card.id,
        run_id,
        keys: AtomicUsize::new(0),
    };
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    let client = Client::builder(TokioExecutor::new()).build(http);
    let api = emulator.api_base_url();

    let o = &bench.options;
    let (warmup, sequential) = (o.count(100, 10), o.count(2000, 60));
    for _ in 0..warmup {
        charges.component(&gateway).await?;
        charges.native(&client, &api).await?;
    }
    // Interleaved, so both see the same emulator state.
    let mut component = Vec::with_capacity(sequential);
    let mut native = Vec::with_capacity(sequential);
    for _ in 0..sequential {
        let t = Instant::now();
        charges.component(&gateway).await?;
        component.push(t.elapsed());
        let t = Instant::now();
        charges.native(&client, &api).await?;
        native.push(t.elapsed());
    }
    let (component, native) = (Samples::new(component), Samples::new(native));
    let fmt = |r: Option<f64>| r.map(|r| format!("{r:.2}x")).unwrap_or_else(|| "-".into());
    let note = format!(
        "ratio to native: median {}, p99 {}",
        fmt(ratio(component.median(), native.median())),
        fmt(ratio(component.p99(), native.p99()))
    );
    bench.rows.push(
        Row::new(
            8,
            "Adyen charge (POST /v71/payments, stored card), component (host + Adyen plugin), c=1",
            component,
        )
        .note(note),
    );
    bench.rows.push(Row::new(
        8,
        "Adyen charge, the same request, native hyper keep-alive, c=1",
        native,
    ));
    Ok(())
}
