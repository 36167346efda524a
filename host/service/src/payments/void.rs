//! Voiding a transaction: an authorization is voided at the gateway (the transaction ends
//! `canceled`); a pending transaction that was never charged is canceled in the ledger only.

use crate::error::Error;
use crate::ledger::{Transaction, TxnStatus};
use crate::service::Service;

use super::authorization::{Change, Changed};
use super::requester::Requester;

impl Service {
    /// Voids a transaction for the service itself: an authorization at the gateway, or a
    /// pending transaction that was never charged.
    pub async fn void(&self, txn_id: i64) -> Result<Transaction, Error> {
        self.void_for(txn_id, Requester::Service)
            .await
            .map(|(t, _)| t)
    }

    /// Voids a transaction for `requester`: an authorization at the gateway, or a pending
    /// transaction that was never charged. Says whether the gateway answered `pending`.
    pub async fn void_for(&self, txn_id: i64, requester: Requester<'_>) -> Result<Changed, Error> {
        let txn = self.transaction(txn_id).await?;
        if txn.status == TxnStatus::Pending && txn.attempted_at.is_none() {
            if txn.invoice_id.is_some() {
                return Err(Error::conflict(
                    "transaction_id",
                    "the transaction is on an invoice: void the invoice first",
                ));
            }
            // Compare-and-set: only while nobody started charging or invoicing it.
            if let Some(t) = self.db.run(move |l| l.cancel_unattempted(txn_id)).await? {
                return Ok((t, false));
            }
            return Err(Error::conflict(
                "transaction_id",
                "the transaction is being charged or invoiced",
            ));
        }
        self.change_authorization(txn_id, Change::Void, requester)
            .await
    }
}
