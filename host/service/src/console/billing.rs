//! Billing runs started from the console: each runs in the background through
//! [`crate::billing_run::run`] (the same run as `omnicrm-pay billing-run`), and its progress is
//! read from the ledger: how many of the charges and open invoices due when it started are
//! still due.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::billing_run::{self, BillingOptions, BillingSummary};
use crate::error::Error;
use crate::ledger::{InvoiceFilter, InvoiceStatus, Ts, TxnFilter, TxnKind, TxnStatus, now};
use crate::service::Service;

/// What a run was asked to do.
#[derive(Debug, Clone, Copy)]
pub struct RunRequest {
    /// Charges in flight at once.
    pub concurrency: usize,
    /// At most this many transactions.
    pub limit: Option<usize>,
    /// Also pay open invoices.
    pub invoices: bool,
}

/// One run.
pub struct Run {
    /// Its number (1, 2, ...).
    pub id: usize,
    /// The operator who started it.
    pub started_by: String,
    /// When.
    pub started_at: Ts,
    /// What it was asked.
    pub request: RunRequest,
    /// Charges due when it started (within its limit).
    pub due_charges: u64,
    /// Open invoices when it started (when it pays them).
    pub due_invoices: u64,
    /// Due charges beyond the limit, left for later.
    pub left_over: u64,
    last_txn_id: i64,
    stop: Arc<AtomicBool>,
    outcome: Mutex<Option<(Ts, Result<BillingSummary, String>)>>,
}

/// How far a run got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Charges and invoices settled so far.
    pub done: u64,
    /// Charges and invoices due when it started.
    pub total: u64,
}

impl Progress {
    /// Done, in percent.
    pub fn percent(&self) -> u64 {
        (self.done * 100).checked_div(self.total).unwrap_or(100)
    }
}

impl Run {
    /// Whether it is still running.
    pub fn running(&self) -> bool {
        self.outcome().is_none()
    }

    /// When it finished and what it did (or why it failed), once finished.
    pub fn outcome(&self) -> Option<(Ts, Result<BillingSummary, String>)> {
        self.outcome
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Asks it to stop: no new charge starts; those in flight finish.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Whether it was asked to stop.
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Its progress, read from the ledger.
    pub async fn progress(&self, service: &Service) -> Result<Progress, Error> {
        let total = self.due_charges + self.due_invoices;
        if !self.running() {
            return Ok(Progress { done: total, total });
        }
        let (charges, invoices) = due(service, self.request.invoices).await?;
        let last = self.last_txn_id;
        let charges_left = charges.iter().filter(|id| **id <= last).count() as u64;
        let remaining =
            charges_left.saturating_sub(self.left_over) + invoices.min(self.due_invoices);
        Ok(Progress {
            done: total.saturating_sub(remaining),
            total,
        })
    }
}

/// The ids of the charges due now (pending, on no invoice) and the number of open invoices
/// (when `invoices`).
async fn due(service: &Service, invoices: bool) -> Result<(Vec<i64>, u64), Error> {
    Ok(service
        .db
        .run(move |l| {
            let charges = l
                .transactions(&TxnFilter {
                    statuses: vec![TxnStatus::Pending],
                    invoiced: Some(false),
                    kind: Some(TxnKind::Charge),
                    ..Default::default()
                })?
                .iter()
                .map(|t| t.id)
                .collect();
            let open = if invoices {
                l.invoices(&InvoiceFilter {
                    statuses: vec![InvoiceStatus::Open],
                    ..Default::default()
                })?
                .len() as u64
            } else {
                0
            };
            Ok((charges, open))
        })
        .await?)
}

/// The runs started from the console, newest last.
pub struct BillingRuns {
    runs: Mutex<Vec<Arc<Run>>>,
    /// How long a run's claim on a batch of due charges holds (`billing_lease_secs`).
    lease: Duration,
}

impl BillingRuns {
    /// No runs yet; runs claim their batches for `lease`.
    pub fn new(lease: Duration) -> Self {
        BillingRuns {
            runs: Mutex::default(),
            lease,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Run>>> {
        self.runs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every run, newest first.
    pub fn all(&self) -> Vec<Arc<Run>> {
        self.lock().iter().rev().cloned().collect()
    }

    /// Run `id`.
    pub fn get(&self, id: usize) -> Option<Arc<Run>> {
        self.lock().iter().find(|r| r.id == id).cloned()
    }

    /// Starts a run in the background; an error when one is running already.
    pub async fn start(
        &self,
        service: Arc<Service>,
        started_by: &str,
        request: RunRequest,
    ) -> Result<Arc<Run>, String> {
        if self.lock().iter().any(|r| r.running()) {
            return Err("A billing run is running already: wait for it to finish.".into());
        }
        let (charges, invoices) = due(&service, request.invoices)
            .await
            .map_err(|e| e.message)?;
        let count = charges.len() as u64;
        let due_charges = request.limit.map_or(count, |l| count.min(l as u64));
        let mut runs = self.lock();
        if runs.iter().any(|r| r.running()) {
            return Err("A billing run is running already: wait for it to finish.".into());
        }
        let run = Arc::new(Run {
            id: runs.len() + 1,
            started_by: started_by.to_string(),
            started_at: now(),
            request,
            due_charges,
            due_invoices: invoices,
            left_over: count - due_charges,
            last_txn_id: charges.iter().copied().max().unwrap_or(0),
            stop: Arc::new(AtomicBool::new(false)),
            outcome: Mutex::new(None),
        });
        runs.push(run.clone());
        drop(runs);
        let running = run.clone();
        let lease = self.lease;
        tokio::spawn(async move {
            let options = BillingOptions {
                concurrency: request.concurrency.max(1),
                limit: request.limit,
                progress: false,
                invoices: request.invoices,
                lease,
            };
            let result = billing_run::run(service, options, running.stop.clone())
                .await
                .map_err(|e| e.message);
            if let Err(e) = &result {
                tracing::warn!(run = running.id, error = %e, "a console billing run failed");
            }
            *running.outcome.lock().unwrap_or_else(|p| p.into_inner()) = Some((now(), result));
        });
        Ok(run)
    }
}
