//! The Stripe gateway's component tests, in the newest contract's model, shared by:
//! - `stripe.rs`: the Stripe plugin built from `plugins/stripe` (contract 0.2), the emulator over
//!   plain HTTP;
//! - `stripe_tls.rs`: the same plugin, over TLS through the host's pooled client, trusting the
//!   emulator's CA;
//! - `stripe_v0_1.rs`: the frozen contract 0.1 build (`tests/fixtures/components`), over plain
//!   HTTP, through the host's 0.1 conversions.
//!
//! The same host and the same scenarios serve every component ([`stripe_tests!`]); what only
//! contract 0.2 can do (card sessions, completing 3-D Secure with `complete-action`, the webhook
//! answer's bytes) runs on the 0.2 plugin only ([`stripe_v0_2_tests!`]).
//!
//! Every scenario starts its own emulator and loads the component through the host runtime, so
//! scenarios are independent. Facts are checked against the emulator's own API (read over raw
//! HTTP by [`Oracle`]), not only against what the plugin reports.

#![allow(dead_code)]

mod cards;
mod charges;
mod faults;
mod invoices;
mod metrics;
mod oracle;
mod v0_2;
mod webhooks;

pub use cards::*;
pub use charges::*;
pub use faults::*;
pub use invoices::*;
pub use metrics::*;
pub use oracle::Oracle;
// Used by the test files of 0.2 components only.
#[allow(unused_imports)]
pub use v0_2::*;
pub use webhooks::*;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use gateway_tests::{component_path, fixture_path};
use omnicrm_host::contract::{
    CaptureMode, CaptureRequest, ChargeRequest, CustomerRequest, GatewayError, GatewayEvent,
    Modification, ModificationStatus, Money, Payment, Rejection, StoreCardRequest, StoredCard,
    StoredCredentialUse, TimeRange, VoidRequest, WebhookOutcome, WebhookRequest,
};
use omnicrm_host::{CallError, Gateway, GatewayConfig, OutboundAuth, Runtime, SecretSource};
use serde_json::Value;
use stripe_emulator::{Emulator, EmulatorOptions, FailSpec};
use tokio::sync::mpsc;

use crate::harness::{self, Served};
pub use crate::harness::{Delivery, Transport, gateway_error};

/// Where the webhook receiver registered with the emulator listens, and the path the host hands
/// deliveries to the plugin with.
const WEBHOOK_PATH: &str = "/webhooks/stripe";
/// The receiver's answer to every delivery.
const WEBHOOK_ANSWER: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";

/// The publishable key card sessions hand to the browser.
pub const PUBLISHABLE_KEY: &str = "pk_test_omnicrm_gateway_tests";

/// Which Stripe component the host loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plugin {
    /// `omnicrm_stripe_gateway.wasm` as `cargo xtask plugins` builds it (contract 0.2).
    Current,
    /// The frozen contract 0.1 build, `tests/fixtures/components/omnicrm_stripe_gateway_v0_1.wasm`.
    V0_1,
}

impl Plugin {
    fn component(self) -> PathBuf {
        match self {
            Plugin::Current => component_path("omnicrm_stripe_gateway"),
            Plugin::V0_1 => fixture_path("omnicrm_stripe_gateway_v0_1.wasm"),
        }
    }

    /// The contract version the component exports.
    pub fn contract_version(self) -> &'static str {
        match self {
            Plugin::Current => "0.2.0",
            Plugin::V0_1 => "0.1.0",
        }
    }
}

/// Which component, reached how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setup {
    pub plugin: Plugin,
    pub transport: Transport,
}

/// Generates one `#[tokio::test]` per scenario every Stripe component passes, for a [`Setup`].
#[macro_export]
macro_rules! stripe_tests {
    ($setup:expr) => {
        $crate::stripe_tests!(@each $setup;
            cards_from_each_kind_of_token, successful_charge, declines_with_reasons,
            off_session_charge_needs_authentication, authorize_then_partial_capture,
            cancel_authorization, authorization_expires_after_seven_days,
            refunds_full_partial_and_over_refund, isk_and_three_decimal_amounts,
            invoices_finalized_paid_and_voided, voiding_a_draft_deletes_it,
            dispute_shows_in_metrics, metrics_equal_emulator_sums_across_pages,
            webhooks_verified_and_rejected, the_api_key_is_never_a_mac_key,
            retry_after_503_charges_once, retries_and_timeouts_stay_within_the_deadline,
            dropped_connection_is_unknown_then_replayed, errors_are_mapped,
            customers_are_never_merged_and_need_no_search, describes_its_contract_and_capabilities);
    };
    (@each $setup:expr; $($name:ident),+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() -> anyhow::Result<()> {
                $crate::stripe_scenarios::$name($setup).await
            }
        )+
    };
}

/// Generates the scenarios only a contract 0.2 Stripe component can pass, for a [`Setup`].
#[macro_export]
macro_rules! stripe_v0_2_tests {
    ($setup:expr) => {
        $crate::stripe_tests!(@each $setup;
            card_session_then_stored_card, three_d_secure_completed_with_complete_action,
            webhook_answers_are_the_plugins_bytes);
    };
}

/// A running emulator, a webhook receiver registered with it, and the loaded Stripe gateway.
pub struct Env {
    pub emulator: Emulator,
    pub runtime: Runtime,
    pub gateway: Gateway,
    /// The emulator's plain-HTTP API, for the test's own checks.
    pub oracle: Oracle,
    /// Webhook deliveries received from the emulator: raw headers (lower-case names) and body.
    pub webhooks: mpsc::UnboundedReceiver<Delivery>,
    /// Deliveries received but not asked for yet.
    pub pending: Vec<Delivery>,
    pub setup: Setup,
    /// The settings the gateway was loaded with, to load variants.
    pub config: GatewayConfig,
}

impl Env {
    /// Starts everything with the default test settings.
    pub async fn start(setup: Setup) -> Result<Env> {
        Env::start_with(setup, |c| c).await
    }

    /// Starts everything; `tweak` adjusts the gateway's configuration.
    pub async fn start_with(
        setup: Setup,
        tweak: impl FnOnce(GatewayConfig) -> GatewayConfig,
    ) -> Result<Env> {
        Env::start_on(setup, EmulatorOptions::default(), tweak).await
    }

    /// Starts everything on an emulator started with `options` (its `tls` follows the
    /// transport).
    pub async fn start_on(
        setup: Setup,
        options: EmulatorOptions,
        tweak: impl FnOnce(GatewayConfig) -> GatewayConfig,
    ) -> Result<Env> {
        let emulator = Emulator::start(EmulatorOptions {
            tls: setup.transport == Transport::Tls,
            ..options
        })
        .await
        .context("starting the Stripe emulator")?;
        let (receiver_url, webhooks) =
            harness::start_webhook_receiver(WEBHOOK_PATH, WEBHOOK_ANSWER).await?;
        let webhook_secret = emulator.add_webhook_endpoint(&receiver_url);

        let (base, extra_ca_pem) = setup.transport.endpoint(Served {
            base_url: emulator.base_url(),
            tls_base_url: emulator.tls_base_url(),
            ca_pem: emulator.ca_certificate_pem(),
        })?;
        let runtime = harness::runtime(extra_ca_pem)?;
        let config = GatewayConfig::new(setup.plugin.component())
            .allow_host(base.clone())
            .with_auth(OutboundAuth::Bearer {
                secret: "api-key".into(),
            })
            .with_secret(
                "api-key",
                SecretSource::value("sk_test_omnicrm_gateway_tests"),
            )
            .with_secret("webhook-secret", SecretSource::value(webhook_secret))
            .with_setting("base-url", base)
            // Stripe Elements' key for card sessions: made to be sent to browsers.
            .with_setting("publishable-key", PUBLISHABLE_KEY)
            // Small pages, so that walking every page is exercised with a few objects.
            .with_setting("page-size", "3");
        let config = tweak(harness::test_settings(config));
        let gateway = runtime
            .load("stripe", &config)
            .await
            .context("loading the Stripe component")?;
        ensure!(
            gateway.contract_version() == setup.plugin.contract_version(),
            "{:?} exports contract {}",
            setup.plugin,
            gateway.contract_version()
        );
        let oracle = Oracle {
            base: emulator.base_url().to_owned(),
        };
        Ok(Env {
            emulator,
            runtime,
            gateway,
            oracle,
            webhooks,
            pending: Vec::new(),
            setup,
            config,
        })
    }

    /// Stores a card from a token.
    pub async fn store_card(
        &self,
        customer: &str,
        token: &str,
        make_default: bool,
        key: &str,
    ) -> Result<StoredCard, CallError> {
        self.gateway
            .store_card(store_card_request(customer, token, make_default, key))
            .await
    }

    /// A customer with a stored, default Visa card: `(customer, card)`.
    pub async fn customer_with_card(&self, crm_id: &str, token: &str) -> Result<(String, String)> {
        let customer = self
            .gateway
            .ensure_customer(customer_request(crm_id), &format!("cus-{crm_id}"))
            .await?;
        let card = self
            .store_card(&customer.id, token, true, &format!("card-{crm_id}"))
            .await?;
        Ok((customer.id, card.id))
    }

    pub async fn charge(
        &self,
        customer: &str,
        card: &str,
        amount: i64,
        capture: CaptureMode,
        key: &str,
    ) -> Result<Payment, CallError> {
        self.gateway
            .charge(charge_request(customer, card, amount, capture, key))
            .await
    }

    /// Charges with automatic capture, expecting the gateway to refuse: its error.
    pub async fn failed_charge(
        &self,
        customer: &str,
        card: &str,
        amount: i64,
        key: &str,
    ) -> Result<GatewayError> {
        gateway_error(
            self.charge(customer, card, amount, CaptureMode::Automatic, key)
                .await,
        )
    }

    /// Captures `amount` of an authorization.
    pub async fn capture(
        &self,
        payment: &str,
        amount: Money,
        key: &str,
    ) -> Result<Modification, CallError> {
        self.gateway
            .capture_payment(CaptureRequest {
                payment: payment.into(),
                amount,
                final_capture: true,
                metadata: vec![],
                idempotency_key: key.into(),
            })
            .await
    }

    /// Voids an authorization.
    pub async fn void(&self, payment: &str, key: &str) -> Result<Modification, CallError> {
        self.gateway
            .void_payment(VoidRequest {
                payment: payment.into(),
                metadata: vec![],
                idempotency_key: key.into(),
            })
            .await
    }

    /// Waits for the webhook delivery of an event type (about `object_id`, when given).
    /// Deliveries are unordered: others received meanwhile are kept for later calls.
    pub async fn next_webhook(
        &mut self,
        event_type: &str,
        object_id: Option<&str>,
    ) -> Result<Delivery> {
        let wanted = |body: &[u8]| {
            let event: Value = serde_json::from_slice(body).unwrap_or_default();
            event["type"] == event_type
                && object_id.is_none_or(|id| event["data"]["object"]["id"] == id)
        };
        if let Some(i) = self.pending.iter().position(|(_, body)| wanted(body)) {
            return Ok(self.pending.remove(i));
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let delivery = tokio::time::timeout_at(deadline, self.webhooks.recv())
                .await
                .with_context(|| format!("no {event_type} webhook within 10 s"))?
                .context("webhook receiver closed")?;
            if wanted(&delivery.1) {
                return Ok(delivery);
            }
            self.pending.push(delivery);
        }
    }
}

/// `amount` minor units of US dollars.
pub fn usd(amount: i64) -> Money {
    Money {
        amount,
        currency: "USD".into(),
    }
}

pub fn customer_request(crm_id: &str) -> CustomerRequest {
    CustomerRequest {
        crm_customer_id: crm_id.into(),
        email: Some(format!("{crm_id}@example.com")),
        name: Some("Ada Lovelace".into()),
        phone: None,
        metadata: vec![("segment".into(), "tests & more".into())],
    }
}

pub fn store_card_request(
    customer: &str,
    token: &str,
    make_default: bool,
    key: &str,
) -> StoreCardRequest {
    StoreCardRequest {
        customer: customer.into(),
        token: token.into(),
        make_default,
        return_url: None,
        idempotency_key: key.into(),
    }
}

/// A charge the CRM makes without the customer (a bill or a usage charge).
pub fn charge_request(
    customer: &str,
    card: &str,
    amount: i64,
    capture: CaptureMode,
    key: &str,
) -> ChargeRequest {
    ChargeRequest {
        customer: customer.into(),
        card: card.into(),
        amount: Money {
            amount,
            currency: "USD".into(),
        },
        description: Some("Order 42".into()),
        metadata: vec![("crm_transaction".into(), key.into())],
        capture,
        stored_credential: StoredCredentialUse::MerchantUnscheduled,
        network_transaction_id: None,
        return_url: None,
        idempotency_key: key.into(),
    }
}

/// The payment a synchronous modification left, once it succeeded.
pub fn settled(modification: Modification) -> Result<Payment> {
    ensure!(
        modification.status == ModificationStatus::Succeeded,
        "{modification:?}"
    );
    let payment = modification
        .payment_after
        .context("a succeeded modification of Stripe carries the payment")?;
    ensure!(
        payment.id == modification.payment,
        "{payment:?} after a modification of {}",
        modification.payment
    );
    Ok(payment)
}

/// Fails the next `count` PaymentIntent requests with `status` (no `Stripe-Should-Retry`, no
/// `lock_timeout`).
pub fn intent_fault(count: u32, status: u16) -> FailSpec {
    FailSpec {
        count,
        status,
        path_prefix: Some("/v1/payment_intents".into()),
        should_retry: None,
        lock_timeout: false,
    }
}

/// A webhook delivery as the host hands it to the plugin: `POST {WEBHOOK_PATH}`.
pub fn webhook_request(headers: Vec<(String, Vec<u8>)>, body: Vec<u8>) -> WebhookRequest {
    harness::webhook_request(WEBHOOK_PATH, headers, body)
}

/// What the plugin makes of a webhook delivery.
pub async fn handle(
    gateway: &Gateway,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
) -> Result<Result<WebhookOutcome, Rejection>, CallError> {
    gateway.handle_webhook(webhook_request(headers, body)).await
}

/// The one event of a delivery that must be accepted (Stripe sends one event per request).
pub async fn verified(
    gateway: &Gateway,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
) -> Result<GatewayEvent> {
    let outcome = handle(gateway, headers, body)
        .await?
        .map_err(|r| anyhow::anyhow!("event rejected: {r:?}"))?;
    ensure!(
        outcome.response.status == 200,
        "answer {:?}",
        outcome.response
    );
    let [event]: [GatewayEvent; 1] = outcome
        .events
        .try_into()
        .map_err(|events| anyhow::anyhow!("one event per delivery, got {events:?}"))?;
    Ok(event)
}

/// An hour either side of the emulator's clock.
pub fn today_range(env: &Env) -> TimeRange {
    let now = env.emulator.clock().now();
    TimeRange {
        start: now - 3_600,
        end: now + 3_600,
    }
}
