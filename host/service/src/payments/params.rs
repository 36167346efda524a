//! The stored inputs of each operation of the intent log, and the gateway request each becomes.
//! They are written with the operation before the gateway is called, so that a repeat (after an
//! unknown outcome or a crash) sends exactly the same request with the same idempotency key.
//!
//! Their JSON is persisted in the ledger: fields may be added (with defaults), never renamed.

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::ledger::{Capture, Initiator, Operation};
use omnicrm_host::contract::{
    ActionCompletion, CaptureMode, ChargeRequest, CollectionMethod, InvoiceRequest, LineItem,
    Money, RefundReason, RefundRequest, StoredCredentialUse,
};

/// The inputs of a charge, stored with its operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChargeParams {
    /// Gateway customer.
    pub customer: String,
    /// Stored card at the gateway.
    pub card: String,
    /// Amount in minor units.
    pub amount: i64,
    /// Currency.
    pub currency: String,
    /// Description.
    pub description: Option<String>,
    /// automatic or manual.
    pub capture: Capture,
    /// Metadata.
    pub metadata: Vec<(String, String)>,
    /// Who starts the charge (absent from operations written before it was stored: the
    /// merchant, unscheduled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiator: Option<Initiator>,
    /// Where the customer comes back after an action (customer-initiated charges).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_url: Option<String>,
    /// The card network's id of the payment that stored the card, quoted by the charge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_transaction_id: Option<String>,
}

/// The contract's stored-credential use of who starts a charge.
pub fn stored_credential_use(initiator: Initiator) -> StoredCredentialUse {
    match initiator {
        Initiator::Customer => StoredCredentialUse::CustomerInitiated,
        Initiator::MerchantRecurring => StoredCredentialUse::MerchantRecurring,
        Initiator::MerchantUnscheduled => StoredCredentialUse::MerchantUnscheduled,
    }
}

impl ChargeParams {
    /// The gateway request, with the operation's key: the stored card charged as its initiator
    /// says (the merchant, unscheduled, for operations written before it was stored), quoting
    /// the card's network transaction id when the ledger has it.
    pub fn request(&self, idempotency_key: &str) -> ChargeRequest {
        ChargeRequest {
            customer: self.customer.clone(),
            card: self.card.clone(),
            amount: Money {
                amount: self.amount,
                currency: self.currency.clone(),
            },
            description: self.description.clone(),
            metadata: self.metadata.clone(),
            capture: match self.capture {
                Capture::Automatic => CaptureMode::Automatic,
                Capture::Manual => CaptureMode::Manual,
            },
            stored_credential: stored_credential_use(
                self.initiator.unwrap_or(Initiator::MerchantUnscheduled),
            ),
            network_transaction_id: self.network_transaction_id.clone(),
            return_url: self.return_url.clone(),
            idempotency_key: idempotency_key.to_string(),
        }
    }
}

/// The inputs of a capture or a void of an authorization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentParams {
    /// Gateway payment.
    pub payment: String,
    /// Amount to capture (none: all that was authorized).
    #[serde(default)]
    pub amount: Option<i64>,
    /// The payment's currency (absent from operations written before it was stored: then the
    /// transaction's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Why the service voids on its own (recorded as the transaction's last error once the
    /// payment is canceled); none for captures and voids the CRM asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Whether a capture releases the rest of the authorization (absent: it does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_capture: Option<bool>,
}

/// The inputs of the completion of a payment after the customer's action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompleteActionParams {
    /// Gateway payment.
    pub payment: String,
    /// What the gateway's page or SDK returned.
    #[serde(default)]
    pub details: Vec<(String, String)>,
}

impl CompleteActionParams {
    /// The gateway request, with the operation's key.
    pub fn request(&self, idempotency_key: &str) -> ActionCompletion {
        ActionCompletion {
            payment: self.payment.clone(),
            details: self.details.clone(),
            idempotency_key: idempotency_key.to_string(),
        }
    }
}

/// The inputs of a refund.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefundParams {
    /// Gateway payment.
    pub payment: String,
    /// Amount.
    pub amount: i64,
    /// The payment's currency (absent from operations written before it was stored: then the
    /// transaction's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Reason (`duplicate`, `fraudulent`, `requested_by_customer`).
    pub reason: Option<String>,
    /// Ledger transaction.
    pub transaction_id: i64,
}

impl RefundParams {
    /// The gateway request, with the operation's key, in `currency` (the transaction's).
    pub fn request(&self, idempotency_key: &str, currency: &str) -> RefundRequest {
        RefundRequest {
            payment: self.payment.clone(),
            amount: Money {
                amount: self.amount,
                currency: self
                    .currency
                    .clone()
                    .unwrap_or_else(|| currency.to_string()),
            },
            reason: self.reason.as_deref().and_then(refund_reason),
            metadata: vec![("crm_transaction_id".into(), self.transaction_id.to_string())],
            idempotency_key: idempotency_key.to_string(),
        }
    }
}

/// One line of an invoice creation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineParams {
    /// Description.
    pub description: String,
    /// Signed amount (a credit is negative).
    pub unit_amount: i64,
    /// Ledger transaction.
    pub transaction_id: i64,
}

/// The inputs of an invoice creation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvoiceCreateParams {
    /// Gateway customer.
    pub customer: String,
    /// Currency.
    pub currency: String,
    /// Lines.
    pub items: Vec<LineParams>,
    /// Note.
    pub description: Option<String>,
    /// Days until due.
    pub days_until_due: u32,
    /// The ledger's invoice number.
    pub number: String,
}

impl InvoiceCreateParams {
    /// The gateway request for the ledger's invoice `invoice_id`, with the operation's key.
    pub fn request(&self, invoice_id: i64, idempotency_key: &str) -> InvoiceRequest {
        InvoiceRequest {
            customer: self.customer.clone(),
            currency: self.currency.clone(),
            items: self
                .items
                .iter()
                .map(|i| LineItem {
                    description: i.description.clone(),
                    unit_amount: i.unit_amount,
                    quantity: 1,
                    metadata: vec![("crm_transaction_id".into(), i.transaction_id.to_string())],
                })
                .collect(),
            description: self.description.clone(),
            collection: CollectionMethod::SendInvoice,
            days_until_due: Some(self.days_until_due),
            metadata: vec![
                ("crm_invoice_id".into(), invoice_id.to_string()),
                ("crm_invoice_number".into(), self.number.clone()),
            ],
            idempotency_key: idempotency_key.to_string(),
        }
    }
}

/// The inputs of an invoice finalize, pay or void.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvoiceParams {
    /// Gateway invoice.
    pub invoice: String,
    /// Stored card to pay with (none: the default).
    #[serde(default)]
    pub card: Option<String>,
}

/// The contract's refund reason of the service's spelling; none for an unknown one.
pub fn refund_reason(s: &str) -> Option<RefundReason> {
    match s {
        "duplicate" => Some(RefundReason::Duplicate),
        "fraudulent" => Some(RefundReason::Fraudulent),
        "requested_by_customer" => Some(RefundReason::RequestedByCustomer),
        _ => None,
    }
}

/// An operation's inputs as stored in the intent log.
pub fn to_params<T: Serialize>(params: &T) -> Result<serde_json::Value, Error> {
    serde_json::to_value(params).map_err(|e| Error::internal(e.to_string()))
}

/// The stored inputs of an operation.
pub fn from_params<T: for<'de> Deserialize<'de>>(op: &Operation) -> Result<T, Error> {
    serde_json::from_value(op.params.clone())
        .map_err(|e| Error::internal(format!("operation {}: {e}", op.id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_inputs_keep_their_spelling() {
        // Operations written by earlier builds must still be read.
        let stored = serde_json::json!({
            "customer": "cus_1", "card": "pm_1", "amount": 1250, "currency": "EUR",
            "description": null, "capture": "manual",
            "metadata": [["crm_transaction_id", "7"]],
        });
        let p: ChargeParams = serde_json::from_value(stored.clone()).unwrap();
        assert_eq!(serde_json::to_value(&p).unwrap(), stored);
        let r = p.request("txn-abc");
        assert_eq!(r.idempotency_key, "txn-abc");
        assert_eq!(r.capture, CaptureMode::Manual);
        assert_eq!(r.amount.amount, 1250);

        let p: PaymentParams =
            serde_json::from_value(serde_json::json!({"payment": "pi_1"})).unwrap();
        assert_eq!(p.amount, None);
        assert_eq!(p.reason, None);
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            serde_json::json!({"payment": "pi_1", "amount": null})
        );
    }

    #[test]
    fn refund_reasons_are_the_contracts() {
        assert_eq!(refund_reason("duplicate"), Some(RefundReason::Duplicate));
        assert_eq!(
            refund_reason("requested_by_customer"),
            Some(RefundReason::RequestedByCustomer)
        );
        assert_eq!(refund_reason("because"), None);
    }
}
