//! The Adyen gateway's component tests, shared by:
//! - `adyen.rs`: the component built from `plugins/adyen`, the emulator over plain HTTP;
//! - `adyen_tls.rs`: the same component, over TLS through the host's pooled client, trusting the
//!   emulator's CA.
//!
//! Every scenario starts its own Adyen emulator (its webhook endpoint is a receiver of the
//! test's) and loads the component through the host runtime with the header auth Adyen uses, so
//! scenarios are independent. Modifications settle only when a scenario releases them
//! (`SettleDelay::Manual`). Facts are checked against the emulator's own record (the
//! notifications it emitted, its stored payment methods, its settlements), not only against what
//! the plugin says.

#![allow(dead_code)]

mod cards;
mod charges;
mod faults;
mod modifications;
mod oracle;
mod webhooks;

pub use cards::*;
pub use charges::*;
pub use faults::*;
pub use modifications::*;
pub use oracle::Oracle;
pub use webhooks::*;

use std::time::Duration;

use adyen_emulator::{Emulator, EmulatorOptions, SettleDelay};
use anyhow::{Context, Result, bail, ensure};
use gateway_tests::component_path;
use omnicrm_host::contract::{
    ActionCompletion, CaptureMode, CaptureRequest, ChargeRequest, CustomerRequest, GatewayError,
    GatewayEvent, Modification, Money, NextAction, Payment, RedirectMethod, RefundRequest,
    Rejection, StoreCardRequest, StoredCard, StoredCredentialUse, VoidRequest, WebhookOutcome,
    WebhookRequest,
};
use omnicrm_host::{CallError, Gateway, GatewayConfig, OutboundAuth, Runtime, SecretSource};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::harness::{self, Served};
pub use crate::harness::{Delivery, Transport, gateway_error};

/// Where the webhook receiver registered with the emulator listens, and the path the host hands
/// deliveries to the plugin with.
const WEBHOOK_PATH: &str = "/webhooks/adyen";
/// The receiver's answer to every delivery: `[accepted]`, as Adyen expects.
const WEBHOOK_ANSWER: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 10\r\nconnection: close\r\n\r\n[accepted]";

/// The only API key the emulator accepts: the host must add it as `X-API-Key`.
pub const API_KEY: &str = "AQE_omnicrm_gateway_tests";
/// The only merchant account the emulator accepts.
pub const MERCHANT_ACCOUNT: &str = "OmniCRMTest";
/// Adyen Web's client key for card sessions (made to be sent to browsers).
pub const CLIENT_KEY: &str = "test_OMNICRMCLIENTKEY";
/// Where shoppers come back after 3-D Secure.
pub const RETURN_URL: &str = "https://crm.example/payments/return";

/// Card form tokens as Adyen's card component (test environment) hands them over.
pub const VISA: &str = r#"{"type":"scheme","encryptedCardNumber":"test_4111111111111111","encryptedExpiryMonth":"test_03","encryptedExpiryYear":"test_2030","encryptedSecurityCode":"test_737","holderName":"Ada Lovelace"}"#;
pub const MASTERCARD: &str = r#"{"type":"scheme","encryptedCardNumber":"test_5555555555554444","encryptedExpiryMonth":"test_10","encryptedExpiryYear":"test_2031","encryptedSecurityCode":"test_737"}"#;
/// Enrolled in 3-D Secure 2, challenge straight away.
pub const VISA_3DS: &str = r#"{"type":"scheme","encryptedCardNumber":"test_4212345678910006","encryptedExpiryMonth":"test_03","encryptedExpiryYear":"test_2030","encryptedSecurityCode":"test_737"}"#;

/// Generates one `#[tokio::test]` per scenario, for a [`Transport`].
#[macro_export]
macro_rules! adyen_tests {
    ($transport:expr) => {
        $crate::adyen_tests!(@each $transport;
            cards_stored_listed_and_removed, card_session_then_card_form,
            successful_merchant_initiated_charges, each_decline_category,
            three_d_secure_completed_at_the_emulator_page, authorize_then_two_partial_captures,
            void_an_authorization, full_and_partial_refunds, refund_failing_asynchronously,
            idempotent_replay_charges_once, dropped_connection_is_unknown_then_replayed,
            server_errors_and_rate_limits, webhooks_verified_dropped_and_refused,
            duplicate_and_out_of_order_batches, chargebacks_are_disputes, errors_are_mapped,
            describes_its_contract_and_capabilities);
    };
    (@each $transport:expr; $($name:ident),+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() -> anyhow::Result<()> {
                $crate::adyen_scenarios::$name($transport).await
            }
        )+
    };
}

/// A running emulator, a webhook receiver registered with it, and the loaded Adyen gateway.
pub struct Env {
    pub emulator: Emulator,
    pub runtime: Runtime,
    pub gateway: Gateway,
    /// The emulator read and driven over plain HTTP, as a browser or Adyen's back office would.
    pub oracle: Oracle,
    /// Webhook deliveries as they arrive from the emulator.
    pub webhooks: mpsc::UnboundedReceiver<Delivery>,
    /// Every delivery received so far, in the order of arrival.
    pub received: Vec<Delivery>,
    /// The HMAC key of the webhook endpoint (hex).
    pub hmac_key: String,
    /// The configuration the gateway was loaded with, to load variants.
    pub config: GatewayConfig,
}

impl Env {
    /// Starts everything with the default test settings.
    pub async fn start(transport: Transport) -> Result<Env> {
        Env::start_with(transport, |c| c).await
    }

    /// Starts everything; `tweak` adjusts the gateway's configuration.
    pub async fn start_with(
        transport: Transport,
        tweak: impl FnOnce(GatewayConfig) -> GatewayConfig,
    ) -> Result<Env> {
        let emulator = Emulator::start(EmulatorOptions {
            tls: transport == Transport::Tls,
            api_keys: vec![API_KEY.into()],
            merchant_accounts: vec![MERCHANT_ACCOUNT.into()],
            settle_delay: SettleDelay::Manual,
            ..EmulatorOptions::default()
        })
        .await
        .context("starting the Adyen emulator")?;
        let (receiver_url, webhooks) =
            harness::start_webhook_receiver(WEBHOOK_PATH, WEBHOOK_ANSWER).await?;
        let endpoint = emulator.add_webhook_endpoint(&receiver_url)?;
        let (base, extra_ca_pem) = transport.endpoint(Served {
            base_url: emulator.base_url(),
            tls_base_url: emulator.tls_base_url(),
            ca_pem: emulator.ca_certificate_pem(),
        })?;
        let runtime = harness::runtime(extra_ca_pem)?;
        let config = GatewayConfig::new(component_path("omnicrm_adyen_gateway"))
            .allow_host(base.clone())
            .with_auth(OutboundAuth::Header {
                name: "X-API-Key".into(),
                secret: "api-key".into(),
                prefix: None,
            })
            .with_secret("api-key", SecretSource::value(API_KEY))
            .with_secret("hmac-key", SecretSource::value(endpoint.hmac_key.clone()))
            .with_setting("base-url", base)
            .with_setting("merchant-account", MERCHANT_ACCOUNT)
            .with_setting("return-url", RETURN_URL)
            .with_setting("client-key", CLIENT_KEY)
            .with_setting("environment", "test")
            .with_setting(
                "card-form-url",
                format!("{}/_emulator/card-form", emulator.base_url()),
            );
        let config = tweak(harness::test_settings(config));
        let gateway = runtime
            .load("adyen", &config)
            .await
            .context("loading the Adyen component")?;
        ensure!(
            gateway.contract_version() == "0.2.0",
            "the Adyen component exports contract {}",
            gateway.contract_version()
        );
        let oracle = Oracle::new(emulator.base_url());
        Ok(Env {
            emulator,
            runtime,
            gateway,
            oracle,
            webhooks,
            received: Vec::new(),
            hmac_key: endpoint.hmac_key,
            config,
        })
    }

    /// The shopper of a CRM customer.
    pub async fn customer(&self, crm_id: &str) -> Result<String> {
        let customer = self
            .gateway
            .ensure_customer(customer_request(crm_id), &format!("cus-{crm_id}"))
            .await?;
        ensure!(customer.crm_customer_id == crm_id, "{customer:?}");
        Ok(customer.id)
    }

    /// Stores a card from a token.
    pub async fn store_card(
        &self,
        customer: &str,
        token: &str,
        key: &str,
    ) -> Result<StoredCard, CallError> {
        self.gateway
            .store_card(StoreCardRequest {
                customer: customer.into(),
                token: token.into(),
                make_default: true,
                return_url: None,
                idempotency_key: key.into(),
            })
            .await
    }

    /// A shopper with a stored Visa: `(shopper, card)`.
    pub async fn customer_with_card(&self, crm_id: &str) -> Result<(String, String)> {
        let customer = self.customer(crm_id).await?;
        let card = self
            .store_card(&customer, VISA, &format!("card-{crm_id}"))
            .await?;
        Ok((customer, card.id))
    }

    /// A merchant-initiated recurring charge of EUR `amount`.
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

    /// Captures EUR `amount` of an authorization.
    pub async fn capture(
        &self,
        payment: &str,
        amount: i64,
        final_capture: bool,
        key: &str,
    ) -> Result<Modification, CallError> {
        self.gateway
            .capture_payment(CaptureRequest {
                payment: payment.into(),
                amount: eur(amount),
                final_capture,
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

    /// Refunds EUR `amount` of a payment.
    pub async fn refund(
        &self,
        payment: &str,
        amount: i64,
        key: &str,
    ) -> Result<omnicrm_host::contract::Refund, CallError> {
        self.gateway
            .refund_payment(RefundRequest {
                payment: payment.into(),
                amount: eur(amount),
                reason: Some(omnicrm_host::contract::RefundReason::RequestedByCustomer),
                metadata: vec![],
                idempotency_key: key.into(),
            })
            .await
    }

    /// Finishes a payment with what the shopper's action returned.
    pub async fn complete(
        &self,
        payment: &str,
        details: Vec<(String, String)>,
        key: &str,
    ) -> Result<Payment, CallError> {
        self.gateway
            .complete_action(ActionCompletion {
                payment: payment.into(),
                details,
                idempotency_key: key.into(),
            })
            .await
    }

    /// Every notification item the emulator emitted with this event code about `psp` (its own
    /// reference, or the payment's for modifications and disputes).
    pub fn emitted(&self, event_code: &str, psp: &str) -> Vec<Value> {
        self.emulator
            .webhooks()
            .emitted()
            .into_iter()
            .filter(|i| {
                i["eventCode"] == event_code
                    && (i["pspReference"] == psp || i["originalReference"] == psp)
            })
            .collect()
    }

    /// Every AUTHORISATION the emulator emitted for the merchant reference `reference`: one per
    /// payment it made.
    pub fn payments_with_reference(&self, reference: &str) -> Vec<Value> {
        self.emulator
            .webhooks()
            .emitted()
            .into_iter()
            .filter(|i| i["eventCode"] == "AUTHORISATION" && i["merchantReference"] == reference)
            .collect()
    }

    /// Waits until `count` deliveries hold an item with this event code about `psp` (its own
    /// reference, or the payment's); their indexes in [`Env::received`], in order of arrival.
    pub async fn deliveries_of(
        &mut self,
        event_code: &str,
        psp: &str,
        count: usize,
    ) -> Result<Vec<usize>> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let found: Vec<usize> = self
                .received
                .iter()
                .enumerate()
                .filter(|(_, (_, body))| holds(body, event_code, psp))
                .map(|(i, _)| i)
                .collect();
            if found.len() >= count {
                return Ok(found);
            }
            let delivery = tokio::time::timeout_at(deadline, self.webhooks.recv())
                .await
                .with_context(|| {
                    format!(
                        "{} of {count} {event_code} notifications about {psp} within 10 s",
                        found.len()
                    )
                })?
                .context("webhook receiver closed")?;
            self.received.push(delivery);
        }
    }

    /// The first delivery holding an item with this event code about `psp`.
    pub async fn next_delivery(&mut self, event_code: &str, psp: &str) -> Result<Delivery> {
        let first = self.deliveries_of(event_code, psp, 1).await?[0];
        Ok(self.received[first].clone())
    }

    /// The plugin's verified event of the delivered notification with this event code about
    /// `psp`, and the whole outcome of its batch.
    pub async fn event(
        &mut self,
        event_code: &str,
        psp: &str,
    ) -> Result<(GatewayEvent, WebhookOutcome)> {
        let (headers, body) = self.next_delivery(event_code, psp).await?;
        let outcome = handle(&self.gateway, headers, body)
            .await?
            .map_err(|r| anyhow::anyhow!("batch rejected: {r:?}"))?;
        ensure!(
            outcome.response.body == b"[accepted]",
            "answer {:?}",
            outcome.response
        );
        let event = outcome
            .events
            .iter()
            .find(|e| e.gateway_type == event_code && (e.id.contains(psp) || mentions(e, psp)))
            .cloned()
            .with_context(|| {
                format!("no {event_code} event about {psp} in {:?}", outcome.events)
            })?;
        Ok((event, outcome))
    }
}

/// Whether a batch holds an item with this event code about `psp`.
fn holds(body: &[u8], event_code: &str, psp: &str) -> bool {
    let batch: Value = serde_json::from_slice(body).unwrap_or_default();
    batch["notificationItems"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|w| &w["NotificationRequestItem"])
        .any(|i| {
            i["eventCode"] == event_code
                && (i["pspReference"] == psp || i["originalReference"] == psp)
        })
}

/// Whether an event is about the payment `psp`.
fn mentions(event: &GatewayEvent, psp: &str) -> bool {
    use omnicrm_host::contract::EventKind;
    match &event.kind {
        EventKind::Payment(p) => p.payment == psp,
        EventKind::Modification(m) => m.payment == psp || m.modification == psp,
        EventKind::Dispute(d) => d.payment.as_deref() == Some(psp) || d.dispute == psp,
        EventKind::CardStored(c) => c.id == psp,
        _ => false,
    }
}

/// EUR `amount` (cents).
pub fn eur(amount: i64) -> Money {
    Money {
        amount,
        currency: "EUR".into(),
    }
}

pub fn customer_request(crm_id: &str) -> CustomerRequest {
    CustomerRequest {
        crm_customer_id: crm_id.into(),
        email: Some(format!("{crm_id}@example.com")),
        name: Some("Ada Lovelace".into()),
        phone: None,
        metadata: vec![],
    }
}

/// A merchant-initiated recurring charge (a monthly bill); the CRM's transaction id is the key.
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
        amount: eur(amount),
        description: Some("Mobile plan, May".into()),
        metadata: vec![("crm_transaction_id".into(), key.into())],
        capture,
        stored_credential: StoredCredentialUse::MerchantRecurring,
        network_transaction_id: None,
        return_url: None,
        idempotency_key: key.into(),
    }
}

/// The redirect of an `action-required` error: `(payment, url)`.
pub fn redirect_of(error: GatewayError) -> Result<(String, String)> {
    match error {
        GatewayError::ActionRequired(a) => match a.next_action {
            NextAction::Redirect(r) if r.method == RedirectMethod::Get => Ok((a.payment, r.url)),
            other => bail!("expected a GET redirect, got {other:?}"),
        },
        other => bail!("expected action-required, got {other:?}"),
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
