//! Modifications: `POST /payments/{paymentPspReference}/captures`, `/cancels`, `/refunds`,
//! `/reversals`, and `POST /cancels` by merchant reference. Each answers `201` with
//! `status: "received"` and a new `pspReference` (v71 spec examples
//! `post-payments-paymentPspReference-*-201`, `post-cancels-cancel-with-own-reference-201`) and
//! settles later (see [`crate::settlement`]) with a notification:
//!
//! - CAPTURE (`success` false with "Insufficient balance on payment" when more than remains is
//!   captured, the reason of Adyen's own `captureFalse` example in adyen-node-api-library), and
//!   CAPTURE_FAILED after a successful CAPTURE when a test asked for it (the scheme refuses the
//!   capture later: `success` "true", reason "Capture Failed", as in the Webhooks v1 spec example);
//! - CANCELLATION (refused once anything was captured);
//! - REFUND (`success` false "Transaction hasn't been captured, refund not possible" or
//!   "Insufficient balance on payment"), and REFUND_FAILED after a successful REFUND when a test
//!   asked for it;
//! - CANCEL_OR_REFUND for reversals, with `additionalData.modification.action` `cancel` or
//!   `refund` (always the full amount);
//! - TECHNICAL_CANCEL for `POST /cancels`.
//!
//! Several partial captures of one authorisation are allowed unless the account says otherwise,
//! in which case a partial capture releases the rest. A pspReference the merchant account doesn't
//! have is refused at once with `422` / `167` "Original pspReference required for this operation"
//! (the answer quoted by Adyen's client libraries' tests, e.g. adyen-go-api-library).

use serde_json::{Value, json};

use crate::body::Obj;
use crate::currency::{self, Amount};
use crate::error::ApiError;
use crate::ids;
use crate::payments::payment_additional_data;
use crate::state::{ModKind, Modification, Payment, PaymentStatus, Settle, State};

fn unknown_payment() -> ApiError {
    ApiError::unprocessable("167", "Original pspReference required for this operation")
}

/// Handles a modification request for payment `payment_psp` (`None` for `POST /cancels`).
pub fn request(
    st: &mut State,
    kind: ModKind,
    payment_psp: Option<&str>,
    body: &Value,
) -> Result<Value, ApiError> {
    let (structure, fields): (&'static str, &[&str]) = match kind {
        ModKind::Capture => (
            "PaymentCaptureRequest",
            &[
                "amount",
                "applicationInfo",
                "enhancedSchemeData",
                "lineItems",
                "merchantAccount",
                "platformChargebackLogic",
                "reference",
                "splits",
                "subMerchants",
            ],
        ),
        ModKind::Cancel => (
            "PaymentCancelRequest",
            &[
                "applicationInfo",
                "enhancedSchemeData",
                "merchantAccount",
                "reference",
            ],
        ),
        ModKind::Refund => (
            "PaymentRefundRequest",
            &[
                "amount",
                "applicationInfo",
                "capturePspReference",
                "enhancedSchemeData",
                "lineItems",
                "merchantAccount",
                "merchantRefundReason",
                "reference",
                "splits",
                "store",
            ],
        ),
        ModKind::Reversal => (
            "PaymentReversalRequest",
            &[
                "applicationInfo",
                "enhancedSchemeData",
                "merchantAccount",
                "reference",
            ],
        ),
        ModKind::TechnicalCancel => (
            "StandalonePaymentCancelRequest",
            &[
                "applicationInfo",
                "enhancedSchemeData",
                "merchantAccount",
                "paymentReference",
                "reference",
            ],
        ),
    };
    let obj = Obj::root(body, structure)?;
    obj.only(fields)?;
    let merchant_account = obj.str("merchantAccount")?.unwrap_or("").to_string();
    if !st.accepts_merchant_account(&merchant_account) {
        return Err(ApiError::invalid_merchant_account());
    }
    let payment = match payment_psp {
        Some(psp) => Some(
            st.payments
                .get(psp)
                .filter(|p| p.merchant_account == merchant_account)
                .ok_or_else(unknown_payment)?,
        ),
        None => None,
    };
    let amount = match kind {
        ModKind::Capture | ModKind::Refund => {
            let amount = currency::required(&obj, "amount")?;
            if amount.value == 0 || payment.is_some_and(|p| p.amount.currency != amount.currency) {
                return Err(ApiError::unprocessable("137", "Invalid amount specified"));
            }
            Some(amount)
        }
        _ => None,
    };
    let payment_reference = match kind {
        ModKind::TechnicalCancel => Some(
            obj.non_empty("paymentReference")?
                .ok_or_else(|| {
                    ApiError::unprocessable(
                        "100",
                        "Required field 'paymentReference' is not provided.",
                    )
                })?
                .to_string(),
        ),
        _ => None,
    };
    let psp = ids::reference();
    let modification = Modification {
        psp_reference: psp.clone(),
        kind,
        payment_psp: payment_psp.map(str::to_string),
        merchant_account: merchant_account.clone(),
        amount: amount.clone(),
        reference: obj.non_empty("reference")?.map(str::to_string),
        payment_reference: payment_reference.clone(),
        created: st.now,
        settled: false,
    };
    let mut answer = json!({
        "merchantAccount": merchant_account,
        "pspReference": psp,
        "status": "received",
    });
    if let Some(p) = payment_psp {
        answer["paymentPspReference"] = json!(p);
    }
    if let Some(r) = &payment_reference {
        answer["paymentReference"] = json!(r);
    }
    if let Some(r) = &modification.reference {
        answer["reference"] = json!(r);
    }
    if let Some(a) = &amount {
        answer["amount"] = a.json();
    }
    if kind == ModKind::Refund
        && let Some(reason) = obj.non_empty("merchantRefundReason")?
    {
        answer["merchantRefundReason"] = json!(reason);
    }
    st.modifications.insert(psp.clone(), modification);
    st.queue_settlement(Settle::Modification(psp));
    Ok(answer)
}

/// Captures what a `captureDelayHours` payment has waited for.
pub fn apply_delayed_capture(st: &mut State, payment_psp: &str) {
    let now = st.now;
    if let Some(p) = st.payments.get_mut(payment_psp)
        && let Some(at) = p.capture_at
        && now >= at
        && p.status == PaymentStatus::Authorised
    {
        p.capture_at = None;
        if !p.cancelled && p.captured == 0 {
            p.captured = p.amount.value;
        }
    }
}

/// What settling a modification did.
struct Settled {
    success: bool,
    reason: &'static str,
    amount: Amount,
    action: Option<&'static str>,
    failed_later: Option<&'static str>,
}

fn refused(reason: &'static str, amount: Amount) -> Settled {
    Settled {
        success: false,
        reason,
        amount,
        action: None,
        failed_later: None,
    }
}

fn accepted(amount: Amount) -> Settled {
    Settled {
        success: true,
        reason: "",
        amount,
        action: None,
        failed_later: None,
    }
}

/// Settles modification `psp`: applies it (or refuses it) and sends its notification(s).
pub fn settle(st: &mut State, psp: &str) {
    let Some(modification) = st.modifications.get(psp).cloned() else {
        return;
    };
    if modification.settled {
        return;
    }
    if let Some(m) = st.modifications.get_mut(psp) {
        m.settled = true;
    }
    let payment_psp = match (&modification.payment_psp, &modification.payment_reference) {
        (Some(p), _) => Some(p.clone()),
        (None, Some(reference)) => st
            .payments_by_reference
            .get(&(modification.merchant_account.clone(), reference.clone()))
            .and_then(|list| list.last().cloned()),
        (None, None) => None,
    };
    let Some(payment_psp) = payment_psp else {
        let amount = Amount::new(0, "EUR");
        let mut event = st.event(
            modification.kind.event_code(),
            psp,
            None,
            amount,
            false,
            "Original transaction not found",
        );
        event.merchant_account = modification.merchant_account.clone();
        event.merchant_reference = modification.payment_reference.clone().unwrap_or_default();
        st.emit(&event);
        return;
    };
    apply_delayed_capture(st, &payment_psp);
    let multiple = st.account.multiple_partial_captures;
    let Some(p) = st.payments.get_mut(&payment_psp) else {
        return;
    };
    let fail_later = |p: &mut Payment, kind: ModKind| {
        p.fail_next
            .iter()
            .position(|k| *k == kind)
            .map(|i| p.fail_next.remove(i))
            .is_some()
    };
    let authorised = p.status == PaymentStatus::Authorised;
    let full = p.amount.clone();
    let result = match modification.kind {
        ModKind::Capture => {
            let amount = modification.amount.clone().unwrap_or(full);
            if !authorised {
                refused("Original transaction is not authorised", amount)
            } else if p.cancelled && p.captured == 0 {
                refused("Transaction is cancelled", amount)
            } else if amount.value > p.capturable() {
                refused("Insufficient balance on payment", amount)
            } else {
                p.captured += amount.value;
                if !multiple && p.captured < p.amount.value {
                    p.cancelled = true;
                }
                let mut r = accepted(amount);
                if fail_later(p, ModKind::Capture) {
                    p.captured -= r.amount.value;
                    r.failed_later = Some("CAPTURE_FAILED");
                }
                r
            }
        }
        ModKind::Cancel | ModKind::TechnicalCancel => {
            if !authorised {
                refused("Original transaction is not authorised", full)
            } else if p.captured > 0 {
                refused("Transaction is already captured", full)
            } else {
                p.cancelled = true;
                accepted(full)
            }
        }
        ModKind::Refund => {
            let amount = modification.amount.clone().unwrap_or(full);
            if p.captured == 0 {
                refused(
                    "Transaction hasn't been captured, refund not possible",
                    amount,
                )
            } else if amount.value > p.captured - p.refunded {
                refused("Insufficient balance on payment", amount)
            } else {
                p.refunded += amount.value;
                let mut r = accepted(amount);
                if fail_later(p, ModKind::Refund) {
                    p.refunded -= r.amount.value;
                    r.failed_later = Some("REFUND_FAILED");
                }
                r
            }
        }
        ModKind::Reversal => {
            if !authorised {
                refused("Original transaction is not authorised", full)
            } else if p.captured > 0 {
                if p.captured - p.refunded <= 0 {
                    refused("Insufficient balance on payment", full)
                } else {
                    p.refunded = p.captured;
                    let mut r = accepted(full);
                    r.action = Some("refund");
                    r
                }
            } else {
                p.cancelled = true;
                let mut r = accepted(full);
                r.action = Some("cancel");
                r
            }
        }
    };
    let p = st.payments.get(&payment_psp).cloned();
    let Some(p) = p else {
        return;
    };
    let mut event = st.event(
        modification.kind.event_code(),
        psp,
        Some(&p),
        result.amount.clone(),
        result.success,
        result.reason,
    );
    event.original_reference = Some(payment_psp.clone());
    event.additional_data = payment_additional_data(&p);
    if let Some(action) = result.action {
        event
            .additional_data
            .insert("modification.action".into(), action.to_string());
    }
    if let Some(reference) = &modification.reference {
        event
            .additional_data
            .insert("modificationMerchantReference".into(), reference.clone());
    }
    st.emit(&event);
    if let Some(code) = result.failed_later {
        let reason = if code == "CAPTURE_FAILED" {
            "Capture Failed"
        } else {
            "Refund Failed"
        };
        let mut failed = event.clone();
        failed.event_code = code;
        failed.reason = reason.to_string();
        failed.success = true;
        st.emit(&failed);
    }
}
