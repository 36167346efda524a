//! Changing an authorization through the intent log: a capture or a void, each with a key of its
//! own derived from the transaction's and the request's. One runs at a time per authorization.
//! When the gateway refuses (the authorization expired or was settled elsewhere), the payment is
//! looked up and the transaction moved to what the gateway says.

use crate::currency::format_amount;
use crate::error::Error;
use crate::ledger::{
    Begun, LedgerError, NewOperation, OpKind, OpState, Operation, Transaction, TxnPatch, TxnStatus,
};
use crate::retry::RetryPolicy;
use crate::service::Service;

use super::amount::check_amount;
use super::lookup::AUTHORIZATION_EXPIRED;
use super::outcome::{ErrorClass, classify};
use super::params::{PaymentParams, from_params, to_params};
use super::requester::Requester;

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
    ///
    /// The operation is written only while the transaction is authorized and no other capture or
    /// void of it is unsettled, in one ledger write: of requests racing on one authorization,
    /// exactly one changes it. The others hear what is in progress, or what happened; only the
    /// request that wrote an operation (repeated with its key), or the service itself, resumes it.
    pub(crate) async fn change_authorization(
        &self,
        txn_id: i64,
        change: Change,
        requester: Requester<'_>,
    ) -> Result<Transaction, Error> {
        let txn = self.transaction(txn_id).await?;
        let kind = change.kind();
        if let Change::Capture(Some(a)) = change
            && (check_amount("amount", a).is_err() || a > txn.amount)
        {
            return Err(Error::invalid(
                "amount",
                format!("must be between 1 and the authorized {}", txn.amount),
            ));
        }
        let key = format!(
            "{}:{}:{}",
            txn.idempotency_key,
            kind.as_str(),
            requester.key_part()
        );
        let begun = self
            .db
            .run(move |l| l.begin_payment_change(txn_id, &|t| change_operation(t, change, &key)))
            .await?;
        let op = match begun {
            Begun::Started(op) => op,
            Begun::Busy(op) if op.kind == kind && requester.resumes(&op.idempotency_key) => op,
            Begun::Busy(op) => return Err(change_in_progress(&txn, &op)),
            Begun::Refused(t) => return Err(not_authorized(&t, change)),
            Begun::Settled(_) => return self.transaction(txn_id).await,
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

/// The answer to a change of a transaction that another capture or void, not settled yet, is
/// changing.
fn change_in_progress(txn: &Transaction, op: &Operation) -> Error {
    let what = match op.kind {
        OpKind::Capture => {
            let amount = from_params::<PaymentParams>(op)
                .ok()
                .and_then(|p| p.amount)
                .unwrap_or(txn.amount);
            format!(
                "a capture of {} of this transaction",
                format_amount(amount, &txn.currency)
            )
        }
        _ => "a void of this transaction".to_string(),
    };
    let state = if op.state == OpState::Unknown {
        "has an unknown outcome; the reconciler settles it (or the request that started it, \
         repeated with its Idempotency-Key)"
    } else {
        "is in progress"
    };
    Error::conflict("transaction_id", format!("{what} {state}"))
}

/// The answer to a change of a transaction that is not (or no longer) authorized: what happened
/// to it.
fn not_authorized(txn: &Transaction, change: Change) -> Error {
    let what = match change {
        Change::Capture(_) => "captured",
        Change::Void => "voided",
    };
    let happened = match txn.status {
        TxnStatus::Succeeded | TxnStatus::PartiallyRefunded | TxnStatus::Refunded => format!(
            "it was captured ({}){}",
            format_amount(txn.amount_captured, &txn.currency),
            if txn.status == TxnStatus::Succeeded {
                String::new()
            } else {
                format!(" and is {}", txn.status)
            }
        ),
        TxnStatus::Canceled => match &txn.last_error {
            Some(e) => format!("it was voided ({e})"),
            None => "it was voided".to_string(),
        },
        other => format!("it is {other}"),
    };
    Error::conflict(
        "transaction_id",
        format!("the transaction cannot be {what}: {happened}; only authorized ones can"),
    )
}

/// The operation of a change of an authorized transaction, with its key.
fn change_operation(
    txn: &Transaction,
    change: Change,
    key: &str,
) -> Result<NewOperation, LedgerError> {
    let amount = match change {
        Change::Capture(amount) => Some(amount.unwrap_or(txn.amount)),
        Change::Void => None,
    };
    let payment = txn
        .gateway_payment_ref
        .clone()
        .ok_or_else(|| LedgerError::Conflict {
            field: "transaction_id",
            message: "no payment at the gateway".into(),
        })?;
    let params = to_params(&PaymentParams {
        payment,
        amount,
        currency: Some(txn.currency.clone()),
        reason: None,
    })
    .map_err(|e| LedgerError::Database(e.message))?;
    Ok(NewOperation {
        kind: change.kind(),
        gateway: txn.gateway.clone().unwrap_or_default(),
        transaction_id: Some(txn.id),
        refund_id: None,
        invoice_id: None,
        idempotency_key: key.to_string(),
        params,
    })
}
