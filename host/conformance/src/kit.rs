//! What every check works with: the loaded gateway, the fixtures, the wiretap in its outbound
//! path, fresh idempotency keys, and the requests the checks build.

use crate::fixtures::Fixtures;
use crate::wiretap::Wiretap;
use omnicrm_host::contract::{
    Capabilities, CaptureMode, ChargeRequest, CustomerRequest, GatewayError, Money,
    StoreCardRequest, StoredCredentialUse,
};
use omnicrm_host::{CallError, Gateway};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// The state of one run.
pub struct Kit {
    /// The gateway under test.
    pub gateway: Gateway,
    /// The author's fixtures.
    pub fixtures: Fixtures,
    /// The kit's hook in the gateway's outbound path.
    pub wiretap: Arc<Wiretap>,
    /// The component's bytes (its exports are read from them).
    pub component: Vec<u8>,
    /// Makes this run's keys and CRM ids unique, so runs against one test server never meet.
    run: String,
    counter: AtomicU32,
}

/// A customer with a card whose charges succeed.
#[derive(Debug, Clone)]
pub struct Payer {
    /// The customer's reference.
    pub customer: String,
    /// The card's reference.
    pub card: String,
}

impl Kit {
    /// A run of `gateway` with `fixtures`.
    pub fn new(
        gateway: Gateway,
        fixtures: Fixtures,
        wiretap: Arc<Wiretap>,
        component: Vec<u8>,
    ) -> Kit {
        Kit {
            gateway,
            fixtures,
            wiretap,
            component,
            run: format!("{:08x}", rand::random::<u32>()),
            counter: AtomicU32::new(0),
        }
    }

    /// What the gateway declares.
    pub fn capabilities(&self) -> Capabilities {
        self.gateway.capabilities()
    }

    /// A fresh idempotency key (or CRM id) of this run: `conformance-<run>-<n>-<label>`.
    pub fn key(&self, label: &str) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!("conformance-{}-{n}-{label}", self.run)
    }

    /// The test amount in the fixtures' currency.
    pub fn money(&self, amount: i64) -> Money {
        Money {
            amount,
            currency: self.fixtures.currency.clone(),
        }
    }

    /// A new customer.
    pub async fn customer(&self, label: &str) -> Result<String, CallError> {
        let crm_id = self.key(label);
        let customer = self
            .gateway
            .ensure_customer(customer_request(&crm_id), &self.key(label))
            .await?;
        Ok(customer.id)
    }

    /// Stores `token` for `customer`.
    pub async fn card(&self, customer: &str, token: &str) -> Result<String, CallError> {
        let card = self
            .gateway
            .store_card(StoreCardRequest {
                customer: customer.into(),
                token: token.into(),
                make_default: true,
                return_url: Some("https://crm.example/return".into()),
                idempotency_key: self.key("card"),
            })
            .await?;
        Ok(card.id)
    }

    /// A new customer with `token` stored.
    pub async fn payer(&self, label: &str, token: &str) -> Result<Payer, CallError> {
        let customer = self.customer(label).await?;
        let card = self.card(&customer, token).await?;
        Ok(Payer { customer, card })
    }

    /// A merchant-initiated charge of `amount` on the payer's card.
    pub fn charge_request(
        &self,
        payer: &Payer,
        amount: i64,
        capture: CaptureMode,
        key: &str,
    ) -> ChargeRequest {
        ChargeRequest {
            customer: payer.customer.clone(),
            card: payer.card.clone(),
            amount: self.money(amount),
            description: Some("conformance kit".into()),
            metadata: vec![("conformance".into(), "1".into())],
            capture,
            stored_credential: StoredCredentialUse::MerchantUnscheduled,
            network_transaction_id: None,
            return_url: None,
            idempotency_key: key.into(),
        }
    }
}

/// A CRM customer with id `crm_id`.
pub fn customer_request(crm_id: &str) -> CustomerRequest {
    CustomerRequest {
        crm_customer_id: crm_id.into(),
        email: Some("conformance@example.com".into()),
        name: Some("Conformance Kit".into()),
        phone: None,
        metadata: Vec::new(),
    }
}

/// A call's error in a sentence (the contract's variant name first).
pub fn describe(error: &CallError) -> String {
    match error {
        CallError::Gateway(e) => format!("{} ({})", variant(e), error),
        other => other.to_string(),
    }
}

/// The contract's name of an error's variant.
pub fn variant(error: &GatewayError) -> &'static str {
    match error {
        GatewayError::Declined(_) => "declined",
        GatewayError::ActionRequired(_) => "action-required",
        GatewayError::InvalidInput(_) => "invalid-input",
        GatewayError::Configuration(_) => "configuration",
        GatewayError::RateLimited(_) => "rate-limited",
        GatewayError::IdempotencyConflict(_) => "idempotency-conflict",
        GatewayError::NotFound(_) => "not-found",
        GatewayError::Unsupported(_) => "unsupported",
        GatewayError::NotAttempted(_) => "not-attempted",
        GatewayError::OutcomeUnknown(_) => "outcome-unknown",
    }
}
