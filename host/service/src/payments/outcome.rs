//! What a gateway call's result means for the ledger: the class of a failure (final, retry,
//! unknown), the operation's next state (`waiting` for a modification the gateway settles
//! later), and the forward-only updates of the transaction, capture, refund or invoice
//! concerned.

use crate::error::Error;
use crate::ledger::{
    CaptureStatus, InvoicePatch, OpKind, OpState, Operation, RefundStatus, TxnPatch, TxnStatus,
};
use crate::service::Service;
use omnicrm_host::contract::{self, GatewayError, ModificationStatus, PaymentStatus};
use omnicrm_host::error::CallError;

use super::status::{
    customer_action_of, decline_category_name, invoice_from, invoice_status_of, refund_status_of,
    txn_from, txn_status_of,
};

/// What a failed call means for the operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Nothing moved and nothing will: settle as failed.
    Final,
    /// Nothing happened: repeat later with the same key.
    Retry,
    /// Money may have moved: reconcile with the same key.
    Unknown,
}

/// Classifies a failed call.
pub fn classify(e: &CallError) -> ErrorClass {
    if e.may_have_moved_money() {
        return ErrorClass::Unknown;
    }
    match e {
        CallError::Gateway(GatewayError::IdempotencyConflict(_)) => ErrorClass::Unknown,
        CallError::Gateway(
            GatewayError::RateLimited(_)
            | GatewayError::NotAttempted(_)
            | GatewayError::Configuration(_),
        )
        | CallError::Host(_) => ErrorClass::Retry,
        _ => ErrorClass::Final,
    }
}

/// The next state of an operation whose call failed, from `prev`.
pub fn failed_state(prev: OpState, e: &CallError) -> OpState {
    match classify(e) {
        ErrorClass::Final => OpState::Failed,
        ErrorClass::Retry => prev,
        ErrorClass::Unknown => OpState::Unknown,
    }
}

/// The transaction's patch of a payment as the gateway answered it: status, reference, captured
/// amount, the decline (or none), the fee (when reported in the payment's own currency) and
/// what the customer must do (cleared once the payment no longer waits for them).
pub fn payment_patch(p: &contract::Payment) -> TxnPatch {
    let decline = p.last_decline.as_ref();
    TxnPatch {
        status: Some(txn_status_of(p.status)),
        gateway_payment_ref: Some(p.id.clone()),
        amount_captured: Some(p.amount_captured),
        decline_code: Some(decline.map(|d| d.code.clone())),
        decline_reason: Some(decline.and_then(|d| d.decline_reason.clone())),
        decline_category: Some(decline.map(|d| decline_category_name(d.category).to_string())),
        fee: fee_of(p),
        next_action: Some(
            p.next_action
                .as_ref()
                .filter(|_| p.status == PaymentStatus::RequiresAction)
                .map(customer_action_of),
        ),
        ..Default::default()
    }
}

/// The gateway's fee for a payment in minor units of the payment's currency; none when it is
/// not reported, or reported in another currency (the account's settlement currency), which the
/// transaction's figures cannot add up.
pub fn fee_of(p: &contract::Payment) -> Option<i64> {
    p.fee
        .as_ref()
        .filter(|f| f.currency.eq_ignore_ascii_case(&p.amount.currency))
        .map(|f| f.amount)
}

/// What a charge's (or a completed customer action's) result means: the transaction's patch,
/// the operation's next state (before [`crate::ledger::settled_state`]) and the error.
pub fn charge_outcome(
    result: Result<contract::Payment, CallError>,
) -> (Option<TxnPatch>, OpState, Option<CallError>) {
    match result {
        Ok(p) => {
            let patch = TxnPatch {
                last_error: Some(None),
                ..payment_patch(&p)
            };
            let state = if patch.status == Some(TxnStatus::Failed) {
                OpState::Failed
            } else {
                OpState::Done
            };
            (Some(patch), state, None)
        }
        Err(e) => {
            let patch = match &e {
                CallError::Gateway(GatewayError::Declined(d)) => TxnPatch {
                    status: Some(TxnStatus::Failed),
                    gateway_payment_ref: d.payment.clone(),
                    decline_code: Some(Some(d.code.clone())),
                    decline_reason: Some(d.decline_reason.clone()),
                    decline_category: Some(Some(decline_category_name(d.category).to_string())),
                    next_action: Some(None),
                    last_error: Some(Some(d.customer_message.clone())),
                    ..Default::default()
                },
                CallError::Gateway(GatewayError::ActionRequired(a)) => TxnPatch {
                    status: Some(TxnStatus::RequiresAction),
                    gateway_payment_ref: Some(a.payment.clone()),
                    next_action: Some(Some(customer_action_of(&a.next_action))),
                    last_error: Some(Some(a.customer_message.clone())),
                    ..Default::default()
                },
                _ => TxnPatch {
                    status: match classify(&e) {
                        ErrorClass::Final => Some(TxnStatus::Failed),
                        ErrorClass::Unknown => Some(TxnStatus::Unknown),
                        ErrorClass::Retry => None,
                    },
                    last_error: Some(Some(e.to_string())),
                    ..Default::default()
                },
            };
            let state = match &e {
                CallError::Gateway(GatewayError::ActionRequired(_)) => OpState::Done,
                _ => failed_state(OpState::Pending, &e),
            };
            (Some(patch), state, Some(e))
        }
    }
}

/// What a completed customer action's result means: as a charge's when the gateway answers
/// with the payment, a decline or a new action; any other failure leaves the transaction as it
/// stands (the payment still waits for the customer), with the error recorded.
pub fn action_outcome(
    result: Result<contract::Payment, CallError>,
) -> (Option<TxnPatch>, OpState, Option<CallError>) {
    match result {
        Err(e)
            if !matches!(
                e,
                CallError::Gateway(GatewayError::Declined(_) | GatewayError::ActionRequired(_))
            ) =>
        {
            let patch = TxnPatch {
                last_error: Some(Some(e.to_string())),
                ..Default::default()
            };
            (Some(patch), failed_state(OpState::Pending, &e), Some(e))
        }
        other => charge_outcome(other),
    }
}

/// What a modification's answer says, once a `failed` one is read as the refusal it is.
enum ModificationOutcome {
    /// Done, with the payment after it when the gateway gave it.
    Succeeded(contract::Modification),
    /// Accepted; the outcome comes later.
    Pending(contract::Modification),
    /// Refused, or the call failed.
    Failed(CallError),
}

impl ModificationOutcome {
    fn of(result: Result<contract::Modification, CallError>) -> Self {
        match result {
            Ok(m) if m.status == ModificationStatus::Failed => ModificationOutcome::Failed(
                CallError::Gateway(GatewayError::InvalidInput(contract::InvalidInput {
                    field: "payment".into(),
                    message: m
                        .failure_reason
                        .unwrap_or_else(|| "the gateway refused the modification".into()),
                    request_id: None,
                })),
            ),
            Ok(m) if m.status == ModificationStatus::Pending => ModificationOutcome::Pending(m),
            Ok(m) => ModificationOutcome::Succeeded(m),
            Err(e) => ModificationOutcome::Failed(e),
        }
    }
}

impl Service {
    /// Applies a capture's or void's outcome (`op` made it); `reason` (of a void the service
    /// made on its own) becomes the last error of a canceled transaction.
    ///
    /// A succeeded modification applies the payment it left (`payment-after`), and settles the
    /// capture it made. A `pending` one leaves the transaction as it is and the operation
    /// waiting: its outcome comes later, by event or lookup ([`crate::payments::pending`]). A
    /// `failed` one was refused and changed nothing: the operation fails with the gateway's
    /// reason, as an invalid request would.
    pub(crate) async fn apply_payment_change(
        &self,
        op: &Operation,
        result: Result<contract::Modification, CallError>,
        reason: Option<String>,
    ) -> Result<(OpState, Option<CallError>), Error> {
        let txn_id = op.transaction_id.unwrap_or_default();
        let capture = if op.kind == OpKind::Capture {
            let key = op.idempotency_key.clone();
            self.db.run(move |l| l.capture_by_key(&key)).await?
        } else {
            None
        };
        match ModificationOutcome::of(result) {
            ModificationOutcome::Pending(m) => {
                tracing::info!(
                    transaction = txn_id,
                    modification = %m.id,
                    kind = %op.kind,
                    "modification pending at the gateway: the transaction is left as it is"
                );
                if let Some(c) = capture {
                    let r = m.id.clone();
                    self.db
                        .run(move |l| {
                            l.settle_capture(
                                c.id,
                                &[CaptureStatus::Pending, CaptureStatus::Unknown],
                                CaptureStatus::Pending,
                                Some(&r),
                                None,
                            )
                        })
                        .await?;
                }
                Ok((OpState::Waiting, None))
            }
            ModificationOutcome::Succeeded(m) => {
                match &m.payment_after {
                    Some(p) => {
                        let status = txn_status_of(p.status);
                        // The gateway's answer to our own call is authoritative: it may also
                        // refresh a status a webhook set first (with the captured amount).
                        let patch = TxnPatch {
                            last_error: Some(reason.filter(|_| status == TxnStatus::Canceled)),
                            ..payment_patch(p)
                        };
                        let mut from = txn_from(status);
                        from.push(status);
                        self.db
                            .run(move |l| l.update_transaction(txn_id, &from, &patch))
                            .await?;
                    }
                    None if op.kind == OpKind::Cancel => {
                        self.settle_void(txn_id, reason).await?;
                    }
                    // A capture's effect on the transaction is its capture's settlement.
                    None => {}
                }
                if let Some(c) = capture {
                    self.settle_capture(c.id, CaptureStatus::Succeeded, Some(m.id), None)
                        .await?;
                }
                Ok((OpState::Done, None))
            }
            ModificationOutcome::Failed(e) => {
                let state = failed_state(OpState::Pending, &e);
                let message = e.to_string();
                let patch = TxnPatch {
                    last_error: Some(Some(message.clone())),
                    ..Default::default()
                };
                self.db
                    .run(move |l| l.update_transaction(txn_id, &[], &patch))
                    .await?;
                if let Some(c) = capture {
                    let status = match state {
                        OpState::Failed => Some(CaptureStatus::Failed),
                        OpState::Unknown => Some(CaptureStatus::Unknown),
                        _ => None,
                    };
                    if let Some(status) = status {
                        self.settle_capture(c.id, status, None, Some(message))
                            .await?;
                    }
                }
                Ok((state, Some(e)))
            }
        }
    }

    /// Settles a capture (from pending or unknown) and, through the ledger, its transaction.
    pub(crate) async fn settle_capture(
        &self,
        capture_id: i64,
        status: CaptureStatus,
        modification: Option<String>,
        last_error: Option<String>,
    ) -> Result<(), Error> {
        self.db
            .run(move |l| {
                l.settle_capture(
                    capture_id,
                    &[CaptureStatus::Pending, CaptureStatus::Unknown],
                    status,
                    modification.as_deref(),
                    last_error.as_deref(),
                )
            })
            .await?;
        Ok(())
    }

    /// Moves an authorized transaction whose void succeeded to `canceled` (or `succeeded`
    /// when part of it was captured before), recording `reason` when the service voided it on
    /// its own.
    pub(crate) async fn settle_void(
        &self,
        txn_id: i64,
        reason: Option<String>,
    ) -> Result<(), Error> {
        let txn = self.transaction(txn_id).await?;
        let status = if txn.amount_captured > 0 {
            TxnStatus::Succeeded
        } else {
            TxnStatus::Canceled
        };
        let patch = TxnPatch {
            status: Some(status),
            last_error: Some(reason.filter(|_| status == TxnStatus::Canceled)),
            ..Default::default()
        };
        self.db
            .run(move |l| l.update_transaction(txn_id, &[TxnStatus::Authorized], &patch))
            .await?;
        Ok(())
    }

    /// Applies a refund's outcome to the refund (and, through the ledger, its transaction). A
    /// refund the gateway answered `pending` leaves its operation waiting for the outcome.
    pub(crate) async fn apply_refund(
        &self,
        refund_id: i64,
        result: Result<contract::Refund, CallError>,
    ) -> Result<(OpState, Option<CallError>), Error> {
        let open = [
            RefundStatus::Pending,
            RefundStatus::Unknown,
            RefundStatus::RequiresAction,
        ];
        match result {
            Ok(r) => {
                let status = refund_status_of(r.status);
                let state = match status {
                    RefundStatus::Failed | RefundStatus::Canceled => OpState::Failed,
                    RefundStatus::Pending | RefundStatus::RequiresAction => OpState::Waiting,
                    _ => OpState::Done,
                };
                let failure = r.failure_reason.clone();
                self.db
                    .run(move |l| {
                        l.settle_refund(refund_id, &open, status, Some(&r.id), failure.as_deref())
                    })
                    .await?;
                Ok((state, None))
            }
            Err(e) => {
                let msg = e.to_string();
                let state = failed_state(OpState::Pending, &e);
                let status = match state {
                    OpState::Failed => Some(RefundStatus::Failed),
                    OpState::Unknown => Some(RefundStatus::Unknown),
                    _ => None,
                };
                if let Some(status) = status {
                    self.db
                        .run(move |l| {
                            l.settle_refund(
                                refund_id,
                                &[RefundStatus::Pending, RefundStatus::Unknown],
                                status,
                                None,
                                Some(&msg),
                            )
                        })
                        .await?;
                }
                // A failure that changed nothing after an unknown outcome stays unknown.
                let prev = self.db.run(move |l| l.refund(refund_id)).await?;
                let state = match (state, prev.map(|r| r.status)) {
                    (OpState::Pending, Some(RefundStatus::Unknown)) => OpState::Unknown,
                    (s, _) => s,
                };
                Ok((state, Some(e)))
            }
        }
    }

    /// Applies an invoice operation's outcome to the invoice.
    pub(crate) async fn apply_invoice(
        &self,
        invoice_id: i64,
        result: Result<contract::Invoice, CallError>,
    ) -> Result<(OpState, Option<CallError>), Error> {
        match result {
            Ok(inv) => {
                let status = invoice_status_of(inv.status);
                let patch = InvoicePatch {
                    status: Some(status),
                    gateway_invoice_ref: Some(inv.id.clone()),
                    gateway_number: inv.number.clone(),
                    hosted_url: inv.hosted_url.clone(),
                    pdf_url: inv.pdf_url.clone(),
                    amount_paid: Some(inv.amount_paid),
                    tax: Some(inv.tax),
                    total: Some(inv.total),
                    due_date: inv.due_date,
                    last_error: Some(None),
                    ..Default::default()
                };
                let from = invoice_from(status);
                self.db
                    .run(move |l| l.update_invoice(invoice_id, &from, &patch))
                    .await?;
                Ok((OpState::Done, None))
            }
            Err(e) => {
                let patch = InvoicePatch {
                    last_error: Some(Some(e.to_string())),
                    ..Default::default()
                };
                self.db
                    .run(move |l| l.update_invoice(invoice_id, &[], &patch))
                    .await?;
                Ok((failed_state(OpState::Pending, &e), Some(e)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use omnicrm_host::contract::{Decline, Failure, RateLimited};

    #[test]
    fn errors_are_classified() {
        let f = || Failure {
            message: "x".into(),
            request_id: None,
        };
        assert_eq!(
            classify(&CallError::Gateway(GatewayError::OutcomeUnknown(f()))),
            ErrorClass::Unknown
        );
        assert_eq!(
            classify(&CallError::Timeout {
                after: std::time::Duration::from_secs(1)
            }),
            ErrorClass::Unknown
        );
        assert_eq!(
            classify(&CallError::Trap("boom".into())),
            ErrorClass::Unknown
        );
        assert_eq!(
            classify(&CallError::InvalidOutput {
                field: "payment.amount".into(),
                problem: "is not the amount asked for".into(),
            }),
            ErrorClass::Unknown
        );
        assert_eq!(
            classify(&CallError::Gateway(GatewayError::NotAttempted(f()))),
            ErrorClass::Retry
        );
        assert_eq!(
            classify(&CallError::Gateway(GatewayError::RateLimited(
                RateLimited {
                    retry_after_ms: None,
                    message: "slow down".into(),
                    request_id: None
                }
            ))),
            ErrorClass::Retry
        );
        assert_eq!(
            classify(&CallError::Gateway(GatewayError::Declined(Decline {
                category: contract::DeclineCategory::Other,
                code: "card_declined".into(),
                decline_reason: None,
                customer_message: "no".into(),
                payment: None,
                request_id: None
            }))),
            ErrorClass::Final
        );
    }

    #[test]
    fn a_charge_whose_outcome_is_unknown_leaves_the_transaction_unknown() {
        let (patch, state, error) = charge_outcome(Err(CallError::Trap("boom".into())));
        assert_eq!(state, OpState::Unknown);
        assert_eq!(patch.and_then(|p| p.status), Some(TxnStatus::Unknown));
        assert!(error.is_some());
        let (patch, state, _) = charge_outcome(Err(CallError::Host("busy".into())));
        assert_eq!(state, OpState::Pending, "nothing happened: repeat later");
        assert_eq!(patch.and_then(|p| p.status), None);
    }
}
