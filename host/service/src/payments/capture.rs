//! Capturing an authorized transaction: all of it, or part; several parts where the gateway has
//! `multiple-captures` (`final_capture` false keeps the rest of the authorization).

use crate::error::Error;
use crate::ledger::Transaction;
use crate::service::Service;

use super::authorization::{Change, Changed};
use super::requester::Requester;

impl Service {
    /// Captures an authorized transaction (all of it, or `amount`), for the service itself.
    pub async fn capture(&self, txn_id: i64, amount: Option<i64>) -> Result<Transaction, Error> {
        self.capture_for(txn_id, amount, true, Requester::Service)
            .await
            .map(|(t, _)| t)
    }

    /// Captures an authorized transaction (all of what remains, or `amount`) for `requester`;
    /// `final_capture` false (gateways with `multiple-captures`) keeps the rest authorized. Says
    /// whether the gateway answered `pending`.
    pub async fn capture_for(
        &self,
        txn_id: i64,
        amount: Option<i64>,
        final_capture: bool,
        requester: Requester<'_>,
    ) -> Result<Changed, Error> {
        let change = Change::Capture {
            amount,
            final_capture,
        };
        self.change_authorization(txn_id, change, requester).await
    }
}
