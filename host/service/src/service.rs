//! The service's shared state ([`Service`]: the ledger, the live gateways, the operations
//! running in this process) and the look-ups every flow starts with: a gateway by name, a
//! currency check, a transaction by id.
//!
//! The flows themselves are `impl Service` blocks of their own modules: [`crate::customers`],
//! [`crate::payments`], [`crate::invoices`], [`crate::reconcile`], [`crate::summary`].

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::ServiceSection;
use crate::error::{Error, ErrorKind};
use crate::ledger::{self, Db, Transaction};
use crate::live_gateways::{GatewaySlot, Gateways, SlotState};
use omnicrm_host::contract::Capabilities;

/// How the reconciler treats payments that wait at the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconcileSettings {
    /// Authorizations older than this are looked up at the gateway (default 6 days; card
    /// authorizations expire after about 7).
    pub authorization_max_age: Duration,
    /// Payments waiting for the customer to authenticate longer than this are voided at the
    /// gateway (default 24 hours).
    pub action_expiry: Duration,
    /// Captures, voids and refunds the gateway answered `pending` that have heard no outcome for
    /// longer than this are flagged for operators (default 3 days).
    pub modification_overdue: Duration,
    /// Unsettled operations repeated at once (default 4).
    pub concurrency: usize,
    /// Repeats of an operation whose outcome stays unknown before its transaction is flagged
    /// for an operator (default 8).
    pub max_attempts: u32,
    /// The wait after an operation's first repeat failed to settle it; it doubles after each
    /// (default 30 s).
    pub backoff: Duration,
    /// The longest wait between two repeats (default 1 hour).
    pub backoff_max: Duration,
}

impl Default for ReconcileSettings {
    fn default() -> Self {
        Self::from_config(&ServiceSection::default())
    }
}

impl ReconcileSettings {
    /// The settings of a `[service]` table.
    pub fn from_config(section: &ServiceSection) -> Self {
        ReconcileSettings {
            authorization_max_age: Duration::from_secs(section.authorization_max_age_secs),
            action_expiry: Duration::from_secs(section.action_expiry_secs),
            modification_overdue: Duration::from_secs(section.modification_overdue_secs),
            concurrency: section.reconcile_concurrency.max(1),
            max_attempts: section.reconcile_max_attempts.max(1),
            backoff: Duration::from_secs(section.reconcile_backoff_secs),
            backoff_max: Duration::from_secs(section.reconcile_backoff_max_secs),
        }
    }
}

/// The service's shared state: the ledger and the live gateways.
pub struct Service {
    /// The ledger.
    pub db: Db,
    /// The live gateways.
    pub gateways: Arc<Gateways>,
    /// Identifies this process in the API idempotency table (a request left running by a
    /// process that is gone may be run again).
    pub boot_id: String,
    /// How the reconciler treats payments that wait at the gateway (authorizations, 3-D Secure).
    pub reconcile: ReconcileSettings,
    in_flight: Mutex<HashSet<i64>>,
}

/// Holds an operation as running in this process; released when dropped.
pub struct Claim<'a> {
    service: &'a Service,
    op: i64,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.service
            .in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.op);
    }
}

impl Service {
    /// A service over a ledger and loaded gateways.
    pub fn new(db: Db, gateways: Arc<Gateways>) -> Self {
        Service {
            db,
            gateways,
            boot_id: ledger::new_key("boot"),
            reconcile: ReconcileSettings::default(),
            in_flight: Mutex::new(HashSet::new()),
        }
    }

    /// Marks an operation as running in this process; none when it already is.
    pub fn claim(&self, op: i64) -> Option<Claim<'_>> {
        let mut set = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        if set.insert(op) {
            Some(Claim { service: self, op })
        } else {
            None
        }
    }

    /// A configured gateway, loaded; invalid input naming `gateway` when there is none by that
    /// name, [`ErrorKind::GatewayLoading`] while its component loads and
    /// [`ErrorKind::GatewayLoadFailed`] when it did not load.
    pub fn slot(&self, gateway: &str) -> Result<Arc<GatewaySlot>, Error> {
        let slot = self.gateways.get(gateway).ok_or_else(|| {
            Error::invalid(
                "gateway",
                format!("no gateway named {gateway:?} is configured"),
            )
        })?;
        match slot.state() {
            SlotState::Ready => Ok(slot),
            SlotState::Loading => Err(Error::new(
                ErrorKind::GatewayLoading,
                Some("gateway"),
                format!(
                    "gateway {gateway} is still loading its component; nothing was done: try again shortly"
                ),
            )),
            SlotState::Failed => Err(Error::new(
                ErrorKind::GatewayLoadFailed,
                Some("gateway"),
                format!(
                    "gateway {gateway} failed to load its component; nothing was done (GET /v1/gateways says why)"
                ),
            )),
        }
    }

    /// What a configured gateway declared it supports; invalid input naming `gateway` when there
    /// is none by that name.
    pub fn capabilities(&self, gateway: &str) -> Result<Capabilities, Error> {
        Ok(self.slot(gateway)?.capabilities())
    }

    /// The gateway to use when a request names `requested` (or none).
    pub fn gateway_name(&self, requested: Option<&str>) -> Result<String, Error> {
        match requested {
            Some(g) => self.slot(g).map(|s| s.name().to_string()),
            None => self
                .gateways
                .default_name()
                .map(str::to_string)
                .ok_or_else(|| {
                    Error::invalid("gateway", "no default gateway is configured: name one")
                }),
        }
    }

    /// Checks a currency against ISO 4217 and the gateway's own list.
    pub fn check_currency(&self, currency: &str, gateway: Option<&str>) -> Result<(), Error> {
        if !crate::currency::is_iso4217(currency) {
            return Err(Error::invalid(
                "currency",
                format!("{currency:?} is not an ISO 4217 currency code (upper case, e.g. USD)"),
            ));
        }
        if let Some(g) = gateway {
            let accepted = self.slot(g)?.currencies();
            if !accepted.is_empty() && !accepted.iter().any(|c| c == currency) {
                return Err(Error::invalid(
                    "currency",
                    format!(
                        "gateway {g} does not accept {currency} (it accepts {})",
                        accepted.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// A transaction of the ledger; not found naming `transaction_id` when there is none.
    pub async fn transaction(&self, txn_id: i64) -> Result<Transaction, Error> {
        self.db
            .run(move |l| l.transaction(txn_id))
            .await?
            .ok_or_else(|| Error::not_found("transaction_id", format!("no transaction {txn_id}")))
    }
}

impl ReconcileSettings {
    /// How long to wait after the `attempts`-th repeat of an operation (1-based) before the
    /// next one.
    pub fn backoff_after(&self, attempts: u32) -> Duration {
        let factor = 1u32 << attempts.saturating_sub(1).min(20);
        self.backoff.saturating_mul(factor).min(self.backoff_max)
    }
}
