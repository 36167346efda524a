//! Changing an authorization through the intent log: a capture or a void, each with a key of its
//! own derived from the transaction's and the request's. One runs at a time per authorization;
//! a gateway with `multiple-captures` takes another capture while earlier ones wait for their
//! outcome. When the gateway refuses (the authorization expired or was settled elsewhere), the
//! payment is looked up (where the gateway has lookups) and the transaction moved to what the
//! gateway says. A change the gateway answers `pending` leaves the transaction as it is and
//! settles later ([`super::pending`]).

use crate::currency::format_amount;
use crate::error::Error;
use crate::ledger::{
    Begun, LedgerError, NewCapture, NewOperation, OpKind, OpState, Operation, Transaction,
    TxnPatch, TxnStatus,
};
use crate::retry::RetryPolicy;
use crate::service::Service;
use omnicrm_host::contract::Capabilities;

use super::amount::check_amount;
use super::lookup::AUTHORIZATION_EXPIRED;
use super::outcome::{ErrorClass, classify};
use super::params::{PaymentParams, from_params, to_params};
use super::requester::Requester;

/// A change of an authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    /// Take all of what remains, or `amount`; `final_capture` releases the rest.
    Capture {
        /// How much (none: all that remains).
        amount: Option<i64>,
        /// Whether the rest of the authorization is released.
        final_capture: bool,
    },
    /// Release it.
    Void,
}

impl Change {
    /// The operation's kind, as stored.
    fn kind(self) -> OpKind {
        match self {
            Change::Capture { .. } => OpKind::Capture,
            Change::Void => OpKind::Cancel,
        }
    }
}

/// A transaction as a change of its authorization left it, and whether the gateway answered
/// `pending` (the outcome comes later).
pub type Changed = (Transaction, bool);

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
    ) -> Result<Changed, Error> {
        let txn = self.transaction(txn_id).await?;
        let kind = change.kind();
        if let Change::Capture {
            amount: Some(a), ..
        } = change
            && (check_amount("amount", a).is_err() || a > txn.amount)
        {
            return Err(Error::invalid(
                "amount",
                format!("must be between 1 and the authorized {}", txn.amount),
            ));
        }
        let capabilities = match &txn.gateway {
            Some(g) => self.capabilities(g)?,
            None => Capabilities::empty(),
        };
        let several = capabilities.contains(Capabilities::MULTIPLE_CAPTURES);
        if let Change::Capture {
            final_capture: false,
            ..
        } = change
            && !several
        {
            return Err(Error::invalid(
                "final_capture",
                format!(
                    "gateway {} captures an authorization once: every capture is final",
                    txn.gateway.as_deref().unwrap_or("?")
                ),
            ));
        }
        let concurrent = several && kind == OpKind::Capture;
        let key = format!(
            "{}:{}:{}",
            txn.idempotency_key,
            kind.as_str(),
            requester.key_part()
        );
        let begun = self
            .db
            .run(move |l| {
                l.begin_payment_change(txn_id, concurrent, &|t, remaining| {
                    change_operation(t, change, &key, remaining)
                })
            })
            .await?;
        let op = match begun {
            Begun::Started(op) => op,
            Begun::Busy(op) if op.kind == kind && requester.resumes(&op.idempotency_key) => op,
            Begun::Busy(op) => return Err(change_in_progress(&txn, &op)),
            Begun::Refused(t) => return Err(not_authorized(&t, change)),
            Begun::Settled(op) => {
                let waiting = op.state == OpState::Waiting;
                return Ok((self.transaction(txn_id).await?, waiting));
            }
        };
        let exec = self.execute(op, RetryPolicy::INTERACTIVE).await?;
        if exec.state == OpState::Waiting {
            return Ok((self.transaction(txn_id).await?, true));
        }
        if !exec.in_flight
            && let Some(e) = &exec.error
            && classify(e) == ErrorClass::Final
            && capabilities.contains(Capabilities::PAYMENT_LOOKUP)
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
                    return Ok((self.transaction(txn_id).await?, false));
                }
                _ => {}
            }
        }
        exec.into_result()?;
        Ok((self.transaction(txn_id).await?, false))
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
    let state = match op.state {
        OpState::Unknown => {
            "has an unknown outcome; the reconciler settles it (or the request that started it, \
             repeated with its Idempotency-Key)"
        }
        OpState::Waiting => "was accepted by the gateway, which settles it later",
        _ => "is in progress",
    };
    Error::conflict("transaction_id", format!("{what} {state}"))
}

/// The answer to a change of a transaction that is not (or no longer) authorized: what happened
/// to it.
fn not_authorized(txn: &Transaction, change: Change) -> Error {
    let what = match change {
        Change::Capture { .. } => "captured",
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

/// The operation of a change of an authorized transaction, with its key, and the capture it
/// makes (of `amount`, or all that `remaining` leaves).
fn change_operation(
    txn: &Transaction,
    change: Change,
    key: &str,
    remaining: i64,
) -> Result<(NewOperation, Option<NewCapture>), LedgerError> {
    let (amount, final_capture) = match change {
        Change::Capture {
            amount,
            final_capture,
        } => {
            let amount = amount.unwrap_or(remaining);
            if amount > remaining || remaining <= 0 {
                return Err(LedgerError::CaptureExceeds {
                    requested: amount,
                    remaining: remaining.max(0),
                });
            }
            (Some(amount), Some(final_capture).filter(|f| !f))
        }
        Change::Void => (None, None),
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
        final_capture,
    })
    .map_err(|e| LedgerError::Database(e.message))?;
    let capture = amount.map(|amount| NewCapture {
        amount,
        currency: txn.currency.clone(),
        final_capture: final_capture.unwrap_or(true),
    });
    let op = NewOperation {
        kind: change.kind(),
        gateway: txn.gateway.clone().unwrap_or_default(),
        transaction_id: Some(txn.id),
        refund_id: None,
        invoice_id: None,
        idempotency_key: key.to_string(),
        params,
    };
    Ok((op, capture))
}
