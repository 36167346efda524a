//! `billing-run`: charges every due transaction (pending charges not on an invoice) and pays
//! every open invoice, with bounded concurrency, paced to each gateway's configured rate and
//! backing off when the gateway answers rate-limited.
//!
//! Safe to interrupt and run again: it first settles what an earlier run left unsettled
//! (repeating those calls with their stored keys), then picks only rows not settled yet; each
//! transaction is charged with the idempotency key stored with it, so nothing is charged twice.
//!
//! The due transactions are taken in batches through the ledger's claims
//! ([`crate::ledger::Ledger::claim_due_transactions`]): on a ledger shared by several instances,
//! runs started at once split the work, and the batches an instance claimed before it died are
//! taken over once their lease expires; the run ends when nothing due is left unclaimed or
//! claimed by another live run. There, only the leader of the `billing-start` job settles
//! leftovers at the start (those untouched for a while: the others' calls in flight are not
//! repeated) and only the leader of `billing-invoices` pays the open invoices.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::currency::format_amount;
use crate::error::Error;
use crate::ledger::{
    DueClaim, Initiator, InvoiceFilter, InvoiceStatus, TxnFilter, TxnKind, TxnStatus, new_key,
};
use crate::reconcile::{ReconcileReport, reconcile_once};
use crate::retry::RetryPolicy;
use crate::service::Service;

/// Options of a run.
#[derive(Debug, Clone)]
pub struct BillingOptions {
    /// Charges in flight at once.
    pub concurrency: usize,
    /// At most this many transactions (none: all due).
    pub limit: Option<usize>,
    /// Show a progress bar (on stderr).
    pub progress: bool,
    /// Also pay open invoices.
    pub invoices: bool,
    /// How long a claim on a batch of due transactions keeps other instances away (a ledger
    /// shared by several instances): how soon the work of an instance that died is taken over.
    pub lease: Duration,
}

/// On a shared ledger, the leftovers of earlier runs settled at the start are those untouched
/// for this long (others' calls in flight are not repeated).
const SHARED_START_GRACE: Duration = Duration::from_secs(60);
/// How often a run that found nothing left to claim looks again while other runs hold claims.
const POLL_CLAIMS: Duration = Duration::from_millis(250);

impl Default for BillingOptions {
    fn default() -> Self {
        BillingOptions {
            concurrency: 8,
            limit: None,
            progress: true,
            invoices: true,
            lease: Duration::from_secs(60),
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BillingSummary {
    /// The start-up settlement of an earlier run's leftovers.
    pub reconciled: ReconcileReport,
    /// Due transactions this run took (all of them, unless other instances shared the work).
    pub due_transactions: u64,
    /// Open invoices when the run started.
    pub due_invoices: u64,
    /// Charged (or authorized).
    pub succeeded: u64,
    /// Declined or failed.
    pub failed: u64,
    /// Waiting for the customer (3-D Secure).
    pub requires_action: u64,
    /// Outcome still unknown or not attempted (gateway trouble): the next run or the
    /// reconciler settles them.
    pub unsettled: u64,
    /// Invoices paid.
    pub invoices_paid: u64,
    /// Invoices whose payment failed.
    pub invoices_failed: u64,
    /// Collected, by currency (minor units).
    pub collected: BTreeMap<String, i64>,
    /// Stopped early by Ctrl-C.
    pub interrupted: bool,
    /// Seconds taken.
    pub seconds: f64,
}

impl BillingSummary {
    /// A readable report.
    pub fn render(&self) -> String {
        let mut s = String::new();
        s.push_str("Billing run summary\n");
        if self.reconciled.examined > 0 {
            s.push_str(&format!(
                "  settled from an earlier run: {} ({} done, {} failed, {} still unsettled)\n",
                self.reconciled.examined,
                self.reconciled.done,
                self.reconciled.failed,
                self.reconciled.unsettled
            ));
        }
        s.push_str(&format!(
            "  transactions due:   {}\n",
            self.due_transactions
        ));
        s.push_str(&format!("    charged:          {}\n", self.succeeded));
        s.push_str(&format!("    declined/failed:  {}\n", self.failed));
        s.push_str(&format!("    needs customer:   {}\n", self.requires_action));
        s.push_str(&format!("    unsettled:        {}\n", self.unsettled));
        s.push_str(&format!(
            "  invoices due:       {} (paid {}, failed {})\n",
            self.due_invoices, self.invoices_paid, self.invoices_failed
        ));
        for (c, a) in &self.collected {
            s.push_str(&format!("  collected:          {}\n", format_amount(*a, c)));
        }
        if self.interrupted {
            s.push_str(
                "  INTERRUPTED: run `billing-run` again to finish (nothing is charged twice)\n",
            );
        }
        s.push_str(&format!("  took {:.1} s\n", self.seconds));
        s
    }
}

enum Outcome {
    Txn(TxnStatus, i64, String),
    Invoice(bool, i64, String),
    Error,
}

/// Runs a billing run. `stop` ends it early (no new charges start; those in flight finish).
pub async fn run(
    service: Arc<Service>,
    opts: BillingOptions,
    stop: Arc<AtomicBool>,
) -> Result<BillingSummary, Error> {
    let started = Instant::now();
    let shared = service.db.ledger().shared();
    let leads = |job: &'static str| {
        let service = service.clone();
        async move {
            !shared
                || service
                    .db
                    .run(move |l| l.lead(job))
                    .await
                    .unwrap_or_else(|e| {
                        tracing::warn!(job, error = %e, "leadership unknown");
                        false
                    })
        }
    };
    let mut summary = BillingSummary::default();
    if leads("billing-start").await {
        let grace = if shared {
            SHARED_START_GRACE
        } else {
            Duration::ZERO
        };
        summary.reconciled = reconcile_once(&service, grace).await?;
    }
    // The newest due transaction now: what is added during the run waits for the next one.
    let up_to_id = service
        .db
        .run(|l| l.transactions(&due_filter(1)))
        .await?
        .first()
        .map_or(0, |t| t.id);
    let invoices = if opts.invoices && leads("billing-invoices").await {
        service
            .db
            .run(|l| {
                l.invoices(&InvoiceFilter {
                    statuses: vec![InvoiceStatus::Open],
                    ..Default::default()
                })
            })
            .await?
    } else {
        vec![]
    };
    summary.due_invoices = invoices.len() as u64;
    let bar = if opts.progress {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} {per_sec} eta {eta} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let permits = Arc::new(Semaphore::new(opts.concurrency.max(1)));
    let mut tasks: JoinSet<Outcome> = JoinSet::new();
    let mut claim = DueClaim {
        owner: format!("{}/{}", service.boot_id, new_key("run")),
        after_id: 0,
        up_to_id,
        limit: 0,
        lease: opts.lease,
    };
    let batch = (opts.concurrency * 2).clamp(8, 256);
    let mut left = opts.limit.unwrap_or(usize::MAX);
    let mut invoices = invoices.into_iter();
    'jobs: loop {
        let jobs: Vec<(Option<i64>, Option<i64>)> = if left > 0 {
            claim.limit = batch.min(left) as u32;
            let c = claim.clone();
            let txns = service
                .db
                .run(move |l| l.claim_due_transactions(&c))
                .await?;
            if txns.is_empty() {
                let c = claim.clone();
                if let Some(wait) = service.db.run(move |l| l.due_claimed_elsewhere(&c)).await? {
                    // Another run holds the rest: it finishes them, or dies and its claims
                    // expire for this one to take over.
                    tokio::time::sleep(wait.min(POLL_CLAIMS)).await;
                    if stop.load(Ordering::SeqCst) {
                        summary.interrupted = true;
                        break 'jobs;
                    }
                    continue 'jobs;
                }
                left = 0;
                continue 'jobs;
            }
            left -= txns.len().min(left);
            claim.after_id = txns.last().map_or(claim.after_id, |t| t.id);
            summary.due_transactions += txns.len() as u64;
            txns.into_iter().map(|t| (Some(t.id), None)).collect()
        } else {
            invoices.by_ref().map(|i| (None, Some(i.id))).collect()
        };
        if jobs.is_empty() {
            break;
        }
        bar.inc_length(jobs.len() as u64);
        for (txn, invoice) in jobs {
            if stop.load(Ordering::SeqCst) {
                summary.interrupted = true;
                break 'jobs;
            }
            let permit = permits
                .clone()
                .acquire_owned()
                .await
                .map_err(|e| Error::internal(e.to_string()))?;
            if stop.load(Ordering::SeqCst) {
                summary.interrupted = true;
                break 'jobs;
            }
            tasks.spawn(job(service.clone(), permit, txn, invoice));
            while let Some(done) = tasks.try_join_next() {
                tally(&mut summary, done, &bar);
            }
        }
    }
    while let Some(done) = tasks.join_next().await {
        tally(&mut summary, done, &bar);
    }
    bar.finish_and_clear();
    let owner = claim.owner.clone();
    if let Err(e) = service.db.run(move |l| l.release_claims(&owner)).await {
        tracing::warn!(error = %e, "releasing the run's claims failed (they expire)");
    }
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// Due transactions: pending charges on no invoice, newest first.
fn due_filter(limit: u32) -> TxnFilter {
    TxnFilter {
        statuses: vec![TxnStatus::Pending],
        invoiced: Some(false),
        kind: Some(TxnKind::Charge),
        limit,
        ..Default::default()
    }
}

/// Charges one transaction or pays one invoice, holding a permit of the run's concurrency.
async fn job(
    service: Arc<Service>,
    permit: tokio::sync::OwnedSemaphorePermit,
    txn: Option<i64>,
    invoice: Option<i64>,
) -> Outcome {
    let _permit = permit;
    if let Some(id) = txn {
        // A billing run charges on the schedule the customer agreed to.
        let charged = service
            .charge_transaction_as(id, RetryPolicy::BATCH, Some(Initiator::MerchantRecurring))
            .await;
        match charged {
            Ok((t, _)) => Outcome::Txn(t.status, t.amount_captured, t.currency),
            Err(e) => {
                tracing::warn!(transaction = id, error = %e, "charging failed");
                Outcome::Error
            }
        }
    } else {
        let id = invoice.unwrap_or_default();
        match service.pay_invoice(id, None, RetryPolicy::BATCH).await {
            Ok(i) => Outcome::Invoice(i.status == InvoiceStatus::Paid, i.amount_paid, i.currency),
            Err(e) => {
                tracing::info!(invoice = id, error = %e, "paying an invoice failed");
                Outcome::Invoice(false, 0, String::new())
            }
        }
    }
}

fn tally(
    summary: &mut BillingSummary,
    done: Result<Outcome, tokio::task::JoinError>,
    bar: &indicatif::ProgressBar,
) {
    bar.inc(1);
    match done {
        Ok(Outcome::Txn(status, captured, currency)) => match status {
            TxnStatus::Succeeded
            | TxnStatus::Authorized
            | TxnStatus::PartiallyRefunded
            | TxnStatus::Refunded => {
                summary.succeeded += 1;
                *summary.collected.entry(currency).or_default() += captured;
            }
            TxnStatus::Failed | TxnStatus::Canceled => summary.failed += 1,
            TxnStatus::RequiresAction => summary.requires_action += 1,
            _ => summary.unsettled += 1,
        },
        Ok(Outcome::Invoice(true, paid, currency)) => {
            summary.invoices_paid += 1;
            *summary.collected.entry(currency).or_default() += paid;
        }
        Ok(Outcome::Invoice(false, ..)) => summary.invoices_failed += 1,
        Ok(Outcome::Error) | Err(_) => summary.unsettled += 1,
    }
    bar.set_message(format!(
        "ok {} failed {}",
        summary.succeeded, summary.failed
    ));
}
