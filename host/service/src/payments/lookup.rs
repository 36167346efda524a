//! Looking payments up at the gateway and moving their transactions forward to what the gateway
//! says: payments left `processing`, authorizations that may have expired, and the refusal of a
//! capture or void. A gateway without `payment-lookup` is never asked: its payments move by
//! events and by the answers to the service's own calls.

use crate::error::Error;
use crate::ledger::{Transaction, TxnPatch};
use crate::live_gateways::Lane;
use crate::retry::RetryPolicy;
use crate::service::Service;
use omnicrm_host::contract::{self, Capabilities, PaymentStatus};

use super::outcome::payment_patch;
use super::status::{txn_from, txn_status_of};

/// The last error of an authorization the gateway canceled before capture.
pub const AUTHORIZATION_EXPIRED: &str = "the authorization expired (or was canceled) at the \
    gateway before it was captured; card authorizations last about 7 days. No money was taken";

impl Service {
    /// Looks a transaction's payment up at the gateway; none when it has no payment or the
    /// gateway has no `payment-lookup`.
    pub async fn look_up_payment(
        &self,
        txn: &Transaction,
    ) -> Result<Option<contract::Payment>, Error> {
        let (Some(gateway), Some(payment)) = (&txn.gateway, &txn.gateway_payment_ref) else {
            return Ok(None);
        };
        let slot = self.slot(gateway)?;
        if !slot.capabilities().contains(Capabilities::PAYMENT_LOOKUP) {
            return Ok(None);
        }
        slot.call_in(Lane::Lookup, "get-payment", RetryPolicy::BATCH, |g| {
            let payment = payment.clone();
            async move { g.get_payment(&payment).await }
        })
        .await
        .map(Some)
        .map_err(|e| Error::from_call(&e))
    }

    /// Moves a transaction forward to what a lookup of its payment says (compare-and-set),
    /// recording `note` as its last error when given. Returns the row when it moved.
    pub async fn apply_lookup(
        &self,
        txn_id: i64,
        p: &contract::Payment,
        note: Option<String>,
    ) -> Result<Option<Transaction>, Error> {
        let status = txn_status_of(p.status);
        let patch = TxnPatch {
            gateway_payment_ref: None,
            last_error: note.map(Some),
            ..payment_patch(p)
        };
        let from = txn_from(status);
        Ok(self
            .db
            .run(move |l| l.update_transaction(txn_id, &from, &patch))
            .await?)
    }

    /// Looks a transaction's payment up at the gateway and moves its status forward to what the
    /// gateway says (for payments left `processing`). Returns whether it moved.
    pub async fn refresh_payment(&self, txn: &Transaction) -> Result<bool, Error> {
        match self.look_up_payment(txn).await? {
            Some(p) => Ok(self.apply_lookup(txn.id, &p, None).await?.is_some()),
            None => Ok(false),
        }
    }

    /// Settles an authorization from a lookup of its payment: one the gateway canceled (card
    /// authorizations expire after about 7 days) becomes `canceled` with
    /// [`AUTHORIZATION_EXPIRED`] as its last error; one captured elsewhere `succeeded`. Returns
    /// the transaction when it moved.
    pub async fn settle_authorization(
        &self,
        txn: &Transaction,
    ) -> Result<Option<Transaction>, Error> {
        let Some(p) = self.look_up_payment(txn).await? else {
            return Ok(None);
        };
        let note = (p.status == PaymentStatus::Canceled).then(|| AUTHORIZATION_EXPIRED.into());
        self.apply_lookup(txn.id, &p, note).await
    }
}
