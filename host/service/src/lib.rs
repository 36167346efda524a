//! The omnicrm-pay service: ledger, HTTP API, billing runs and the demo.
//!
//! One module per job: [`config`] (the TOML file), [`ledger`] (the storage seam and its SQLite
//! implementation), [`payments`] (the exactly-once flow: charges, captures, voids, refunds),
//! [`customers`] (customers and stored cards), [`invoices`] (invoices through the same intent
//! log), [`reconcile`] (settling unknown outcomes), [`webhooks`] (gateway events), [`reload`]
//! (live gateways, limits, hot reload), [`api`] (HTTP routes, auth, errors, OpenAPI),
//! [`billing_run`], [`demo`]; plus [`client`] (the API client the demo and tests use), [`currency`]
//! (ISO 4217) and [`time`] (calendar arithmetic).

pub mod api;
pub mod billing_run;
pub mod client;
pub mod config;
pub mod currency;
pub mod customers;
pub mod demo;
pub mod error;
pub mod invoices;
pub mod ledger;
pub mod payments;
pub mod reconcile;
pub mod reload;
pub mod server;
pub mod time;
pub mod webhooks;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use crate::ledger::Db;
use crate::reconcile::ReconcileSettings;
use crate::reload::Gateways;

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
}
