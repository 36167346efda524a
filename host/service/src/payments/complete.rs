//! Finishing a payment after the customer's action (3-D Secure, a bank's page): the gateway's
//! `complete-action`, through the intent log with a key derived from the transaction's and the
//! request's, its answer applied as a charge's is.

use crate::error::{Error, ErrorKind};
use crate::ledger::{NewOperation, OpKind, Transaction, TxnStatus};
use crate::retry::RetryPolicy;
use crate::service::Service;
use omnicrm_host::contract::{Capabilities, GatewayError};
use omnicrm_host::error::CallError;

use super::charge::{client_error, status_error};
use super::params::{CompleteActionParams, to_params};
use super::requester::Requester;

impl Service {
    /// Finishes a transaction's payment that waited for the customer, with what the gateway's
    /// page or SDK returned (`details`), for `requester`. Returns the transaction as the gateway
    /// now says it stands and the error the client must hear (the payment waits for another
    /// action; the gateway failed). A transaction settled meanwhile (by an event or the
    /// reconciler) is answered as it stands; one that never waited is a conflict.
    pub async fn complete_action_for(
        &self,
        txn_id: i64,
        details: Vec<(String, String)>,
        requester: Requester<'_>,
    ) -> Result<(Transaction, Option<Error>), Error> {
        let txn = self.transaction(txn_id).await?;
        match txn.status {
            TxnStatus::RequiresAction => {}
            TxnStatus::Succeeded
            | TxnStatus::Authorized
            | TxnStatus::PartiallyRefunded
            | TxnStatus::Refunded
            | TxnStatus::Failed
            | TxnStatus::Canceled => return Ok((txn, None)),
            TxnStatus::HeldForReview => {
                let err = status_error(&txn);
                return Ok((txn, err));
            }
            other => {
                return Err(Error::conflict(
                    "transaction_id",
                    format!("the transaction is {other}: no customer action is awaited"),
                ));
            }
        }
        let (Some(gateway), Some(payment)) = (txn.gateway.clone(), txn.gateway_payment_ref.clone())
        else {
            return Err(Error::conflict(
                "transaction_id",
                "the transaction has no payment at a gateway",
            ));
        };
        if !self
            .capabilities(&gateway)?
            .contains(Capabilities::CUSTOMER_ACTIONS)
        {
            return Err(Error::new(
                ErrorKind::Unsupported,
                Some("transaction_id"),
                format!(
                    "gateway {gateway} does not complete customer actions (no `customer-actions` capability)"
                ),
            ));
        }
        let op = match self
            .unsettled_op(Some(txn_id), None, &[OpKind::CompleteAction])
            .await?
        {
            Some(op) if requester.resumes(&op.idempotency_key) => op,
            Some(_) => {
                return Err(Error::conflict(
                    "transaction_id",
                    "a completion of this payment is in progress",
                ));
            }
            None => {
                let new = NewOperation {
                    kind: OpKind::CompleteAction,
                    gateway,
                    transaction_id: Some(txn_id),
                    refund_id: None,
                    invoice_id: None,
                    idempotency_key: format!(
                        "{}:complete:{}",
                        txn.idempotency_key,
                        requester.key_part()
                    ),
                    params: to_params(&CompleteActionParams { payment, details })?,
                };
                self.db.run(move |l| l.insert_operation(&new)).await?.0
            }
        };
        let exec = self.execute(op, RetryPolicy::INTERACTIVE).await?;
        if exec.in_flight {
            return Err(Error::conflict(
                "transaction_id",
                "a completion of this payment is in progress",
            ));
        }
        let txn = match exec.txn {
            Some(t) => t,
            None => self.transaction(txn_id).await?,
        };
        let err = exec.error.and_then(|e| match &e {
            CallError::Gateway(GatewayError::Declined(_) | GatewayError::ActionRequired(_)) => None,
            _ => Some(Error::from_call(&e)),
        });
        let err = client_error(&txn, err);
        Ok((txn, err))
    }
}
