//! Modifications the gateway settles later: captures, voids and refunds it answered `pending`
//! (their operations `waiting`), and payments of ledger invoices it left `processing`.
//!
//! They are never repeated. An event settles them ([`crate::events`]: a `modification` event,
//! or a `payment` event saying where the payment now stands); where the gateway has lookups
//! (`payment-lookup` for captures, voids and invoice payments, `refund-lookup` for refunds) the
//! reconciler asks ([`Service::reconcile_waiting`]); a gateway without them is never asked, and
//! what waits longer than [`ReconcileSettings::modification_overdue`] is flagged for operators
//! (the operation's, capture's or refund's last error says so).
//!
//! [`ReconcileSettings::modification_overdue`]: crate::service::ReconcileSettings::modification_overdue

use serde::Serialize;

use crate::error::Error;
use crate::ledger::{
    CaptureStatus, InvoicePatch, InvoiceStatus, OpKind, OpState, Operation, Refund, RefundStatus,
    Transaction, Ts, TxnPatch, TxnStatus, now,
};
use crate::live_gateways::Lane;
use crate::retry::RetryPolicy;
use crate::service::Service;
use omnicrm_host::contract::{
    Capabilities, ModificationKind, ModificationStatus, ModificationUpdate, PaymentStatus,
};

use super::outcome::fee_of;
use super::params::{PaymentParams, from_params};
use super::status::refund_status_of;

/// What the reconciler's pass over waiting modifications found.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct WaitingReport {
    /// Settled now, from a lookup.
    pub settled: u64,
    /// Still waiting for their outcome.
    pub waiting: u64,
    /// Waiting longer than the bound: flagged for operators.
    pub overdue: u64,
}

/// Where the payment of a ledger invoice stands.
#[derive(Debug, Clone)]
pub struct InvoicePayment {
    /// The gateway's payment.
    pub payment: String,
    /// Its status.
    pub status: PaymentStatus,
    /// How much it took.
    pub captured: i64,
    /// The gateway's fee, in the invoice's currency, when reported.
    pub fee: Option<i64>,
}

impl InvoicePayment {
    /// Where a payment the gateway answered with stands.
    pub fn of(p: &omnicrm_host::contract::Payment) -> Self {
        InvoicePayment {
            payment: p.id.clone(),
            status: p.status,
            captured: p.amount_captured,
            fee: fee_of(p),
        }
    }
}

/// The last error of a modification overdue.
fn overdue_note(kind: OpKind, waited: Ts) -> String {
    format!(
        "the gateway accepted this {} {} ago and has not told its outcome yet; check it at the \
         gateway",
        match kind {
            OpKind::Capture => "capture",
            OpKind::Cancel => "void",
            OpKind::Refund => "refund",
            _ => "payment",
        },
        crate::reconcile::span(std::time::Duration::from_secs(waited.max(0) as u64))
    )
}

impl Service {
    /// The operations of one `kind` of a transaction that wait for their outcome.
    async fn waiting_of(&self, txn_id: i64, kind: OpKind) -> Result<Vec<Operation>, Error> {
        let ops = self
            .db
            .run(move |l| l.operations_for(Some(txn_id), None))
            .await?;
        Ok(ops
            .into_iter()
            .filter(|o| o.kind == kind && o.state == OpState::Waiting)
            .collect())
    }

    /// Settles a waiting operation (`done` or `failed`, with its error), counting no attempt.
    async fn finish(&self, op_id: i64, state: OpState, error: Option<String>) -> Result<(), Error> {
        self.db
            .run(move |l| l.set_operation_state(op_id, state, error.as_deref(), false))
            .await?;
        Ok(())
    }

    /// Settles a transaction's waiting captures and voids from where its payment stands now (a
    /// `payment` event or a lookup): a captured payment (or, with several captures, one whose
    /// captured amount covers a capture) settles its captures and refuses its voids; a canceled
    /// or failed one settles its voids and refuses its captures. Returns how many settled.
    pub(crate) async fn settle_waiting_changes(
        &self,
        txn: &Transaction,
        status: PaymentStatus,
        captured: Option<i64>,
    ) -> Result<u64, Error> {
        let mut settled = 0;
        let mut succeeded_sum: i64 = {
            let id = txn.id;
            self.db
                .run(move |l| l.captures(id))
                .await?
                .iter()
                .filter(|c| c.status == CaptureStatus::Succeeded)
                .map(|c| c.amount)
                .sum()
        };
        for op in self.waiting_of(txn.id, OpKind::Capture).await? {
            let key = op.idempotency_key.clone();
            let Some(capture) = self.db.run(move |l| l.capture_by_key(&key)).await? else {
                continue;
            };
            let covered = captured.is_some_and(|c| c >= succeeded_sum + capture.amount);
            if status == PaymentStatus::Succeeded || covered {
                succeeded_sum += capture.amount;
                self.settle_capture(capture.id, CaptureStatus::Succeeded, None, None)
                    .await?;
                self.finish(op.id, OpState::Done, None).await?;
                settled += 1;
            } else if matches!(status, PaymentStatus::Canceled | PaymentStatus::Failed) {
                let why = format!("the payment is {status:?} at the gateway: nothing was captured")
                    .to_lowercase();
                self.settle_capture(capture.id, CaptureStatus::Failed, None, Some(why.clone()))
                    .await?;
                self.finish(op.id, OpState::Failed, Some(why)).await?;
                settled += 1;
            }
        }
        for op in self.waiting_of(txn.id, OpKind::Cancel).await? {
            match status {
                PaymentStatus::Canceled => {
                    let reason = from_params::<PaymentParams>(&op)?.reason;
                    self.settle_void(txn.id, reason.clone()).await?;
                    // Our own void: not an expiry, whatever an event said first.
                    let patch = TxnPatch {
                        last_error: Some(reason),
                        ..Default::default()
                    };
                    let id = txn.id;
                    self.db
                        .run(move |l| l.update_transaction(id, &[TxnStatus::Canceled], &patch))
                        .await?;
                    self.finish(op.id, OpState::Done, None).await?;
                    settled += 1;
                }
                PaymentStatus::Succeeded => {
                    let why = "the payment was captured before the void settled".to_string();
                    self.finish(op.id, OpState::Failed, Some(why)).await?;
                    settled += 1;
                }
                _ => {}
            }
        }
        Ok(settled)
    }

    /// Applies a `modification` event of a capture or a void to the transaction `txn`; what it
    /// did (`capture_settled`, `void_failed`, ...).
    pub(crate) async fn apply_modification_event(
        &self,
        txn: &Transaction,
        u: &ModificationUpdate,
    ) -> Result<&'static str, Error> {
        match u.kind {
            ModificationKind::Capture => self.capture_event(txn, u).await,
            ModificationKind::Void => self.void_event(txn, u).await,
            ModificationKind::Refund => Ok("ignored"),
        }
    }

    async fn capture_event(
        &self,
        txn: &Transaction,
        u: &ModificationUpdate,
    ) -> Result<&'static str, Error> {
        let id = txn.id;
        let captures = self.db.run(move |l| l.captures(id)).await?;
        // By the gateway's reference, else the one capture still open (of the event's amount).
        let capture = captures
            .iter()
            .find(|c| c.gateway_modification_ref.as_deref() == Some(u.modification.as_str()))
            .or_else(|| {
                let open: Vec<_> = captures
                    .iter()
                    .filter(|c| matches!(c.status, CaptureStatus::Pending | CaptureStatus::Unknown))
                    .filter(|c| u.amount.as_ref().is_none_or(|a| a.amount == c.amount))
                    .collect();
                (open.len() == 1).then(|| open[0])
            })
            .cloned();
        let Some(capture) = capture else {
            return Ok("capture_unknown");
        };
        let key = capture.idempotency_key.clone();
        let ops = self
            .db
            .run(move |l| l.operations_for(Some(id), None))
            .await?;
        let op = ops
            .into_iter()
            .find(|o| o.idempotency_key == key && o.state == OpState::Waiting);
        let reference = Some(u.modification.clone());
        match u.status {
            ModificationStatus::Pending => {
                self.settle_capture(capture.id, CaptureStatus::Pending, reference, None)
                    .await?;
                Ok("capture_pending")
            }
            ModificationStatus::Succeeded => {
                self.settle_capture(capture.id, CaptureStatus::Succeeded, reference, None)
                    .await?;
                if let Some(op) = op {
                    self.finish(op.id, OpState::Done, None).await?;
                }
                Ok("capture_settled")
            }
            ModificationStatus::Failed => {
                let why = format!(
                    "the capture failed at the gateway: {}; the authorization stays",
                    u.reason.as_deref().unwrap_or("no reason given")
                );
                self.settle_capture(
                    capture.id,
                    CaptureStatus::Failed,
                    reference,
                    Some(why.clone()),
                )
                .await?;
                let patch = TxnPatch {
                    last_error: Some(Some(why.clone())),
                    ..Default::default()
                };
                self.db
                    .run(move |l| l.update_transaction(id, &[], &patch))
                    .await?;
                if let Some(op) = op {
                    self.finish(op.id, OpState::Failed, Some(why)).await?;
                }
                Ok("capture_failed")
            }
        }
    }

    async fn void_event(
        &self,
        txn: &Transaction,
        u: &ModificationUpdate,
    ) -> Result<&'static str, Error> {
        let op = self
            .waiting_of(txn.id, OpKind::Cancel)
            .await?
            .into_iter()
            .next();
        match u.status {
            ModificationStatus::Pending => Ok("void_pending"),
            ModificationStatus::Succeeded => {
                let reason = match &op {
                    Some(op) => from_params::<PaymentParams>(op)?.reason,
                    None => None,
                };
                self.settle_void(txn.id, reason).await?;
                if let Some(op) = op {
                    self.finish(op.id, OpState::Done, None).await?;
                }
                Ok("void_settled")
            }
            ModificationStatus::Failed => {
                let why = format!(
                    "the void failed at the gateway: {}; the authorization stays",
                    u.reason.as_deref().unwrap_or("no reason given")
                );
                let patch = TxnPatch {
                    last_error: Some(Some(why.clone())),
                    ..Default::default()
                };
                let id = txn.id;
                self.db
                    .run(move |l| l.update_transaction(id, &[], &patch))
                    .await?;
                if let Some(op) = op {
                    self.finish(op.id, OpState::Failed, Some(why)).await?;
                }
                Ok("void_failed")
            }
        }
    }

    /// Settles the waiting operation of a refund whose outcome is now known (from an event or a
    /// lookup). Returns whether one was settled.
    pub(crate) async fn settle_waiting_refund(&self, refund: &Refund) -> Result<bool, Error> {
        let state = match refund.status {
            RefundStatus::Succeeded => OpState::Done,
            RefundStatus::Failed | RefundStatus::Canceled => OpState::Failed,
            _ => return Ok(false),
        };
        let mut settled = false;
        for op in self
            .waiting_of(refund.transaction_id, OpKind::Refund)
            .await?
        {
            if op.refund_id == Some(refund.id) {
                self.finish(op.id, state, refund.last_error.clone()).await?;
                settled = true;
            }
        }
        Ok(settled)
    }

    /// Settles a ledger invoice whose payment now stands at `p.status` (its answer, an event or
    /// a lookup): paid when it succeeded, its waiting payment failed when it failed or was
    /// canceled. Returns whether it moved.
    pub(crate) async fn settle_invoice_payment(
        &self,
        invoice_id: i64,
        p: &InvoicePayment,
    ) -> Result<bool, Error> {
        let ops = self
            .db
            .run(move |l| l.operations_for(None, Some(invoice_id)))
            .await?;
        let op = ops
            .into_iter()
            .find(|o| o.kind == OpKind::InvoiceCharge && o.state == OpState::Waiting);
        match p.status {
            PaymentStatus::Succeeded => {
                let patch = InvoicePatch {
                    status: Some(InvoiceStatus::Paid),
                    amount_paid: Some(p.captured),
                    gateway_payment_ref: Some(p.payment.clone()),
                    fee: p.fee,
                    last_error: Some(None),
                    ..Default::default()
                };
                let moved = self
                    .db
                    .run(move |l| {
                        l.update_invoice(
                            invoice_id,
                            &[InvoiceStatus::Open, InvoiceStatus::Uncollectible],
                            &patch,
                        )
                    })
                    .await?
                    .is_some();
                if let Some(op) = op {
                    self.finish(op.id, OpState::Done, None).await?;
                }
                Ok(moved)
            }
            PaymentStatus::Failed | PaymentStatus::Canceled => {
                let why = "the invoice's payment failed at the gateway; the invoice stays open";
                let patch = InvoicePatch {
                    last_error: Some(Some(why.to_string())),
                    ..Default::default()
                };
                self.db
                    .run(move |l| l.update_invoice(invoice_id, &[], &patch))
                    .await?;
                if let Some(op) = op {
                    self.finish(op.id, OpState::Failed, Some(why.to_string()))
                        .await?;
                }
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// The reconciler's pass over operations waiting for an outcome the gateway gives later,
    /// last changed at or before `cutoff`: each is looked up where its gateway has the lookup
    /// (never otherwise), and those waiting longer than the bound are flagged.
    pub async fn reconcile_waiting(&self, cutoff: Ts) -> Result<WaitingReport, Error> {
        let mut report = WaitingReport::default();
        let bound = Ts::try_from(self.reconcile.modification_overdue.as_secs()).unwrap_or(Ts::MAX);
        let mut after = 0;
        loop {
            let batch = self
                .db
                .run(move |l| l.waiting_operations(after, 200))
                .await?;
            if batch.is_empty() {
                break;
            }
            for op in batch {
                after = op.id;
                if op.updated_at > cutoff {
                    report.waiting += 1;
                    continue;
                }
                match self.look_up_waiting(&op).await {
                    Ok(true) => {
                        report.settled += 1;
                        continue;
                    }
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(op = op.id, kind = %op.kind, error = %e, "looking a modification up failed");
                    }
                }
                report.waiting += 1;
                let waited = now() - op.updated_at;
                if op.last_error.is_some() {
                    report.overdue += 1;
                } else if waited > bound {
                    self.flag_overdue(&op, waited).await?;
                    report.overdue += 1;
                }
            }
        }
        Ok(report)
    }

    /// Looks a waiting operation's object up, where its gateway can, and settles it; whether it
    /// settled.
    async fn look_up_waiting(&self, op: &Operation) -> Result<bool, Error> {
        let Some(slot) = self.gateways.get(&op.gateway) else {
            return Ok(false);
        };
        let capabilities = slot.capabilities();
        match op.kind {
            OpKind::Capture | OpKind::Cancel
                if capabilities.contains(Capabilities::PAYMENT_LOOKUP) =>
            {
                let txn = self
                    .transaction(op.transaction_id.unwrap_or_default())
                    .await?;
                let Some(p) = self.look_up_payment(&txn).await? else {
                    return Ok(false);
                };
                self.apply_lookup(txn.id, &p, None).await?;
                let txn = self.transaction(txn.id).await?;
                Ok(self
                    .settle_waiting_changes(&txn, p.status, Some(p.amount_captured))
                    .await?
                    > 0)
            }
            OpKind::Refund if capabilities.contains(Capabilities::REFUND_LOOKUP) => {
                let refund_id = op.refund_id.unwrap_or_default();
                let Some(refund) = self.db.run(move |l| l.refund(refund_id)).await? else {
                    return Ok(false);
                };
                let Some(reference) = refund.gateway_refund_ref.clone() else {
                    return Ok(false);
                };
                let r = slot
                    .call_in(Lane::Lookup, "get-refund", RetryPolicy::BATCH, |g| {
                        let reference = reference.clone();
                        async move { g.get_refund(&reference).await }
                    })
                    .await
                    .map_err(|e| Error::from_call(&e))?;
                let status = refund_status_of(r.status);
                let failure = r.failure_reason.clone();
                let settled = self
                    .db
                    .run(move |l| {
                        l.settle_refund(
                            refund_id,
                            &[RefundStatus::Pending, RefundStatus::RequiresAction],
                            status,
                            None,
                            failure.as_deref(),
                        )
                    })
                    .await?;
                match settled {
                    Some(refund) => self.settle_waiting_refund(&refund).await,
                    None => Ok(false),
                }
            }
            OpKind::InvoiceCharge if capabilities.contains(Capabilities::PAYMENT_LOOKUP) => {
                let invoice = self.invoice(op.invoice_id.unwrap_or_default()).await?;
                let Some(payment) = invoice.gateway_payment_ref.clone() else {
                    return Ok(false);
                };
                let p = slot
                    .call_in(Lane::Lookup, "get-payment", RetryPolicy::BATCH, |g| {
                        let payment = payment.clone();
                        async move { g.get_payment(&payment).await }
                    })
                    .await
                    .map_err(|e| Error::from_call(&e))?;
                self.settle_invoice_payment(invoice.id, &InvoicePayment::of(&p))
                    .await
            }
            _ => Ok(false),
        }
    }

    /// Flags a modification that has waited `waited` seconds: its operation's last error (and
    /// its capture's or refund's) says to check it at the gateway.
    async fn flag_overdue(&self, op: &Operation, waited: Ts) -> Result<(), Error> {
        let note = overdue_note(op.kind, waited);
        tracing::warn!(op = op.id, kind = %op.kind, gateway = %op.gateway, "{note}");
        let (id, n) = (op.id, note.clone());
        self.db
            .run(move |l| l.set_operation_state(id, OpState::Waiting, Some(&n), false))
            .await?;
        match op.kind {
            OpKind::Capture => {
                let key = op.idempotency_key.clone();
                if let Some(c) = self.db.run(move |l| l.capture_by_key(&key)).await? {
                    self.db
                        .run(move |l| {
                            l.settle_capture(
                                c.id,
                                &[CaptureStatus::Pending],
                                CaptureStatus::Pending,
                                None,
                                Some(&note),
                            )
                        })
                        .await?;
                }
            }
            OpKind::Refund => {
                let refund_id = op.refund_id.unwrap_or_default();
                self.db
                    .run(move |l| {
                        l.settle_refund(
                            refund_id,
                            &[RefundStatus::Pending, RefundStatus::RequiresAction],
                            RefundStatus::Pending,
                            None,
                            Some(&note),
                        )
                    })
                    .await?;
            }
            _ => {
                if let Some(txn_id) = op.transaction_id {
                    let patch = TxnPatch {
                        last_error: Some(Some(note)),
                        ..Default::default()
                    };
                    self.db
                        .run(move |l| l.update_transaction(txn_id, &[], &patch))
                        .await?;
                }
            }
        }
        Ok(())
    }
}
