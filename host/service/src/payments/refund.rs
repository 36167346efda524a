//! Refunding a transaction, in full or in part: the refund, its intent and the check that it
//! does not exceed what remains are written in one commit, then the refund is made. A refund the
//! gateway answers `pending` settles later ([`super::pending`]).

use crate::error::Error;
use crate::ledger::{LedgerError, NewOperation, OpKind, OpState, Refund, Transaction, new_key};
use crate::retry::RetryPolicy;
use crate::service::Service;

use super::amount::check_amount;
use super::outcome::{ErrorClass, classify};
use super::params::{RefundParams, refund_reason};

impl Service {
    /// Refunds a transaction, in full (amount none) or in part. Says whether the gateway
    /// answered `pending` (the outcome comes later).
    pub async fn refund(
        &self,
        txn_id: i64,
        amount: Option<i64>,
        reason: Option<String>,
        client_key: Option<String>,
    ) -> Result<(Refund, bool), Error> {
        if let Some(a) = amount {
            check_amount("amount", a)?;
        }
        if let Some(r) = &reason
            && refund_reason(r).is_none()
        {
            return Err(Error::invalid(
                "reason",
                "must be duplicate, fraudulent or requested_by_customer",
            ));
        }
        let key = match client_key {
            Some(k) => format!("refund-{k}"),
            None => new_key("refund"),
        };
        let (refund, op) = self
            .db
            .run(move |l| {
                l.create_refund(txn_id, amount, reason.as_deref(), &key, &refund_operation)
            })
            .await?;
        let exec = self.execute(op, RetryPolicy::INTERACTIVE).await?;
        let waiting = exec.state == OpState::Waiting;
        let refund_id = refund.id;
        let refund = self
            .db
            .run(move |l| l.refund(refund_id))
            .await?
            .ok_or_else(|| Error::internal("refund vanished"))?;
        match exec.error {
            Some(e) if classify(&e) == ErrorClass::Final => Err(Error::from_call(&e)),
            _ => Ok((refund, waiting)),
        }
    }
}

/// The operation that makes a refund of a transaction, with the refund's key.
fn refund_operation(r: &Refund, t: &Transaction) -> Result<NewOperation, LedgerError> {
    let params = RefundParams {
        payment: t.gateway_payment_ref.clone().unwrap_or_default(),
        amount: r.amount,
        currency: Some(t.currency.clone()),
        reason: r.reason.clone(),
        transaction_id: t.id,
    };
    Ok(NewOperation {
        kind: OpKind::Refund,
        gateway: t.gateway.clone().unwrap_or_default(),
        transaction_id: Some(t.id),
        refund_id: Some(r.id),
        invoice_id: None,
        idempotency_key: r.idempotency_key.clone().unwrap_or_default(),
        params: serde_json::to_value(params).map_err(|e| LedgerError::Database(e.to_string()))?,
    })
}
