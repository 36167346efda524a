//! What a gateway call's result means for the ledger: the class of a failure (final, retry,
//! unknown), the operation's next state, and the forward-only updates of the transaction,
//! refund or invoice concerned.

use crate::error::Error;
use crate::ledger::{InvoicePatch, OpState, RefundStatus, TxnPatch, TxnStatus};
use crate::service::Service;
use omnicrm_host::contract::{self, GatewayError};
use omnicrm_host::error::CallError;

use super::status::{invoice_from, invoice_status_of, refund_status_of, txn_from, txn_status_of};

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

/// What a charge's result means: the transaction's patch, the operation's next state (before
/// [`crate::ledger::settled_state`]) and the error.
pub fn charge_outcome(
    result: Result<contract::Payment, CallError>,
) -> (Option<TxnPatch>, OpState, Option<CallError>) {
    match result {
        Ok(p) => {
            let status = txn_status_of(p.status);
            let decline = p.last_decline.clone();
            let patch = TxnPatch {
                status: Some(status),
                gateway_payment_ref: Some(p.id.clone()),
                amount_captured: Some(p.amount_captured),
                decline_code: Some(decline.as_ref().map(|d| d.code.clone())),
                decline_reason: Some(decline.as_ref().and_then(|d| d.decline_reason.clone())),
                last_error: Some(None),
                ..Default::default()
            };
            let state = if status == TxnStatus::Failed {
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
                    last_error: Some(Some(d.customer_message.clone())),
                    ..Default::default()
                },
                CallError::Gateway(GatewayError::ActionRequired(a)) => TxnPatch {
                    status: Some(TxnStatus::RequiresAction),
                    gateway_payment_ref: Some(a.payment.clone()),
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

impl Service {
    /// Applies a capture's or void's outcome; `reason` (of a void the service made on its own)
    /// becomes the last error of a canceled transaction.
    ///
    /// A succeeded modification applies the payment it left (`payment-after`). A `pending` one
    /// (or one without the payment) settles the operation and leaves the transaction as it is:
    /// its outcome comes later, by event or lookup. A `failed` one was refused and changed
    /// nothing: the operation fails with the gateway's reason, as an invalid request would.
    pub(crate) async fn apply_payment_change(
        &self,
        txn_id: i64,
        result: Result<contract::Modification, CallError>,
        reason: Option<String>,
    ) -> Result<(OpState, Option<CallError>), Error> {
        let result = match result {
            Ok(m) if m.status == contract::ModificationStatus::Failed => Err(CallError::Gateway(
                GatewayError::InvalidInput(contract::InvalidInput {
                    field: "payment".into(),
                    message: m
                        .failure_reason
                        .unwrap_or_else(|| "the gateway refused the modification".into()),
                    request_id: None,
                }),
            )),
            Ok(m) => match m.payment_after {
                Some(p) if m.status == contract::ModificationStatus::Succeeded => Ok(p),
                _ => {
                    tracing::info!(
                        transaction = txn_id,
                        modification = %m.id,
                        status = ?m.status,
                        "modification not settled yet: the transaction is left as it is"
                    );
                    return Ok((OpState::Done, None));
                }
            },
            Err(e) => Err(e),
        };
        match result {
            Ok(p) => {
                let status = txn_status_of(p.status);
                // Stateless gateways (offline) answer with a new reference for the new state.
                let patch = TxnPatch {
                    status: Some(status),
                    gateway_payment_ref: Some(p.id.clone()),
                    amount_captured: Some(p.amount_captured),
                    last_error: Some(reason.filter(|_| status == TxnStatus::Canceled)),
                    ..Default::default()
                };
                // The gateway's answer to our own call is authoritative: it may also refresh a
                // status a webhook set first (with the captured amount).
                let mut from = txn_from(status);
                from.push(status);
                self.db
                    .run(move |l| l.update_transaction(txn_id, &from, &patch))
                    .await?;
                Ok((OpState::Done, None))
            }
            Err(e) => {
                let patch = TxnPatch {
                    last_error: Some(Some(e.to_string())),
                    ..Default::default()
                };
                self.db
                    .run(move |l| l.update_transaction(txn_id, &[], &patch))
                    .await?;
                Ok((failed_state(OpState::Pending, &e), Some(e)))
            }
        }
    }

    /// Applies a refund's outcome to the refund (and, through the ledger, its transaction).
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
                let state = if matches!(status, RefundStatus::Failed | RefundStatus::Canceled) {
                    OpState::Failed
                } else {
                    OpState::Done
                };
                self.db
                    .run(move |l| l.settle_refund(refund_id, &open, status, Some(&r.id), None))
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
                    bump_pay_attempts: false,
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
