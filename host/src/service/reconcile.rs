//! The reconciler: settles operations whose outcome is unknown (status `unknown`: timeout,
//! trap, dropped connection) or that a crash left `pending`, by repeating each with its stored
//! idempotency key and inputs. The gateway returns the original outcome without moving money
//! twice; the outcome is applied with the same compare-and-set as the synchronous path.
//!
//! It runs at start-up over every unsettled operation, then periodically over those untouched
//! for a grace period (so that it does not race calls in flight in another process).

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::service::Service;
use crate::service::error::ServiceError;
use crate::service::ledger::{OpState, TxnFilter, TxnStatus, now};
use crate::service::reload::RetryPolicy;

/// What one pass did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Operations looked at.
    pub examined: u64,
    /// Settled as done.
    pub done: u64,
    /// Settled as failed (nothing moved).
    pub failed: u64,
    /// Still unknown or pending (the gateway could not tell yet).
    pub unsettled: u64,
    /// Running in this process at the time (skipped).
    pub in_flight: u64,
    /// Payments the gateway was still processing, looked up and moved on.
    pub refreshed: u64,
}

/// Repeats every unsettled operation last touched at least `grace` ago.
pub async fn reconcile_once(
    service: &Service,
    grace: Duration,
) -> Result<ReconcileReport, ServiceError> {
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
        for op in batch {
            last_id = last_id.max(op.id);
            report.examined += 1;
            let (id, kind) = (op.id, op.kind);
            match service.execute(op, RetryPolicy::BATCH).await {
                Ok(e) if e.in_flight => report.in_flight += 1,
                Ok(e) => match e.state {
                    OpState::Done => report.done += 1,
                    OpState::Failed => report.failed += 1,
                    _ => report.unsettled += 1,
                },
                Err(e) => {
                    tracing::warn!(op = id, kind = %kind, error = %e, "reconciling an operation failed");
                    report.unsettled += 1;
                }
            }
        }
    }
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
    if report.examined > 0 || report.refreshed > 0 {
        tracing::info!(?report, "reconciled operations with an unsettled outcome");
    }
    Ok(report)
}

/// Runs [`reconcile_once`] every `interval` until `shutdown` fires.
pub async fn run_periodically(
    service: Arc<Service>,
    interval: Duration,
    grace: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.changed() => return,
        }
        if let Err(e) = reconcile_once(&service, grace).await {
            tracing::warn!(error = %e, "reconciler pass failed");
        }
    }
}
