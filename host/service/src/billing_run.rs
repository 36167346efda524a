//! `billing-run`: charges every due transaction (pending charges not on an invoice) and pays
//! every open invoice, with bounded concurrency, paced to each gateway's configured rate and
//! backing off when the gateway answers rate-limited.
//!
//! Safe to interrupt and run again: it first settles what an earlier run left unsettled
//! (repeating those calls with their stored keys), then picks only rows not settled yet; each
//! transaction is charged with the idempotency key stored with it, so nothing is charged twice.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::currency::format_amount;
use crate::error::Error;
use crate::ledger::{Initiator, InvoiceFilter, InvoiceStatus, TxnFilter, TxnKind, TxnStatus};
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
}

impl Default for BillingOptions {
    fn default() -> Self {
        BillingOptions {
            concurrency: 8,
            limit: None,
            progress: true,
            invoices: true,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BillingSummary {
    /// The start-up settlement of an earlier run's leftovers.
    pub reconciled: ReconcileReport,
    /// Transactions due when the run started.
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
    let mut summary = BillingSummary {
        reconciled: reconcile_once(&service, Duration::ZERO).await?,
        ..Default::default()
    };
    let mut txns = service
        .db
        .run(|l| {
            l.transactions(&TxnFilter {
                statuses: vec![TxnStatus::Pending],
                invoiced: Some(false),
                kind: Some(TxnKind::Charge),
                ..Default::default()
            })
        })
        .await?;
    txns.reverse(); // oldest first
    if let Some(limit) = opts.limit {
        txns.truncate(limit);
    }
    let invoices = if opts.invoices {
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
    summary.due_transactions = txns.len() as u64;
    summary.due_invoices = invoices.len() as u64;
    let total = (txns.len() + invoices.len()) as u64;
    let bar = if opts.progress {
        let bar = indicatif::ProgressBar::new(total);
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
    let jobs = txns
        .into_iter()
        .map(|t| (Some(t.id), None))
        .chain(invoices.into_iter().map(|i| (None, Some(i.id))));
    for (txn, invoice) in jobs {
        if stop.load(Ordering::SeqCst) {
            summary.interrupted = true;
            break;
        }
        let permit = permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| Error::internal(e.to_string()))?;
        if stop.load(Ordering::SeqCst) {
            summary.interrupted = true;
            break;
        }
        let service = service.clone();
        tasks.spawn(async move {
            let _permit = permit;
            if let Some(id) = txn {
                // A billing run charges on the schedule the customer agreed to.
                let charged = service
                    .charge_transaction_as(
                        id,
                        RetryPolicy::BATCH,
                        Some(Initiator::MerchantRecurring),
                    )
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
                    Ok(i) => {
                        Outcome::Invoice(i.status == InvoiceStatus::Paid, i.amount_paid, i.currency)
                    }
                    Err(e) => {
                        tracing::info!(invoice = id, error = %e, "paying an invoice failed");
                        Outcome::Invoice(false, 0, String::new())
                    }
                }
            }
        });
        while let Some(done) = tasks.try_join_next() {
            tally(&mut summary, done, &bar);
        }
    }
    while let Some(done) = tasks.join_next().await {
        tally(&mut summary, done, &bar);
    }
    bar.finish_and_clear();
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
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
