//! A service over a fresh SQLite ledger in a temporary directory and the scripted fake gateway,
//! with one customer and a stored card; and what the tests assert on it.

use std::sync::Arc;

use omnicrm_host::contract::{Capabilities, Failure, GatewayError};
use omnicrm_host::error::CallError;

use super::fake_gateway::FakeGateway;
use crate::ledger::sqlite::SqliteLedger;
use crate::ledger::{
    Capture, Db, Durability, Initiator, Operation, Transaction, TxnKind, TxnStatus, now,
};
use crate::payments::TxnRequest;
use crate::service::Service;

/// The CRM customer every test charges.
pub const CUSTOMER: &str = "acme-7";

/// The service, the fake it calls, and the directory of its ledger.
pub struct Env {
    pub service: Arc<Service>,
    pub fake: Arc<FakeGateway>,
    _dir: tempfile::TempDir,
}

/// A service over a fresh ledger and the fake, with one customer and a stored card.
pub async fn env() -> Env {
    env_with(FakeGateway::new()).await
}

/// [`env`] with a fake declaring `capabilities` (e.g. [`super::fake_gateway::asynchronous`],
/// a gateway like Adyen's).
pub async fn env_with_capabilities(capabilities: Capabilities) -> Env {
    env_with(FakeGateway::with_capabilities(capabilities)).await
}

/// A service over a fresh ledger and `fake`, with one customer and a stored card.
pub async fn env_with(fake: Arc<FakeGateway>) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let ledger = SqliteLedger::open(&dir.path().join("ledger.db"), Durability::Normal).unwrap();
    let service = Arc::new(Service::new(
        Db::new(Arc::new(ledger)),
        Arc::new(fake.gateways()),
    ));
    service
        .link_customer(CUSTOMER, None, None, None, None)
        .await
        .unwrap();
    service
        .store_card(CUSTOMER, None, "tok_visa", None, true, None)
        .await
        .unwrap();
    Env {
        service,
        fake,
        _dir: dir,
    }
}

/// A charge of `amount` EUR cents to the customer's default card, made at once or left
/// pending for a billing run.
pub fn charge(amount: i64, at_once: bool) -> TxnRequest {
    TxnRequest {
        customer_id: CUSTOMER.into(),
        amount,
        currency: "EUR".into(),
        description: Some(format!("line of {amount}")),
        kind: TxnKind::Charge,
        card_id: None,
        capture: Capture::Automatic,
        charge_now: at_once,
        initiator: Initiator::MerchantUnscheduled,
        return_url: None,
        client_key: None,
    }
}

/// A failure's details.
pub fn failure() -> Failure {
    Failure {
        message: "scripted".into(),
        request_id: None,
    }
}

/// The gateway's word that it did nothing.
pub fn not_attempted() -> CallError {
    CallError::Gateway(GatewayError::NotAttempted(failure()))
}

impl Env {
    /// A transaction as it stands.
    pub async fn txn(&self, id: i64) -> Transaction {
        self.service.transaction(id).await.unwrap()
    }

    /// A transaction's operations, oldest first.
    pub async fn operations(&self, txn_id: i64) -> Vec<Operation> {
        self.service
            .db
            .run(move |l| l.operations_for(Some(txn_id), None))
            .await
            .unwrap()
    }

    /// Every operation still pending or unknown.
    pub async fn unsettled(&self) -> Vec<Operation> {
        self.service
            .db
            .run(|l| l.unsettled_operations(now() + 1, 100))
            .await
            .unwrap()
    }

    /// Asserts that every charge that reached the gateway carried the transaction's key and the
    /// same inputs (the stored ones), and that the gateway made one payment: the transaction's.
    pub fn assert_charged_once(&self, txn: &Transaction, calls: usize) {
        let charges = self.fake.calls_of("charge");
        assert_eq!(charges.len(), calls, "{charges:#?}");
        for c in &charges {
            assert_eq!(c.key.as_deref(), Some(txn.idempotency_key.as_str()));
            assert_eq!(
                c.inputs, charges[0].inputs,
                "a repeat sends the same inputs"
            );
        }
        let payments = self.fake.payments();
        assert_eq!(payments.len(), 1, "{payments:#?}");
        let (id, payment) = payments.iter().next().unwrap();
        assert_eq!(txn.gateway_payment_ref.as_deref(), Some(id.as_str()));
        assert_eq!(txn.status, TxnStatus::Succeeded);
        assert_eq!(txn.amount_captured, txn.amount);
        assert_eq!(payment.amount.amount, txn.amount);
    }
}
