//! `charging`: charges, captures, cancellations, refunds and lookups, answered from references.

use crate::Offline;
use crate::cards::Behaviour;
use crate::refs::{
    self, CardRef, PaymentRef, check_key, check_metadata, check_money, invalid, now,
};
use omnicrm_gateway_sdk::exports::omnicrm::payments::charging::{
    CaptureMode, ChargeRequest, Guest, Payment, PaymentStatus, Refund, RefundRequest, RefundStatus,
};
use omnicrm_gateway_sdk::omnicrm::payments::types::{
    ActionRequired, Decline, GatewayError, Money, NextAction,
};

/// The synthetic fee of a captured amount: 2.9% (rounded) plus 30 minor units.
pub fn fee(captured: i64) -> i64 {
    (captured * 29 + 500) / 1000 + 30
}

/// The message of an `action-required` error.
const AUTHENTICATE: &str =
    "Your bank asks you to authenticate this payment: please pay again while present.";

/// Charges `card_ref` for `amount` as payment `nonce`: the payment on success, the decline or the
/// needed action otherwise.
pub fn attempt(
    card_ref: CardRef,
    amount: i64,
    currency: String,
    capture: CaptureMode,
    nonce: String,
) -> Result<PaymentRef, GatewayError> {
    let mut payment = PaymentRef {
        status: PaymentStatus::Succeeded,
        amount,
        currency,
        captured: amount,
        card: card_ref,
        nonce,
    };
    match payment.card.card.behaviour {
        Behaviour::Succeed => {
            if capture == CaptureMode::Manual {
                payment.status = PaymentStatus::RequiresCapture;
                payment.captured = 0;
            }
            Ok(payment)
        }
        Behaviour::Decline {
            code,
            reason,
            message,
        } => {
            payment.status = PaymentStatus::Failed;
            payment.captured = 0;
            Err(GatewayError::Declined(decline(
                &payment, code, reason, message,
            )))
        }
        Behaviour::AuthenticationRequired => {
            payment.status = PaymentStatus::RequiresAction;
            payment.captured = 0;
            Err(GatewayError::ActionRequired(ActionRequired {
                payment: payment.encode(),
                next_action: NextAction::BringCustomerOnSession,
                customer_message: AUTHENTICATE.into(),
                request_id: None,
            }))
        }
    }
}

/// The decline of `payment`.
fn decline(payment: &PaymentRef, code: &str, reason: Option<&str>, message: &str) -> Decline {
    Decline {
        code: code.into(),
        decline_reason: reason.map(Into::into),
        customer_message: message.into(),
        payment: Some(payment.encode()),
        request_id: None,
    }
}

/// The decline of a failed payment (none for a card that does not decline).
fn decline_of(payment: &PaymentRef) -> Option<Decline> {
    match payment.card.card.behaviour {
        Behaviour::Decline {
            code,
            reason,
            message,
        } => Some(decline(payment, code, reason, message)),
        _ => None,
    }
}

/// The payment a reference describes. The description and metadata are not kept.
fn payment_of(payment: &PaymentRef) -> Payment {
    let status = payment.status;
    Payment {
        id: payment.encode(),
        status,
        amount: Money {
            amount: payment.amount,
            currency: payment.currency.clone(),
        },
        amount_captured: payment.captured,
        amount_refunded: 0,
        customer: Some(payment.card.customer_ref()),
        card: Some(payment.card.encode()),
        description: None,
        metadata: Vec::new(),
        created: now(),
        last_decline: if status == PaymentStatus::Failed {
            decline_of(payment)
        } else {
            None
        },
        next_action: (status == PaymentStatus::RequiresAction)
            .then_some(NextAction::BringCustomerOnSession),
        fee: (status == PaymentStatus::Succeeded).then(|| Money {
            amount: fee(payment.captured),
            currency: payment.currency.clone(),
        }),
    }
}

/// The lower-case name of a status, for messages.
fn status_name(status: PaymentStatus) -> &'static str {
    match status {
        PaymentStatus::Succeeded => "succeeded",
        PaymentStatus::Processing => "processing",
        PaymentStatus::RequiresAction => "requires-action",
        PaymentStatus::RequiresCapture => "requires-capture",
        PaymentStatus::Failed => "failed",
        PaymentStatus::Canceled => "canceled",
    }
}

impl Guest for Offline {
    fn charge(request: ChargeRequest) -> Result<Payment, GatewayError> {
        check_key(&request.idempotency_key)?;
        check_money(&request.amount)?;
        check_metadata("metadata", &request.metadata)?;
        let customer_hash = refs::parse_customer(&request.customer)?;
        let card_ref = CardRef::parse_owned(&request.card, customer_hash)?;
        let capture = match request.capture {
            CaptureMode::Automatic => "automatic",
            CaptureMode::Manual => "manual",
        };
        let amount = request.amount.amount.to_string();
        let nonce = refs::hash(&[
            "charge",
            &request.customer,
            &request.card,
            &amount,
            &request.amount.currency,
            capture,
            &request.idempotency_key,
        ]);
        let payment = attempt(
            card_ref,
            request.amount.amount,
            request.amount.currency,
            request.capture,
            nonce,
        )?;
        Ok(Payment {
            description: request.description,
            metadata: request.metadata,
            ..payment_of(&payment)
        })
    }

    fn capture(
        payment: String,
        amount: Option<i64>,
        idempotency_key: String,
    ) -> Result<Payment, GatewayError> {
        check_key(&idempotency_key)?;
        let mut payment = PaymentRef::parse(&payment)?;
        if payment.status != PaymentStatus::RequiresCapture {
            return Err(invalid(
                "payment",
                format!(
                    "the payment is {}; only a payment that requires capture can be captured",
                    status_name(payment.status)
                ),
            ));
        }
        let captured = amount.unwrap_or(payment.amount);
        if !(1..=payment.amount).contains(&captured) {
            return Err(invalid(
                "amount",
                format!("must be between 1 and the authorized {}", payment.amount),
            ));
        }
        payment.status = PaymentStatus::Succeeded;
        payment.captured = captured;
        Ok(payment_of(&payment))
    }

    fn cancel(payment: String, idempotency_key: String) -> Result<Payment, GatewayError> {
        check_key(&idempotency_key)?;
        let mut payment = PaymentRef::parse(&payment)?;
        match payment.status {
            PaymentStatus::RequiresCapture
            | PaymentStatus::RequiresAction
            | PaymentStatus::Failed => {
                payment.status = PaymentStatus::Canceled;
                Ok(payment_of(&payment))
            }
            status => Err(invalid(
                "payment",
                format!(
                    "the payment is {}; it cannot be canceled",
                    status_name(status)
                ),
            )),
        }
    }

    fn refund_payment(request: RefundRequest) -> Result<Refund, GatewayError> {
        check_key(&request.idempotency_key)?;
        check_metadata("metadata", &request.metadata)?;
        let payment = PaymentRef::parse(&request.payment)?;
        if payment.status != PaymentStatus::Succeeded {
            return Err(invalid(
                "payment",
                format!(
                    "the payment is {}; only a succeeded payment can be refunded",
                    status_name(payment.status)
                ),
            ));
        }
        let remaining = payment.captured;
        let amount = request.amount.unwrap_or(remaining);
        if amount <= 0 {
            return Err(invalid("amount", "must be positive"));
        }
        if amount > remaining {
            return Err(invalid(
                "amount",
                format!("{amount} is more than the {remaining} that remains to refund"),
            ));
        }
        let nonce = refs::hash(&[
            "refund",
            &request.payment,
            &amount.to_string(),
            &request.idempotency_key,
        ]);
        Ok(Refund {
            id: format!(
                "off_re_{amount}_{}_{}_{nonce}",
                payment.currency, payment.nonce
            ),
            payment: request.payment,
            amount: Money {
                amount,
                currency: payment.currency,
            },
            status: RefundStatus::Succeeded,
            reason: request.reason,
            created: now(),
        })
    }

    fn get_payment(payment: String) -> Result<Payment, GatewayError> {
        Ok(payment_of(&PaymentRef::parse(&payment)?))
    }
}
