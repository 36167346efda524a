//! Changing an authorization through the intent log: a capture or a void, each with a key of its
//! own derived from the transaction's. When the gateway refuses (the authorization expired or
//! was settled elsewhere), the payment is looked up and the transaction moved to what the
//! gateway says.

use crate::error::Error;
use crate::keys::digest;
use crate::ledger::{NewOperation, OpKind, Transaction, TxnPatch, TxnStatus, new_key};
use crate::retry::RetryPolicy;
use crate::service::Service;

use super::lookup::AUTHORIZATION_EXPIRED;
use super::outcome::{ErrorClass, classify};
use super::params::{PaymentParams, to_params};

/// A change of an authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    /// Take all of it, or `amount`.
    Capture(Option<i64>),
    /// Release it.
    Void,
}

impl Change {
    /// The operation's kind, as stored.
    fn kind(self) -> OpKind {
        match self {
            Change::Capture(_) => OpKind::Capture,
            Change::Void => OpKind::Cancel,
        }
    }
}

impl Service {
    /// Captures or voids an authorized transaction (or settles such a change left unsettled).
    pub(crate) async fn change_authorization(
        &self,
        txn_id: i64,
        change: Change,
    ) -> Result<Transaction, Error> {
        let txn = self.transaction(txn_id).await?;
        let kind = change.kind();
        let op = match self
            .unsettled_op(Some(txn_id), None, &[OpKind::Capture, OpKind::Cancel])
            .await?
        {
            Some(op) => op,
            None => {
                let new = change_operation(&txn, change)?;
                let (op, _) = self.db.run(move |l| l.insert_operation(&new)).await?;
                op
            }
        };
        let exec = self.execute(op, RetryPolicy::INTERACTIVE).await?;
        if !exec.in_flight
            && let Some(e) = &exec.error
            && classify(e) == ErrorClass::Final
        {
            // Refused: the authorization may be gone at the gateway (expired, or settled
            // elsewhere). Look it up and move the transaction to what the gateway says (a
            // webhook may have told first).
            if let Err(e) = self
                .settle_authorization(&self.transaction(txn_id).await?)
                .await
            {
                tracing::warn!(transaction = txn_id, error = %e, "looking a payment up failed");
            }
            let status = self.transaction(txn_id).await?.status;
            if status == TxnStatus::Canceled {
                // Canceled at the gateway before our call: say why on the row (rather than
                // the refusal's message).
                let patch = TxnPatch {
                    last_error: Some(Some(AUTHORIZATION_EXPIRED.into())),
                    ..Default::default()
                };
                self.db
                    .run(move |l| l.update_transaction(txn_id, &[TxnStatus::Canceled], &patch))
                    .await?;
            }
            match (kind, status) {
                (OpKind::Capture, TxnStatus::Canceled) => {
                    return Err(Error::conflict(
                        "transaction_id",
                        format!("the transaction cannot be captured: {AUTHORIZATION_EXPIRED}"),
                    ));
                }
                (OpKind::Capture, TxnStatus::Succeeded) | (OpKind::Cancel, TxnStatus::Canceled) => {
                    return self.transaction(txn_id).await;
                }
                _ => {}
            }
        }
        exec.into_result()?;
        self.transaction(txn_id).await
    }
}

/// The operation of a change of an authorized transaction; refused unless it is authorized.
fn change_operation(txn: &Transaction, change: Change) -> Result<NewOperation, Error> {
    let kind = change.kind();
    if txn.status != TxnStatus::Authorized {
        let what = match change {
            Change::Capture(_) => "captured",
            Change::Void => "voided",
        };
        let why = match &txn.last_error {
            Some(e) if txn.status == TxnStatus::Canceled => format!(" ({e})"),
            _ => String::new(),
        };
        return Err(Error::conflict(
            "transaction_id",
            format!(
                "a {} transaction cannot be {what}; only authorized ones{why}",
                txn.status
            ),
        ));
    }
    let amount = match change {
        Change::Capture(amount) => amount,
        Change::Void => None,
    };
    if let Some(a) = amount
        && (a <= 0 || a > txn.amount)
    {
        return Err(Error::invalid(
            "amount",
            format!("must be between 1 and the authorized {}", txn.amount),
        ));
    }
    let payment = txn
        .gateway_payment_ref
        .clone()
        .ok_or_else(|| Error::conflict("transaction_id", "no payment at the gateway"))?;
    Ok(NewOperation {
        kind,
        gateway: txn.gateway.clone().unwrap_or_default(),
        transaction_id: Some(txn.id),
        refund_id: None,
        invoice_id: None,
        idempotency_key: format!(
            "{}:{}:{}",
            txn.idempotency_key,
            kind.as_str(),
            digest(&[&new_key("x")])
        ),
        params: to_params(&PaymentParams {
            payment,
            amount,
            reason: None,
        })?,
    })
}
