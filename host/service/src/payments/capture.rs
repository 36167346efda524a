//! Capturing an authorized transaction: all of it, or part.

use crate::error::Error;
use crate::ledger::Transaction;
use crate::service::Service;

use super::authorization::Change;
use super::requester::Requester;

impl Service {
    /// Captures an authorized transaction (all of it, or `amount`), for the service itself.
    pub async fn capture(&self, txn_id: i64, amount: Option<i64>) -> Result<Transaction, Error> {
        self.capture_for(txn_id, amount, Requester::Service).await
    }

    /// Captures an authorized transaction (all of it, or `amount`) for `requester`.
    pub async fn capture_for(
        &self,
        txn_id: i64,
        amount: Option<i64>,
        requester: Requester<'_>,
    ) -> Result<Transaction, Error> {
        self.change_authorization(txn_id, Change::Capture(amount), requester)
            .await
    }
}
