//! Capturing an authorized transaction: all of it, or part.

use crate::error::Error;
use crate::ledger::Transaction;
use crate::service::Service;

use super::authorization::Change;

impl Service {
    /// Captures an authorized transaction (all of it, or `amount`).
    pub async fn capture(&self, txn_id: i64, amount: Option<i64>) -> Result<Transaction, Error> {
        self.change_authorization(txn_id, Change::Capture(amount))
            .await
    }
}
