//! Recording transactions and charging them: a charge made at once is written with its intent in
//! one commit, then run; a pending charge (a billing run's) gets its intent written when it is
//! charged. The charge's idempotency key is the transaction's own.

use crate::customers::check_return_url;
use crate::error::{Error, ErrorKind};
use crate::ledger::{
    Capture, Card, Initiator, LedgerError, NewOperation, NewTransaction, OpKind, OpState,
    Operation, Transaction, TxnKind, TxnStatus, new_key,
};
use crate::retry::RetryPolicy;
use crate::service::Service;
use omnicrm_host::contract::GatewayError;
use omnicrm_host::error::CallError;

use super::amount::check_amount;
use super::executor::Exec;
use super::journal;
use super::params::ChargeParams;

/// A transaction to create, as the API receives it.
#[derive(Debug, Clone)]
pub struct TxnRequest {
    /// CRM customer.
    pub customer_id: String,
    /// Amount (positive).
    pub amount: i64,
    /// Currency (upper case).
    pub currency: String,
    /// Description.
    pub description: Option<String>,
    /// charge or credit.
    pub kind: TxnKind,
    /// The stored card (none: the default at charge time).
    pub card_id: Option<i64>,
    /// automatic or manual capture.
    pub capture: Capture,
    /// Charge now (true) or leave pending for a billing run or an invoice.
    pub charge_now: bool,
    /// Who starts the charge.
    pub initiator: Initiator,
    /// Where the customer comes back after an action (required for `customer`).
    pub return_url: Option<String>,
    /// A key derived from the client's `Idempotency-Key`, when it sent one.
    pub client_key: Option<String>,
}

/// A recorded transaction, the error the client must hear about (when its charge failed in a way
/// that is not an outcome: invalid input, gateway unavailable; a decline is a `failed`
/// transaction), and whether it was created now (not a repeat of the client's key).
pub type Recorded = (Transaction, Option<Error>, bool);

/// The charge operation of a transaction: its key (the transaction's), the stored card (with its
/// network transaction id) and the gateway customer, who starts it (`initiator`, else the
/// transaction's own), and the exact inputs of the call.
fn charge_operation(
    txn: &Transaction,
    card: &Card,
    customer_ref: &str,
    initiator: Option<Initiator>,
) -> Result<NewOperation, LedgerError> {
    let params = ChargeParams {
        customer: customer_ref.to_string(),
        card: card.gateway_card_ref.clone(),
        amount: txn.amount,
        currency: txn.currency.clone(),
        description: txn.description.clone(),
        capture: txn.capture,
        metadata: vec![
            ("crm_transaction_id".into(), txn.id.to_string()),
            ("crm_customer_id".into(), txn.crm_customer_id.clone()),
        ],
        initiator: Some(initiator.unwrap_or(txn.initiator)),
        return_url: txn.return_url.clone(),
        network_transaction_id: card.network_transaction_id.clone(),
    };
    Ok(NewOperation {
        kind: OpKind::Charge,
        gateway: card.gateway.clone(),
        transaction_id: Some(txn.id),
        refund_id: None,
        invoice_id: None,
        idempotency_key: txn.idempotency_key.clone(),
        params: serde_json::to_value(&params)
            .map_err(|e| LedgerError::Database(format!("charge inputs: {e}")))?,
    })
}

/// The answer while another task runs the charge.
fn charge_in_progress() -> Error {
    Error::conflict(
        "transaction_id",
        "the charge is in progress; look the transaction up later",
    )
}

/// The answer for a payment that waits for the customer.
pub(crate) fn action_required(txn: &Transaction) -> Error {
    Error::new(
        ErrorKind::ActionRequired,
        Some("card_id"),
        txn.last_error.clone().unwrap_or_else(|| {
            "the card issuer asks the customer to authenticate the payment".to_string()
        }),
    )
}

/// The answer for a transaction held for review: the gateway's answer could not be trusted.
pub(crate) fn held_for_review(txn: &Transaction) -> Error {
    Error::new(
        ErrorKind::HeldForReview,
        Some("gateway"),
        txn.last_error.clone().unwrap_or_else(|| {
            "the gateway's answer broke the contract; the transaction is held for review".into()
        }),
    )
}

/// The error a charge's client must hear about from where its transaction stands: it waits for
/// the customer, or it is held for review.
pub(crate) fn status_error(txn: &Transaction) -> Option<Error> {
    match txn.status {
        TxnStatus::RequiresAction => Some(action_required(txn)),
        TxnStatus::HeldForReview => Some(held_for_review(txn)),
        _ => None,
    }
}

/// The error a charge's (or a completion's) client must hear about: a transaction held for
/// review is answered as such, whatever the call said (the plugin's broken answer is what held
/// it); otherwise the call's failure, else where the transaction stands.
pub(crate) fn client_error(txn: &Transaction, call: Option<Error>) -> Option<Error> {
    if txn.status == TxnStatus::HeldForReview {
        return Some(held_for_review(txn));
    }
    call.or_else(|| status_error(txn))
}

/// Checks who starts a charge and where the customer comes back.
fn check_initiator(req: &TxnRequest, charge_now: bool) -> Result<(), Error> {
    if let Some(u) = &req.return_url {
        check_return_url(u)?;
    }
    if req.initiator == Initiator::Customer {
        if req.kind != TxnKind::Charge || !charge_now {
            return Err(Error::invalid(
                "initiator",
                "a customer-initiated charge is charged at once, while the customer is there",
            ));
        }
        if req.return_url.is_none() {
            return Err(Error::invalid(
                "return_url",
                "a customer-initiated charge needs the page the customer comes back to",
            ));
        }
    }
    Ok(())
}

/// The answer for a transaction an invoice collects.
fn on_an_invoice() -> Error {
    Error::conflict(
        "transaction_id",
        "the transaction is on an invoice: pay the invoice instead",
    )
}

/// Where a charge's intent stands.
enum ChargeIntent {
    /// Written (now or before) and unsettled: run it.
    Run(Box<Operation>),
    /// Settled before, or nothing to charge: answer with the transaction as it stands.
    Settled,
    /// Not written: another task started the charge, or the transaction was voided or invoiced
    /// meanwhile.
    NotStarted,
}

impl Service {
    /// Validates and records a transaction; charges it at once when asked.
    pub async fn create_transaction(&self, req: TxnRequest) -> Result<Recorded, Error> {
        check_amount("amount", req.amount)?;
        let charge_now = req.charge_now && req.kind == TxnKind::Charge;
        check_initiator(&req, charge_now)?;
        let (links, card) = self
            .customer_and_card(&req.customer_id, req.card_id, charge_now)
            .await?;
        let gateway = card
            .as_ref()
            .map(|c| c.gateway.clone())
            .or_else(|| self.gateways.default_name().map(str::to_string));
        self.check_currency(&req.currency, gateway.as_deref())?;
        if req.kind == TxnKind::Credit && req.capture == Capture::Manual {
            return Err(Error::invalid(
                "capture",
                "a credit is not charged: capture does not apply",
            ));
        }
        let key = match &req.client_key {
            Some(k) => format!("txn-{k}"),
            None => new_key("txn"),
        };
        let new = NewTransaction {
            crm_customer_id: req.customer_id.clone(),
            card_id: card.as_ref().map(|c| c.id),
            gateway: card.as_ref().map(|c| c.gateway.clone()),
            amount: req.amount,
            currency: req.currency.clone(),
            description: req.description.clone(),
            kind: req.kind,
            capture: req.capture,
            status: TxnStatus::Pending,
            idempotency_key: key,
            initiator: req.initiator,
            return_url: req.return_url.clone(),
        };
        if charge_now
            && let Some(card) = card
            && let Some(link) = links.into_iter().find(|l| l.gateway == card.gateway)
        {
            // The transaction and its charge's intent in one commit, then the call.
            let customer_ref = link.gateway_customer_ref;
            let (txn, op) = self
                .db
                .run(move |l| {
                    l.create_charge(&new, &|t| charge_operation(t, &card, &customer_ref, None))
                })
                .await?;
            let Some(op) = op else {
                // A repeat of the client's key: settle (or report) the charge made the first time.
                let (txn, err) = self
                    .charge_transaction(txn.id, RetryPolicy::INTERACTIVE)
                    .await?;
                return Ok((txn, err, false));
            };
            let (txn_id, op_id) = (txn.id, op.id);
            journal::record(op_id);
            let exec = match self.claim(op_id) {
                // Written just now: nothing else settled it, no need to read it again.
                Some(guard) => {
                    self.run_claimed(op, RetryPolicy::INTERACTIVE, guard)
                        .await?
                }
                None => Exec::in_flight(),
            };
            if let Some(e @ CallError::Gateway(GatewayError::InvalidInput(_))) = &exec.error {
                // The gateway refused the request before doing anything: like any other bad
                // input, it leaves nothing behind (the client corrects it and sends it again).
                let refused = Error::from_call(e);
                if self
                    .db
                    .run(move |l| l.discard_refused_charge(txn_id, op_id))
                    .await?
                {
                    return Err(refused);
                }
            }
            let (txn, err) = self.charge_answer(txn_id, Some(exec)).await?;
            return Ok((txn, err, true));
        }
        let (txn, created) = self.db.run(move |l| l.insert_transaction(&new)).await?;
        if !charge_now {
            return Ok((txn, None, created));
        }
        let (txn, err) = self
            .charge_transaction(txn.id, RetryPolicy::INTERACTIVE)
            .await?;
        Ok((txn, err, created))
    }

    /// Charges a pending transaction (or settles one whose charge is unsettled): writes the
    /// charge operation with the transaction's key, then runs it. Returns the transaction and
    /// the error the client must hear about.
    pub async fn charge_transaction(
        &self,
        txn_id: i64,
        policy: RetryPolicy,
    ) -> Result<(Transaction, Option<Error>), Error> {
        self.charge_transaction_as(txn_id, policy, None).await
    }

    /// [`Service::charge_transaction`], the charge started by `initiator` rather than the
    /// transaction's own (a billing run charges on the customer's agreed schedule).
    pub async fn charge_transaction_as(
        &self,
        txn_id: i64,
        policy: RetryPolicy,
        initiator: Option<Initiator>,
    ) -> Result<(Transaction, Option<Error>), Error> {
        let exec = match self.charge_intent(txn_id, initiator).await? {
            ChargeIntent::Run(op) => Some(self.execute(*op, policy).await?),
            ChargeIntent::Settled => None,
            ChargeIntent::NotStarted => return self.charge_not_started(txn_id).await,
        };
        self.charge_answer(txn_id, exec).await
    }

    /// Writes the intent of a transaction's charge, unless it was written before: the operation
    /// (with the transaction's key and the exact inputs) and the transaction's card, together,
    /// before the gateway is called, while the transaction is still a pending charge that no
    /// invoice holds (an invoice and a charge never both collect it).
    async fn charge_intent(
        &self,
        txn_id: i64,
        initiator: Option<Initiator>,
    ) -> Result<ChargeIntent, Error> {
        let txn = self.transaction(txn_id).await?;
        if txn.kind != TxnKind::Charge {
            return Err(Error::conflict("transaction_id", "a credit is not charged"));
        }
        let existing = self
            .db
            .run(move |l| l.operations_for(Some(txn_id), None))
            .await?;
        if let Some(op) = existing.into_iter().find(|o| o.kind == OpKind::Charge) {
            return Ok(if matches!(op.state, OpState::Pending | OpState::Unknown) {
                ChargeIntent::Run(Box::new(op))
            } else {
                ChargeIntent::Settled
            });
        }
        if txn.status != TxnStatus::Pending {
            return Ok(ChargeIntent::Settled);
        }
        if txn.invoice_id.is_some() {
            return Err(on_an_invoice());
        }
        let card = match txn.card_id {
            Some(id) => self.customer_card(&txn.crm_customer_id, id).await?,
            None => self.default_card(&txn.crm_customer_id).await?,
        };
        let link = self
            .customer_link(&txn.crm_customer_id, &card.gateway)
            .await?;
        let new = charge_operation(&txn, &card, &link.gateway_customer_ref, initiator)?;
        let card_id = card.id;
        Ok(
            match self.db.run(move |l| l.begin_charge(&new, card_id)).await? {
                Some(op) => ChargeIntent::Run(Box::new(op)),
                None => ChargeIntent::NotStarted,
            },
        )
    }

    /// The transaction after a charge's run, and the error the client must hear about.
    async fn charge_answer(
        &self,
        txn_id: i64,
        mut exec: Option<Exec>,
    ) -> Result<(Transaction, Option<Error>), Error> {
        let txn = match exec.as_mut().and_then(|e| e.txn.take()) {
            Some(t) => t,
            None => self
                .db
                .run(move |l| l.transaction(txn_id))
                .await?
                .ok_or_else(|| Error::internal("transaction vanished"))?,
        };
        let err = exec.and_then(|e| {
            if e.in_flight {
                return Some(charge_in_progress());
            }
            e.error.and_then(|err| match &err {
                CallError::Gateway(GatewayError::Declined(_) | GatewayError::ActionRequired(_)) => {
                    None
                }
                _ => Some(Error::from_call(&err)),
            })
        });
        let err = client_error(&txn, err);
        Ok((txn, err))
    }

    /// The answer when a charge's intent could not be written: another task started the charge,
    /// or the transaction was voided or invoiced meanwhile.
    async fn charge_not_started(&self, txn_id: i64) -> Result<(Transaction, Option<Error>), Error> {
        let txn = self.transaction(txn_id).await?;
        if txn.invoice_id.is_some() && txn.attempted_at.is_none() {
            return Err(on_an_invoice());
        }
        let err = (txn.status == TxnStatus::Pending).then(charge_in_progress);
        Ok((txn, err))
    }
}
