//! The intent log's executor: runs an operation (charge, capture, void, refund, a completed
//! customer action, or an invoice step) with its stored idempotency key and inputs, applies the
//! outcome forward-only and settles the operation (or leaves it `waiting` for an outcome the
//! gateway gives later). The flows write the intent first ([`Service::run_new_op`], or their
//! own ledger call that writes it with the object it concerns), then call [`Service::execute`];
//! the reconciler calls [`Service::execute`] on what a crash or an unknown outcome left
//! unsettled.
//!
//! An operation runs in one task of the process at a time ([`Service::claim`]); a second task
//! asking for it hears that it is in flight.

use crate::error::Error;
use crate::ledger::{
    InvoiceKeeper, NewOperation, OpKind, OpState, Operation, Transaction, TxnStatus,
};
use crate::retry::RetryPolicy;
use crate::service::{Claim, Service};

use super::outcome::{action_outcome, charge_outcome};
use super::params::{
    ChargeParams, CompleteActionParams, InvoiceCreateParams, InvoiceParams, PaymentParams,
    RefundParams, from_params,
};
use super::review;
use super::status::txn_from;
use omnicrm_host::contract::{CaptureRequest, Money, VoidRequest};
use omnicrm_host::error::CallError;

/// How an operation ended this time.
#[derive(Debug, Clone)]
pub struct Exec {
    /// The operation's state now.
    pub state: OpState,
    /// The gateway's error, when the call failed.
    pub error: Option<CallError>,
    /// Whether another task of this process is running the operation now.
    pub in_flight: bool,
    /// The transaction as a charge's outcome left it (read in the same database transaction
    /// that settled the operation), so that callers need not read it again.
    pub txn: Option<Transaction>,
}

impl Exec {
    /// The answer for an operation another task is running.
    pub fn in_flight() -> Self {
        Exec {
            state: OpState::Pending,
            error: None,
            in_flight: true,
            txn: None,
        }
    }

    /// Nothing but a conflict when the operation was in flight, the failure of its call.
    pub fn into_result(self) -> Result<(), Error> {
        if self.in_flight {
            return Err(Error::conflict(
                "status",
                "another request is changing this object now",
            ));
        }
        match self.error {
            Some(e) => Err(Error::from_call(&e)),
            None => Ok(()),
        }
    }
}

impl Service {
    /// Runs an operation of the intent log with its stored key and inputs, applies the outcome
    /// and settles the operation. Returns at once when the operation is running in this process
    /// or was settled meanwhile.
    pub async fn execute(&self, op: Operation, policy: RetryPolicy) -> Result<Exec, Error> {
        super::journal::record(op.id);
        let Some(guard) = self.claim(op.id) else {
            return Ok(Exec::in_flight());
        };
        let op_id = op.id;
        let op = match self.db.run(move |l| l.operation(op_id)).await? {
            Some(o) if matches!(o.state, OpState::Pending | OpState::Unknown) => o,
            Some(o) => {
                return Ok(Exec {
                    state: o.state,
                    error: None,
                    in_flight: false,
                    txn: None,
                });
            }
            None => return Err(Error::internal("operation vanished")),
        };
        self.run_claimed(op, policy, guard).await
    }

    /// Writes an operation (or finds the one written before with its key) and runs it.
    pub async fn run_new_op(&self, new: NewOperation, policy: RetryPolicy) -> Result<Exec, Error> {
        let (op, _) = self.db.run(move |l| l.insert_operation(&new)).await?;
        self.execute(op, policy).await
    }

    /// The unsettled (pending, unknown or waiting) operation of one of `kinds` on a transaction
    /// or an invoice, if any.
    pub async fn unsettled_op(
        &self,
        txn: Option<i64>,
        invoice: Option<i64>,
        kinds: &[OpKind],
    ) -> Result<Option<Operation>, Error> {
        let ops = self.db.run(move |l| l.operations_for(txn, invoice)).await?;
        Ok(ops.into_iter().find(|o| {
            kinds.contains(&o.kind)
                && matches!(
                    o.state,
                    OpState::Pending | OpState::Unknown | OpState::Waiting
                )
        }))
    }

    /// Runs an unsettled operation this task has claimed (see [`Service::execute`]): the call,
    /// then its outcome and the operation's settlement.
    pub(crate) async fn run_claimed(
        &self,
        op: Operation,
        policy: RetryPolicy,
        _guard: Claim<'_>,
    ) -> Result<Exec, Error> {
        super::journal::record(op.id);
        let op_id = op.id;
        let slot = self.slot(&op.gateway)?;
        let key = op.idempotency_key.clone();
        tracing::debug!(op = op.id, kind = %op.kind, gateway = %op.gateway, attempt = op.attempts + 1, "calling the gateway");
        let (state, error) = match op.kind {
            OpKind::Charge | OpKind::CompleteAction => {
                let complete = op.kind == OpKind::CompleteAction;
                let txn_id = op.transaction_id.unwrap_or_default();
                // The money the answer must carry: the charge's (a completion's transaction's).
                let (amount, currency) = if complete {
                    let t = self.transaction(txn_id).await?;
                    (t.amount, t.currency)
                } else {
                    let p = from_params::<ChargeParams>(&op)?;
                    (p.amount, p.currency)
                };
                let result = if complete {
                    let request = from_params::<CompleteActionParams>(&op)?.request(&key);
                    slot.call("complete-action", policy, |g| {
                        let r = request.clone();
                        async move { g.complete_action(r).await }
                    })
                    .await
                } else {
                    let request = from_params::<ChargeParams>(&op)?.request(&key);
                    slot.call("charge", policy, |g| {
                        let r = request.clone();
                        async move { g.charge(r).await }
                    })
                    .await
                };
                let network_id = result
                    .as_ref()
                    .ok()
                    .filter(|p| review::check_payment(p, amount, &currency).is_ok())
                    .and_then(|p| p.network_transaction_id.clone());
                // The outcome and the operation's settlement in one commit.
                let untrusted = review::screen(&result, amount, &currency);
                let (patch, state, error) = match &untrusted {
                    Some(why) => {
                        tracing::warn!(op = op.id, kind = %op.kind, %why, "gateway answer held for review");
                        review::held_outcome(result, why)
                    }
                    None if complete => action_outcome(result),
                    None => charge_outcome(result),
                };
                if let Some(e) = &error {
                    tracing::info!(op = op.id, kind = %op.kind, state = %state, error = %e, "gateway call failed");
                }
                let message = error.as_ref().map(|e| e.to_string());
                let from = match (patch.as_ref().and_then(|p| p.status), complete) {
                    // A completion may leave the payment waiting for a new action.
                    (Some(s), true) => {
                        let mut from = txn_from(s);
                        from.push(s);
                        from
                    }
                    (Some(s), false) => txn_from(s),
                    (None, true) => Vec::new(),
                    (None, false) => vec![TxnStatus::Pending, TxnStatus::Unknown],
                };
                let (state, txn) = self
                    .db
                    .run(move |l| {
                        l.settle_charge(
                            op_id,
                            txn_id,
                            &from,
                            patch.as_ref(),
                            state,
                            message.as_deref(),
                        )
                    })
                    .await?;
                if let (Some(id), Some(card)) = (network_id, txn.as_ref().and_then(|t| t.card_id)) {
                    // Stored credentials: the first payment's network id is the card's from now.
                    self.db
                        .run(move |l| l.set_card_network_transaction_id(card, &id))
                        .await?;
                }
                return Ok(Exec {
                    state,
                    error,
                    in_flight: false,
                    txn,
                });
            }
            // `Cancel` is the stored name of a void.
            OpKind::Capture | OpKind::Cancel => {
                let p: PaymentParams = from_params(&op)?;
                let capture = op.kind == OpKind::Capture;
                let amount = match (capture, p.amount, &p.currency) {
                    (false, _, _) => None,
                    (true, Some(amount), Some(currency)) => Some(Money {
                        amount,
                        currency: currency.clone(),
                    }),
                    // Written before the currency was stored: the transaction has both.
                    (true, amount, _) => {
                        let txn = self
                            .transaction(op.transaction_id.unwrap_or_default())
                            .await?;
                        Some(Money {
                            amount: amount.unwrap_or(txn.amount),
                            currency: txn.currency,
                        })
                    }
                };
                let final_capture = p.final_capture.unwrap_or(true);
                let result = slot
                    .call(op.kind.as_str(), policy, |g| {
                        let (payment, k, amount) = (p.payment.clone(), key.clone(), amount.clone());
                        async move {
                            if let Some(amount) = amount {
                                g.capture(CaptureRequest {
                                    payment,
                                    amount,
                                    final_capture,
                                    metadata: Vec::new(),
                                    idempotency_key: k,
                                })
                                .await
                            } else {
                                g.void(VoidRequest {
                                    payment,
                                    metadata: Vec::new(),
                                    idempotency_key: k,
                                })
                                .await
                            }
                        }
                    })
                    .await;
                self.apply_payment_change(&op, result, p.reason).await?
            }
            OpKind::Refund => {
                let params = from_params::<RefundParams>(&op)?;
                let currency = match &params.currency {
                    Some(c) => c.clone(),
                    // Written before the currency was stored: the transaction's.
                    None => self.transaction(params.transaction_id).await?.currency,
                };
                let request = params.request(&key, &currency);
                let result = slot
                    .call("refund", policy, |g| {
                        let r = request.clone();
                        async move { g.refund(r).await }
                    })
                    .await;
                self.apply_refund(op.refund_id.unwrap_or_default(), result)
                    .await?
            }
            OpKind::InvoiceCreate => {
                let invoice_id = op.invoice_id.unwrap_or_default();
                let request = from_params::<InvoiceCreateParams>(&op)?.request(invoice_id, &key);
                let result = slot
                    .call("create-invoice", policy, |g| {
                        let r = request.clone();
                        async move { g.create_invoice(r).await }
                    })
                    .await;
                self.apply_invoice(invoice_id, result).await?
            }
            OpKind::InvoiceCharge => {
                let request = from_params::<ChargeParams>(&op)?.request(&key);
                let result = slot
                    .call("charge", policy, |g| {
                        let r = request.clone();
                        async move { g.charge(r).await }
                    })
                    .await;
                self.apply_invoice_charge(op.invoice_id.unwrap_or_default(), result)
                    .await?
            }
            OpKind::InvoiceFinalize | OpKind::InvoiceVoid
                if self
                    .invoice(op.invoice_id.unwrap_or_default())
                    .await?
                    .kept_by
                    == InvoiceKeeper::Ledger =>
            {
                self.ledger_invoice_step(op.kind, op.invoice_id.unwrap_or_default())
                    .await?
            }
            OpKind::InvoiceFinalize | OpKind::InvoicePay | OpKind::InvoiceVoid => {
                let p: InvoiceParams = from_params(&op)?;
                let kind = op.kind;
                let result = slot
                    .call(kind.as_str(), policy, |g| {
                        let (inv, card, k) = (p.invoice.clone(), p.card.clone(), key.clone());
                        async move {
                            match kind {
                                OpKind::InvoiceFinalize => g.finalize_invoice(&inv, &k).await,
                                OpKind::InvoicePay => {
                                    g.pay_invoice(&inv, card.as_deref(), &k).await
                                }
                                _ => g.void_invoice(&inv, &k).await,
                            }
                        }
                    })
                    .await;
                self.apply_invoice(op.invoice_id.unwrap_or_default(), result)
                    .await?
            }
        };
        let message = error.as_ref().map(|e| e.to_string());
        if let Some(e) = &error {
            tracing::info!(op = op.id, kind = %op.kind, state = %state, error = %e, "gateway call failed");
        }
        self.db
            .run(move |l| l.set_operation_state(op_id, state, message.as_deref(), true))
            .await?;
        Ok(Exec {
            state,
            error,
            in_flight: false,
            txn: None,
        })
    }
}
