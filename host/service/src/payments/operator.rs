//! Settling by hand a charge flagged for an operator, of two kinds:
//! - one the reconciler gave up on: its outcome stayed unknown through every repeat the
//!   reconciler allows (a plugin that traps on every call, a gateway that never answers);
//! - one held for review: the gateway's answer broke the contract, so money may have moved but
//!   the answer says nothing reliable about it ([`super::review`]).
//!
//! Either carries `attention`. An operator checks the payment at the gateway and records what
//! they found. The outcome moves the ledger as a trustworthy answer would have (the same
//! compare-and-set of the transaction, a flagged operation settled), and who settled it and why
//! are kept with the transaction. A transaction that is not flagged is refused: everything else
//! settles through the gateway.

use crate::error::Error;
use crate::ledger::{OpKind, OpState, Transaction, TxnPatch, TxnStatus};
use crate::service::Service;

use super::status::txn_from;

/// What the operator found at the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperatorOutcome {
    /// The money was taken: the transaction becomes `succeeded`, captured in full.
    Succeeded,
    /// The money was reserved (manual capture): the transaction becomes `authorized`.
    Authorized,
    /// Nothing was taken: the transaction becomes `failed`.
    Failed,
}

impl OperatorOutcome {
    /// Parses `succeeded`, `authorized` or `failed`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "succeeded" => Some(OperatorOutcome::Succeeded),
            "authorized" => Some(OperatorOutcome::Authorized),
            "failed" => Some(OperatorOutcome::Failed),
            _ => None,
        }
    }
}

/// An operator's settlement of a flagged charge.
#[derive(Debug, Clone)]
pub struct OperatorSettlement {
    /// What they found.
    pub outcome: OperatorOutcome,
    /// The gateway's payment reference (needed when money was taken or reserved).
    pub gateway_payment_ref: Option<String>,
    /// Who settles it (the API key's name, or the name given on the command line).
    pub operator: String,
    /// Why: what they found at the gateway.
    pub reason: String,
}

impl Service {
    /// Settles a flagged charge by hand; the transaction as it stands after. A conflict
    /// (naming `status`) when the transaction is not flagged for an operator, when what is
    /// flagged is not its charge, or when it moved meanwhile.
    pub async fn settle_by_operator(
        &self,
        txn_id: i64,
        settlement: OperatorSettlement,
    ) -> Result<Transaction, Error> {
        let txn = self.transaction(txn_id).await?;
        if txn.attention.is_none() {
            return Err(Error::conflict(
                "status",
                format!(
                    "transaction {txn_id} is not flagged for an operator: only a charge the \
                     reconciler gave up on, or one held for review, is settled by hand"
                ),
            ));
        }
        if settlement.reason.trim().is_empty() {
            return Err(Error::invalid(
                "reason",
                "say what was found at the gateway",
            ));
        }
        if settlement.operator.trim().is_empty() {
            return Err(Error::invalid("operator", "name who settles it"));
        }
        let reference = settlement
            .gateway_payment_ref
            .clone()
            .filter(|r| !r.trim().is_empty());
        if settlement.outcome != OperatorOutcome::Failed && reference.is_none() {
            return Err(Error::invalid(
                "gateway_payment_ref",
                "name the gateway's payment that took or reserved the money",
            ));
        }
        let (status, captured, state) = match settlement.outcome {
            OperatorOutcome::Succeeded => (TxnStatus::Succeeded, txn.amount, OpState::Done),
            OperatorOutcome::Authorized => (TxnStatus::Authorized, 0, OpState::Done),
            OperatorOutcome::Failed => (TxnStatus::Failed, 0, OpState::Failed),
        };
        // A charge held for review had its operation settled when its answer was held: only
        // the transaction moves, and only out of `held_for_review`.
        let held = txn.status == TxnStatus::HeldForReview;
        let (from, flagged_op, _claim) = if held {
            (vec![TxnStatus::HeldForReview], None, None)
        } else {
            let op = self.flagged_charge(txn_id).await?;
            let Some(claim) = self.claim(op) else {
                return Err(Error::conflict(
                    "status",
                    "another task is settling this transaction now",
                ));
            };
            (txn_from(status), Some((op, state)), Some(claim))
        };
        let patch = TxnPatch {
            status: Some(status),
            gateway_payment_ref: reference,
            amount_captured: Some(captured),
            next_action: Some(None),
            last_error: Some(None),
            ..Default::default()
        };
        let OperatorSettlement {
            operator, reason, ..
        } = settlement;
        tracing::warn!(transaction = txn_id, held, %operator, %reason, outcome = %status, "a flagged charge settled by hand");
        self.db
            .run(move |l| l.settle_by_hand(txn_id, flagged_op, &from, &patch, &operator, &reason))
            .await?
            .ok_or_else(|| {
                Error::conflict(
                    "status",
                    format!("transaction {txn_id} moved meanwhile: read it again"),
                )
            })
    }

    /// The flagged, unsettled charge operation of a transaction the reconciler gave up on.
    async fn flagged_charge(&self, txn_id: i64) -> Result<i64, Error> {
        let ops = self
            .db
            .run(move |l| l.operations_for(Some(txn_id), None))
            .await?;
        ops.into_iter()
            .find(|o| {
                o.kind == OpKind::Charge
                    && o.flagged_at.is_some()
                    && matches!(o.state, OpState::Pending | OpState::Unknown)
            })
            .map(|o| o.id)
            .ok_or_else(|| {
                Error::conflict(
                    "status",
                    format!(
                        "what is flagged on transaction {txn_id} is not its charge but a \
                         capture, void or refund, which is not settled by hand: finish it at the \
                         gateway"
                    ),
                )
            })
    }
}
