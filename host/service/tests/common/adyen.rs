//! Shared set-up of the service's Adyen tests: the Adyen emulator (over HTTP, or TLS with its CA
//! given to the service), the Adyen plugin configured as gateway `adyen` (optionally beside the
//! Stripe plugin against a Stripe emulator), a ledger in a temporary directory and the service
//! on a loopback port, the emulator's notifications delivered to its `/webhooks/adyen`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use adyen_emulator::{Emulator, EmulatorOptions, SettleDelay};
use omnicrm_host::config::{GatewayConfig, OutboundAuth, SecretSource};
use omnicrm_pay::Service;
use omnicrm_pay::client::{ApiClient, ApiResponse};
use omnicrm_pay::config::{GatewayEntry, ServiceConfig};
use omnicrm_pay::ledger::Durability;
use omnicrm_pay::server::{self, Running};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::{RW_KEY, api_keys, cache_dir, component, stripe_gateway};

/// The only API key the emulator accepts: the host adds it as `X-API-Key`.
pub const API_KEY: &str = "AQE_omnicrm_service_tests";
/// The only merchant account the emulator accepts.
pub const MERCHANT_ACCOUNT: &str = "OmniCRMServiceTests";
/// Where customers come back after 3-D Secure.
pub const RETURN_URL: &str = "https://crm.example/payments/return";

/// A card as Adyen Web's card form hands it over (the test environment's `test_` fields).
pub fn card_token(number: &str) -> String {
    json!({
        "type": "scheme",
        "encryptedCardNumber": format!("test_{number}"),
        "encryptedExpiryMonth": "test_03",
        "encryptedExpiryYear": "test_2030",
        "encryptedSecurityCode": "test_737",
        "holderName": "Ada Lovelace",
    })
    .to_string()
}

/// A Visa that needs no 3-D Secure.
pub fn visa() -> String {
    card_token("4111111111111111")
}

/// How the plugin reaches the emulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `http://127.0.0.1:PORT`.
    Http,
    /// `https://localhost:PORT`, the emulator's CA in the service's `extra_ca_pem`.
    Tls,
}

/// The Adyen plugin's configuration against an emulator at `base` (its API without the version).
pub fn adyen_gateway(component: &Path, base: &str, hmac_key: &str) -> GatewayConfig {
    GatewayConfig::new(component)
        .allow_host(base)
        .with_auth(OutboundAuth::Header {
            name: "X-API-Key".into(),
            secret: "api-key".into(),
            prefix: None,
        })
        .with_secret("api-key", SecretSource::value(API_KEY))
        .with_secret("hmac-key", SecretSource::value(hmac_key))
        .with_setting("base-url", base)
        .with_setting("merchant-account", MERCHANT_ACCOUNT)
        .with_setting("return-url", RETURN_URL)
        .with_setting("client-key", "test_OMNICRMSERVICETESTS")
        .with_setting("environment", "test")
        .with_setting("default-currency", "EUR")
        .with_setting("retry-backoff-ms", "20")
        .with_setting("retry-backoff-max-ms", "200")
}

/// The Adyen emulator's options of the tests: only the tests' key and merchant account.
pub fn emulator_options(tls: bool, settle_delay: SettleDelay) -> EmulatorOptions {
    EmulatorOptions {
        tls,
        api_keys: vec![API_KEY.into()],
        merchant_accounts: vec![MERCHANT_ACCOUNT.into()],
        settle_delay,
        ..EmulatorOptions::default()
    }
}

/// Options of [`start`].
pub struct AdyenOptions {
    /// HTTP or TLS between the plugin and the emulator.
    pub transport: Transport,
    /// When the emulator settles modifications (default: when a test releases them, so that
    /// the service's `pending` answers come before the notifications).
    pub settle_delay: SettleDelay,
    /// Also configure the Stripe plugin as gateway `stripe` (the default) against a Stripe
    /// emulator, webhooks included.
    pub with_stripe: bool,
}

impl Default for AdyenOptions {
    fn default() -> Self {
        AdyenOptions {
            transport: Transport::Http,
            settle_delay: SettleDelay::Manual,
            with_stripe: false,
        }
    }
}

/// A running service with the Adyen gateway (and maybe the Stripe one).
pub struct AdyenEnv {
    pub adyen: Emulator,
    pub stripe: Option<stripe_emulator::Emulator>,
    pub running: Option<Running>,
    pub service: Arc<Service>,
    pub config: ServiceConfig,
    pub dir: tempfile::TempDir,
    pub api: ApiClient,
    pub base: String,
    /// The HMAC key of the service's notification endpoint at the emulator (hex).
    pub hmac_key: String,
}

/// Starts the emulator(s) and the service.
pub async fn start(opts: AdyenOptions) -> AdyenEnv {
    let adyen = Emulator::start(emulator_options(
        opts.transport == Transport::Tls,
        opts.settle_delay,
    ))
    .await
    .expect("Adyen emulator");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let endpoint = adyen
        .add_webhook_endpoint(&format!("http://{addr}/webhooks/adyen"))
        .expect("notification endpoint");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = ServiceConfig::default();
    let adyen_base = match opts.transport {
        Transport::Http => adyen.base_url().to_string(),
        Transport::Tls => {
            let ca = dir.path().join("adyen-emulator-ca.pem");
            std::fs::write(&ca, adyen.ca_certificate_pem().expect("CA")).expect("write CA");
            config.service.extra_ca_pem = Some(ca);
            adyen.tls_base_url().expect("TLS URL").to_string()
        }
    };
    config.service.database = dir.path().join("ledger.db");
    config.service.durability = Durability::Normal;
    config.service.api_keys = api_keys();
    config.service.watch_components = false;
    config.service.reconcile_interval_secs = 3600;
    let gc = adyen_gateway(
        &component("omnicrm_adyen_gateway"),
        &adyen_base,
        &endpoint.hmac_key,
    );
    let mut entry = GatewayEntry::new(gc);
    entry.default = !opts.with_stripe;
    config.gateways.insert("adyen".into(), entry);
    let stripe = if opts.with_stripe {
        let stripe = stripe_emulator::Emulator::start(stripe_emulator::EmulatorOptions::default())
            .await
            .expect("Stripe emulator");
        let secret = stripe.add_webhook_endpoint(&format!("http://{addr}/webhooks/stripe"));
        let gc = stripe_gateway(&component("omnicrm_stripe_gateway"), &stripe, &secret);
        let mut entry = GatewayEntry::new(gc);
        entry.default = true;
        config.gateways.insert("stripe".into(), entry);
        Some(stripe)
    } else {
        None
    };
    config.validate().expect("valid config");
    let mut options = server::runtime_options(&config).unwrap();
    options.cache_dir = Some(cache_dir());
    let service = server::build(&config, options).await.expect("service");
    let running = server::start(&config, service.clone(), Some(listener))
        .await
        .expect("start");
    let base = format!("http://{addr}");
    AdyenEnv {
        api: ApiClient::new(&base, Some(RW_KEY.into())),
        adyen,
        stripe,
        running: Some(running),
        service,
        config,
        dir,
        base,
        hmac_key: endpoint.hmac_key,
    }
}

impl AdyenEnv {
    /// `GET path` with the read-write key.
    pub async fn get(&self, path: &str) -> ApiResponse {
        self.api.get(path).await.unwrap()
    }

    /// `POST path` with the read-write key.
    pub async fn post(&self, path: &str, body: Value) -> ApiResponse {
        self.api.post(path, body).await.unwrap()
    }

    /// Links `customer` on `gateway` (`None`: the default).
    pub async fn link(&self, customer: &str, gateway: Option<&str>) -> Value {
        let r = self
            .post(
                "/v1/customers",
                json!({ "customer_id": customer, "gateway": gateway }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.json);
        r.json
    }

    /// Stores `token` as a card of `customer` on `gateway`; the card as the API answers it.
    pub async fn add_card(&self, customer: &str, token: &str, gateway: Option<&str>) -> Value {
        let r = self
            .post(
                &format!("/v1/customers/{customer}/cards"),
                json!({ "token": token, "gateway": gateway }),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.json);
        r.json
    }

    /// Links `customer` to Adyen with a Visa; the card's id.
    pub async fn customer_with_card(&self, customer: &str) -> i64 {
        self.link(customer, Some("adyen")).await;
        self.add_card(customer, &visa(), Some("adyen")).await["id"]
            .as_i64()
            .unwrap()
    }

    /// Charges EUR `amount` to `customer`'s default card (`capture`: `automatic` or `manual`).
    pub async fn charge(&self, customer: &str, amount: i64, capture: &str) -> Value {
        let r = self
            .post(
                "/v1/transactions",
                json!({ "customer_id": customer, "amount": amount, "currency": "EUR", "capture": capture }),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.json);
        r.json
    }

    /// A transaction as the API shows it (refunds, captures and disputes included).
    pub async fn txn(&self, id: i64) -> Value {
        let r = self.get(&format!("/v1/transactions/{id}")).await;
        assert_eq!(r.status, 200, "{}", r.json);
        r.json
    }

    /// Polls the transaction until `done` holds for it (notifications arrive asynchronously);
    /// fails with the last state after 15 s.
    pub async fn wait_txn(&self, id: i64, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let t = self.txn(id).await;
            if done(&t) {
                return t;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "transaction {id}: {what} within 15 s; it stands at {t:#}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Every notification item the emulator emitted with `event_code` about `psp` (its own
    /// reference, or its payment's).
    pub fn emitted(&self, event_code: &str, psp: &str) -> Vec<Value> {
        self.adyen
            .webhooks()
            .emitted()
            .into_iter()
            .filter(|i| {
                i["eventCode"] == event_code
                    && (i["pspReference"] == psp || i["originalReference"] == psp)
            })
            .collect()
    }

    /// The delivery attempts of batches holding an item with `event_code` about `psp`: their
    /// `(status, accepted)`.
    pub fn deliveries_of(&self, event_code: &str, psp: &str) -> Vec<(Option<u16>, bool)> {
        self.adyen
            .webhooks()
            .deliveries()
            .into_iter()
            .filter(|d| {
                d.items.iter().any(|i| {
                    i["eventCode"] == event_code
                        && (i["pspReference"] == psp || i["originalReference"] == psp)
                })
            })
            .map(|d| (d.status, d.accepted))
            .collect()
    }

    /// Waits until `count` deliveries of a notification were answered `[accepted]` by the
    /// service; every attempt so far.
    pub async fn accepted(
        &self,
        event_code: &str,
        psp: &str,
        count: usize,
    ) -> Vec<(Option<u16>, bool)> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let attempts = self.deliveries_of(event_code, psp);
            if attempts.iter().filter(|(_, ok)| *ok).count() >= count {
                return attempts;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{count} {event_code} about {psp} accepted within 15 s: {attempts:?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The AUTHORISATION items of payments made for the merchant reference `reference`: one
    /// per payment the emulator made.
    pub fn payments_with_reference(&self, reference: &str) -> Vec<Value> {
        self.adyen
            .webhooks()
            .emitted()
            .into_iter()
            .filter(|i| i["eventCode"] == "AUTHORISATION" && i["merchantReference"] == reference)
            .collect()
    }

    /// Settles every modification waiting at the emulator (their notifications follow).
    pub fn settle(&self) -> usize {
        self.adyen.release_settlements()
    }

    /// Stops the service.
    pub async fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }
}
