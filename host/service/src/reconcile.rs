//! The reconciler: settles operations whose outcome is unknown (status `unknown`: timeout,
//! trap, dropped connection) or that a crash left `pending`, by repeating each with its stored
//! idempotency key and inputs. The gateway returns the original outcome without moving money
//! twice; the outcome is applied with the same compare-and-set as the synchronous path.
//!
//! It runs at start-up over every unsettled operation (in the background: the service serves
//! meanwhile), then periodically over those untouched for a grace period (so that it does not
//! race calls in flight in another process). It repeats a few operations at once
//! ([`ReconcileSettings::concurrency`]), waits longer after each repeat that did not settle an
//! operation ([`ReconcileSettings::backoff_after`]), and gives up after
//! [`ReconcileSettings::max_attempts`]: the operation is flagged and its transaction shows why
//! an operator must settle it by hand ([`crate::payments::operator`]). The attempts and the
//! next attempt's time are kept in the ledger, so a restart does not start over.
//!
//! Captures, voids and refunds the gateway answered `pending` (operations `waiting`) are never
//! repeated: where the gateway has the lookup they are looked up, and those that wait too long
//! are flagged ([`Service::reconcile_waiting`]).
//!
//! It also looks up payments that wait at the gateway (where the gateway has `payment-lookup`),
//! so that none waits forever when a webhook is missed: `processing` ones; authorizations older than
//! [`ReconcileSettings::authorization_max_age`] (the gateway lets them expire: the transaction
//! becomes `canceled`, or `succeeded` when captured elsewhere); and payments waiting for the
//! customer to authenticate (3-D Secure), which are voided at the gateway, through the intent
//! log, once they have waited longer than [`ReconcileSettings::action_expiry`].
//!
//! [`ReconcileSettings::authorization_max_age`]: crate::service::ReconcileSettings::authorization_max_age
//! [`ReconcileSettings::action_expiry`]: crate::service::ReconcileSettings::action_expiry
//! [`ReconcileSettings::concurrency`]: crate::service::ReconcileSettings::concurrency
//! [`ReconcileSettings::backoff_after`]: crate::service::ReconcileSettings::backoff_after
//! [`ReconcileSettings::max_attempts`]: crate::service::ReconcileSettings::max_attempts

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde::Serialize;

use crate::error::{Error, ErrorKind};
use crate::ledger::{
    NewOperation, OpKind, OpState, Operation, Transaction, Ts, TxnFilter, TxnStatus, now,
};
use crate::payments::params::{PaymentParams, to_params};
use crate::payments::pending::WaitingReport;
use crate::retry::RetryPolicy;
use crate::service::Service;
use omnicrm_host::contract::PaymentStatus;

/// What one pass did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Operations looked at.
    pub examined: u64,
    /// Settled as done.
    pub done: u64,
    /// Settled as failed (nothing moved).
    pub failed: u64,
    /// Still unknown or pending (the gateway could not tell yet, or is not loaded).
    pub unsettled: u64,
    /// Given up on in this pass (repeated the most times allowed without an outcome): flagged
    /// for an operator.
    pub flagged: u64,
    /// Running in this process at the time (skipped).
    pub in_flight: u64,
    /// Payments looked up and moved on: processing ones, old authorizations captured elsewhere,
    /// payments the customer authenticated (or failed to).
    pub refreshed: u64,
    /// Authorizations that expired at the gateway, and payments voided after waiting too long
    /// for the customer: now `canceled`.
    pub expired: u64,
    /// Captures, voids, refunds and invoice payments the gateway answered `pending`: settled
    /// now from a lookup, still waiting, and waiting longer than the bound (flagged).
    pub modifications: WaitingReport,
    /// Every operation the reconciler gave up on (in this pass or before) that no operator has
    /// settled yet.
    pub awaiting_operator: Vec<FlaggedOperation>,
}

/// An operation the reconciler gave up on: an operator checks it at the gateway and settles
/// its transaction by hand.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FlaggedOperation {
    /// The operation.
    pub operation_id: i64,
    /// What it does (`charge`, `refund`, ...).
    pub kind: String,
    /// The gateway.
    pub gateway: String,
    /// Its transaction, if any.
    pub transaction_id: Option<i64>,
    /// Attempts made (the first call and the reconciler's repeats).
    pub attempts: i64,
    /// The last error heard.
    pub last_error: Option<String>,
    /// When it was flagged (Unix seconds).
    pub flagged_at: Option<Ts>,
}

impl From<Operation> for FlaggedOperation {
    fn from(o: Operation) -> Self {
        FlaggedOperation {
            operation_id: o.id,
            kind: o.kind.as_str().to_string(),
            gateway: o.gateway,
            transaction_id: o.transaction_id,
            attempts: o.attempts,
            last_error: o.last_error,
            flagged_at: o.flagged_at,
        }
    }
}

/// How repeating one operation ended.
enum Repeat {
    InFlight,
    Done,
    Failed,
    Unsettled,
    Flagged,
}

/// Repeats one unsettled operation, or flags it when it was repeated the most times allowed.
/// Each repeat that leaves it unsettled is counted, and the next one waits longer.
async fn repeat(service: &Service, op: Operation) -> Repeat {
    let settings = service.reconcile;
    let (id, kind) = (op.id, op.kind);
    let done_before = u32::try_from(op.reconcile_attempts).unwrap_or(u32::MAX);
    if done_before >= settings.max_attempts {
        return flag(service, id, kind, done_before).await;
    }
    match service.execute(op, RetryPolicy::BATCH).await {
        Ok(e) if e.in_flight => return Repeat::InFlight,
        Ok(e) => match e.state {
            OpState::Done => return Repeat::Done,
            OpState::Failed => return Repeat::Failed,
            // Waiting for an outcome the gateway gives later: settled by lookups and events.
            OpState::Waiting => return Repeat::Unsettled,
            OpState::Pending | OpState::Unknown => {}
        },
        // The gateway is not loaded: nothing was tried, nothing is counted.
        Err(e)
            if matches!(
                e.kind,
                ErrorKind::GatewayLoading | ErrorKind::GatewayLoadFailed
            ) =>
        {
            return Repeat::Unsettled;
        }
        Err(e) => {
            tracing::warn!(op = id, kind = %kind, error = %e, "reconciling an operation failed");
        }
    }
    let attempts = done_before.saturating_add(1);
    if attempts >= settings.max_attempts {
        return flag(service, id, kind, attempts).await;
    }
    let next = now() + secs(settings.backoff_after(attempts));
    if let Err(e) = service
        .db
        .run(move |l| l.record_reconcile_attempt(id, next, None))
        .await
    {
        tracing::warn!(op = id, error = %e, "recording a reconciliation attempt failed");
    }
    Repeat::Unsettled
}

/// Flags an operation the reconciler gives up on after `attempts` repeats.
async fn flag(service: &Service, id: i64, kind: OpKind, attempts: u32) -> Repeat {
    let times = match attempts {
        1 => "once".to_string(),
        n => format!("{n} times"),
    };
    let reason = format!(
        "the reconciler repeated this {kind} {times} without learning its outcome: check the \
         payment at the gateway and settle it by hand"
    );
    tracing::error!(op = id, kind = %kind, attempts, "an operation's outcome stays unknown: flagged for an operator");
    let next = now();
    match service
        .db
        .run(move |l| l.record_reconcile_attempt(id, next, Some(&reason)))
        .await
    {
        Ok(()) => Repeat::Flagged,
        Err(e) => {
            tracing::warn!(op = id, error = %e, "flagging an operation failed");
            Repeat::Unsettled
        }
    }
}

/// Repeats every unsettled operation last touched at least `grace` ago.
pub async fn reconcile_once(service: &Service, grace: Duration) -> Result<ReconcileReport, Error> {
    let mut report = ReconcileReport::default();
    let cutoff = now() - grace.as_secs() as i64;
    let mut last_id = 0;
    loop {
        let batch = service
            .db
            .run(move |l| l.unsettled_operations(cutoff, 200))
            .await?;
        let batch: Vec<_> = batch.into_iter().filter(|o| o.id > last_id).collect();
        if batch.is_empty() {
            break;
        }
        last_id = batch.iter().map(|o| o.id).max().unwrap_or(last_id);
        report.examined += batch.len() as u64;
        let mut repeats = futures_util::stream::iter(batch)
            .map(|op| repeat(service, op))
            .buffer_unordered(service.reconcile.concurrency);
        while let Some(r) = repeats.next().await {
            match r {
                Repeat::InFlight => report.in_flight += 1,
                Repeat::Done => report.done += 1,
                Repeat::Failed => report.failed += 1,
                Repeat::Unsettled => report.unsettled += 1,
                Repeat::Flagged => report.flagged += 1,
            }
        }
    }
    // Modifications the gateway settles later: looked up where it can tell.
    report.modifications = service.reconcile_waiting(cutoff).await?;
    // Payments the gateway was still working on: look them up (a webhook usually tells first).
    let processing = service
        .db
        .run(|l| {
            l.transactions(&TxnFilter {
                statuses: vec![TxnStatus::Processing],
                ..Default::default()
            })
        })
        .await?;
    for t in processing.into_iter().filter(|t| t.updated_at <= cutoff) {
        match service.refresh_payment(&t).await {
            Ok(true) => report.refreshed += 1,
            Ok(false) => {}
            Err(e) => tracing::warn!(transaction = t.id, error = %e, "looking a payment up failed"),
        }
    }
    // Authorizations near (or past) their expiry at the gateway.
    let settings = service.reconcile;
    let old = now() - secs(settings.authorization_max_age);
    for t in waiting(service, TxnStatus::Authorized, Some(old)).await? {
        if authorized_at(&t) <= old {
            let moved = service.settle_authorization(&t).await;
            count(&mut report, t.id, moved);
        }
    }
    // Payments waiting for the customer: the webhook that settles them may have been missed.
    for t in waiting(service, TxnStatus::RequiresAction, None).await? {
        if t.updated_at <= cutoff {
            let moved = service
                .settle_waiting_payment(&t, settings.action_expiry)
                .await;
            count(&mut report, t.id, moved);
        }
    }
    report.awaiting_operator = service
        .db
        .run(|l| l.flagged_operations())
        .await?
        .into_iter()
        .map(FlaggedOperation::from)
        .collect();
    if report.examined > 0
        || report.refreshed > 0
        || report.expired > 0
        || report.modifications.settled > 0
        || report.modifications.overdue > 0
    {
        tracing::info!(?report, "reconciled operations with an unsettled outcome");
    }
    Ok(report)
}

/// Transactions in `status`, created at or before `created_by` when given.
async fn waiting(
    service: &Service,
    status: TxnStatus,
    created_by: Option<Ts>,
) -> Result<Vec<Transaction>, Error> {
    let filter = TxnFilter {
        statuses: vec![status],
        to: created_by.map(|t| t + 1),
        ..Default::default()
    };
    Ok(service.db.run(move |l| l.transactions(&filter)).await?)
}

/// When a transaction's payment was made (its charge attempted).
fn authorized_at(t: &Transaction) -> Ts {
    t.attempted_at.unwrap_or(t.created_at)
}

/// A duration for people: `24 h`, `90 min`, `45 s`.
pub(crate) fn span(d: Duration) -> String {
    match d.as_secs() {
        s if s >= 3600 && s % 3600 == 0 => format!("{} h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

fn secs(d: Duration) -> Ts {
    Ts::try_from(d.as_secs()).unwrap_or(Ts::MAX)
}

/// Counts a looked-up payment in the report.
fn count(report: &mut ReconcileReport, txn: i64, moved: Result<Option<Transaction>, Error>) {
    match moved {
        Ok(Some(t)) if t.status == TxnStatus::Canceled => report.expired += 1,
        Ok(Some(_)) => report.refreshed += 1,
        Ok(None) => {}
        Err(e) => tracing::warn!(transaction = txn, error = %e, "looking a payment up failed"),
    }
}

impl Service {
    /// Settles a payment waiting for the customer to authenticate (3-D Secure): looks it up and
    /// moves the transaction on when the customer acted or the gateway gave up. Once it has
    /// waited longer than `expiry`, voids it at the gateway through the intent log, with a key
    /// derived from the transaction's (a repeat is the same void), and records why. Returns the
    /// transaction when it moved.
    pub async fn settle_waiting_payment(
        &self,
        txn: &Transaction,
        expiry: Duration,
    ) -> Result<Option<Transaction>, Error> {
        let Some(p) = self.look_up_payment(txn).await? else {
            return Ok(None);
        };
        if p.status != PaymentStatus::RequiresAction || now() - authorized_at(txn) < secs(expiry) {
            return self.apply_lookup(txn.id, &p, None).await;
        }
        let reason = format!(
            "the customer did not authenticate the payment (3-D Secure) within {}: it was \
             canceled at the gateway. No money was taken",
            span(expiry)
        );
        // `Cancel` is the stored name of a void; the key keeps its stored spelling too.
        let new = NewOperation {
            kind: OpKind::Cancel,
            gateway: txn.gateway.clone().unwrap_or_default(),
            transaction_id: Some(txn.id),
            refund_id: None,
            invoice_id: None,
            idempotency_key: format!("{}:cancel:unauthenticated", txn.idempotency_key),
            params: to_params(&PaymentParams {
                payment: p.id.clone(),
                amount: None,
                currency: None,
                reason: Some(reason),
                final_capture: None,
            })?,
        };
        let exec = self.run_new_op(new, RetryPolicy::BATCH).await?;
        if exec.state == OpState::Failed {
            // Refused: the customer may have acted meanwhile. Look again.
            if let Some(p) = self.look_up_payment(txn).await? {
                return self.apply_lookup(txn.id, &p, None).await;
            }
        }
        let after = self.transaction(txn.id).await?;
        Ok((after.status != txn.status).then_some(after))
    }
}

/// Whether this instance runs the reconciler's passes: on a ledger shared by several instances,
/// the one that leads the `reconciler` job (another takes over when it dies), so that passes
/// run once across them.
async fn leads(service: &Service) -> bool {
    service
        .db
        .run(|l| l.lead("reconciler"))
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "reconciler leadership unknown");
            false
        })
}

/// Runs [`reconcile_once`] over every unsettled operation once the gateways are loaded (or
/// failed to load), then every `interval` over those untouched for `grace`, until `shutdown`
/// fires; on a shared ledger only while this instance leads the reconciler, and the first pass
/// too spares what is younger than `grace`. A pass in progress stops when `shutdown` fires: an operation interrupted so stays as
/// the ledger has it, and the next run repeats it.
pub async fn run_in_background(
    service: Arc<Service>,
    interval: Duration,
    grace: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    tokio::select! {
        _ = service.gateways.wait_settled() => {}
        _ = shutdown.changed() => return,
    }
    // On a ledger shared by several instances the first pass too spares what was touched
    // lately: another instance's calls in flight are not repeated.
    let shared = service.db.ledger().shared();
    let mut pass_grace = if shared { grace } else { Duration::ZERO };
    loop {
        if leads(&service).await {
            tokio::select! {
                result = reconcile_once(&service, pass_grace) => {
                    if let Err(e) = result {
                        tracing::warn!(error = %e, "reconciler pass failed");
                    }
                }
                _ = shutdown.changed() => return,
            }
            pass_grace = grace;
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.changed() => return,
        }
    }
}
