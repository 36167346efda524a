//! `charging`: charges, captures, voids, refunds and customer actions, answered from the payment
//! reference and the call's input alone.

use core::fmt::Write as _;

use omnicrm_gateway_sdk::charging::{
    ActionCompletion, CaptureMode, CaptureRequest, ChargeRequest, Modification, ModificationStatus,
    Payment, PaymentStatus, Refund, RefundRequest, RefundStatus, StoredCredentialUse, VoidRequest,
};
use omnicrm_gateway_sdk::types::{
    ActionRequired, Decline, DeclineCategory, GatewayError, Money, NextAction, Redirect,
    RedirectMethod,
};

use crate::cards::{Behaviour, decline_category};
use crate::refs::{
    self, CardRef, PaymentRef, RefundRef, check_key, check_metadata, check_money, invalid, now,
};

/// The synthetic fee of a captured amount: 2.9% (rounded) plus 30 minor units.
pub fn fee(captured: i64) -> i64 {
    (captured * 29 + 500) / 1000 + 30
}

/// The message of an `action-required` error.
const AUTHENTICATE: &str = "Your bank asks you to authenticate this payment.";

/// Where a redirect sends the customer: a page nobody serves (`.invalid`), since the customer's
/// action is simulated: `complete-action` completes it.
const AUTHENTICATION_PAGE: &str = "https://offline.invalid/authenticate/";

/// The key and value in `action-completion.details` that make the customer's authentication
/// fail.
const FAIL_DETAIL: (&str, &str) = ("outcome", "fail");

/// Where a payment stands, and what was captured.
struct State {
    status: PaymentStatus,
    captured: i64,
}

impl State {
    const fn new(status: PaymentStatus, captured: i64) -> Self {
        State { status, captured }
    }
}

/// Where the charge of `payment` leaves it, the customer's action aside: taken, authorized or
/// declined.
fn charged(payment: &PaymentRef) -> State {
    match (&payment.card.card.behaviour, payment.capture) {
        (Behaviour::Decline { .. }, _) => State::new(PaymentStatus::Failed, 0),
        (b, _) if b.needs_action() => State::new(PaymentStatus::RequiresAction, 0),
        (_, CaptureMode::Automatic) => State::new(PaymentStatus::Succeeded, payment.amount),
        (_, CaptureMode::Manual) => State::new(PaymentStatus::RequiresCapture, 0),
    }
}

/// Where the payment stands once the customer acted (successfully).
fn completed(payment: &PaymentRef) -> State {
    match payment.capture {
        CaptureMode::Automatic => State::new(PaymentStatus::Succeeded, payment.amount),
        CaptureMode::Manual => State::new(PaymentStatus::RequiresCapture, 0),
    }
}

/// The decline of a payment with a declining card.
fn decline_of(payment: &PaymentRef) -> Option<Decline> {
    match payment.card.card.behaviour {
        Behaviour::Decline {
            code,
            reason,
            message,
        } => Some(
            Decline::new(decline_category(code, reason), code, message)
                .with_reason(reason.map(Into::into))
                .with_payment(Some(payment.encode())),
        ),
        _ => None,
    }
}

/// The decline of a failed authentication.
fn authentication_failed(payment: &PaymentRef) -> Decline {
    Decline::new(
        DeclineCategory::AuthenticationRequired,
        "authentication_failed",
        "We could not authenticate your payment. Please try again.",
    )
    .with_payment(Some(payment.encode()))
}

/// The payment `payment` in `state`. The description and metadata are not kept.
fn payment_of(payment: &PaymentRef, state: State, next_action: Option<NextAction>) -> Payment {
    let currency = payment.currency.clone();
    let authorized = matches!(
        state.status,
        PaymentStatus::Succeeded | PaymentStatus::RequiresCapture
    );
    Payment {
        id: payment.encode(),
        status: state.status,
        amount: Money {
            amount: payment.amount,
            currency: currency.clone(),
        },
        amount_captured: state.captured,
        amount_refunded: 0,
        customer: Some(payment.card.customer_ref()),
        card: Some(payment.card.encode()),
        description: None,
        metadata: Vec::new(),
        created: now(),
        last_decline: if state.status == PaymentStatus::Failed {
            decline_of(payment)
        } else {
            None
        },
        next_action: if state.status == PaymentStatus::RequiresAction {
            next_action
        } else {
            None
        },
        fee: (state.status == PaymentStatus::Succeeded).then(|| Money {
            amount: fee(state.captured),
            currency,
        }),
        network_transaction_id: authorized.then(|| format!("offntid_{}", payment.nonce)),
    }
}

/// What the customer must do for a payment that waits for them: a redirect for a
/// customer-initiated charge of the 3-D Secure card, else coming back on-session.
fn next_action(
    payment: &PaymentRef,
    use_: StoredCredentialUse,
    return_url: Option<&str>,
) -> NextAction {
    match (&payment.card.card.behaviour, use_) {
        (Behaviour::Redirect, StoredCredentialUse::CustomerInitiated) => {
            let mut url = format!("{AUTHENTICATION_PAGE}{}", payment.encode());
            if let Some(return_url) = return_url {
                url.push_str("?return_url=");
                url.push_str(&percent_encode(return_url));
            }
            NextAction::Redirect(Redirect {
                url,
                method: RedirectMethod::Get,
                fields: Vec::new(),
            })
        }
        _ => NextAction::BringCustomerOnSession,
    }
}

/// Percent-encodes a query value: everything but the unreserved characters of RFC 3986.
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Charges `card` for `amount` as payment `nonce`: the payment when it is taken or authorized,
/// the decline or the action needed otherwise.
pub fn attempt(
    card: CardRef,
    amount: Money,
    capture: CaptureMode,
    use_: StoredCredentialUse,
    return_url: Option<&str>,
    nonce: String,
) -> Result<Payment, GatewayError> {
    let payment = PaymentRef {
        capture,
        amount: amount.amount,
        currency: amount.currency,
        card,
        nonce,
    };
    let state = charged(&payment);
    match state.status {
        PaymentStatus::Failed => Err(GatewayError::declined(
            decline_of(&payment).unwrap_or_else(|| authentication_failed(&payment)),
        )),
        PaymentStatus::RequiresAction => Err(GatewayError::ActionRequired(ActionRequired {
            payment: payment.encode(),
            next_action: next_action(&payment, use_, return_url),
            customer_message: AUTHENTICATE.into(),
            request_id: None,
        })),
        _ => Ok(payment_of(&payment, state, None)),
    }
}

pub fn charge(request: ChargeRequest) -> Result<Payment, GatewayError> {
    check_key(&request.idempotency_key)?;
    check_money(&request.amount)?;
    check_metadata("metadata", &request.metadata)?;
    let customer_hash = refs::parse_customer(&request.customer)?;
    let card = CardRef::parse_owned(&request.card, customer_hash)?;
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
        card,
        request.amount,
        request.capture,
        request.stored_credential,
        request.return_url.as_deref(),
        nonce,
    )?;
    Ok(Payment {
        description: request.description,
        metadata: request.metadata,
        ..payment
    })
}

/// Captures an authorization. Every capture is final (no `multiple-captures`); whether the
/// payment was captured or voided before is not known (see the crate documentation).
pub fn capture_payment(request: CaptureRequest) -> Result<Modification, GatewayError> {
    check_key(&request.idempotency_key)?;
    check_metadata("metadata", &request.metadata)?;
    let payment = PaymentRef::parse(&request.payment)?;
    if payment.capture != CaptureMode::Manual {
        return Err(invalid(
            "payment",
            "the payment was charged with automatic capture: there is nothing to capture",
        ));
    }
    if let Behaviour::Decline { .. } = payment.card.card.behaviour {
        return Err(invalid(
            "payment",
            "the payment failed: nothing was authorized",
        ));
    }
    if request.amount.currency != payment.currency {
        return Err(invalid(
            "amount",
            format!("must be in the payment's currency {}", payment.currency),
        ));
    }
    let captured = request.amount.amount;
    if !(1..=payment.amount).contains(&captured) {
        return Err(invalid(
            "amount",
            format!("must be between 1 and the authorized {}", payment.amount),
        ));
    }
    let after = payment_of(
        &payment,
        State::new(PaymentStatus::Succeeded, captured),
        None,
    );
    Ok(Modification {
        id: request.payment.clone(),
        payment: request.payment,
        status: ModificationStatus::Succeeded,
        amount: Some(Money {
            amount: captured,
            currency: payment.currency,
        }),
        payment_after: Some(after),
        failure_reason: None,
    })
}

/// Voids a payment that was not taken: an authorization, one waiting for the customer, or a
/// failed one. A payment charged with automatic capture on a card that succeeds was taken.
pub fn void_payment(request: VoidRequest) -> Result<Modification, GatewayError> {
    check_key(&request.idempotency_key)?;
    check_metadata("metadata", &request.metadata)?;
    let payment = PaymentRef::parse(&request.payment)?;
    if charged(&payment).status == PaymentStatus::Succeeded {
        return Err(invalid(
            "payment",
            "the payment succeeded when it was charged: refund it instead",
        ));
    }
    let after = payment_of(&payment, State::new(PaymentStatus::Canceled, 0), None);
    Ok(Modification {
        id: request.payment.clone(),
        payment: request.payment,
        status: ModificationStatus::Succeeded,
        amount: None,
        payment_after: Some(after),
        failure_reason: None,
    })
}

/// Refunds a payment whose card takes money. The captured amount of an authorization is not
/// known, so refunds are checked against the payment's amount; earlier refunds are not known
/// either (see the crate documentation).
pub fn refund_payment(request: RefundRequest) -> Result<Refund, GatewayError> {
    check_key(&request.idempotency_key)?;
    check_metadata("metadata", &request.metadata)?;
    let payment = PaymentRef::parse(&request.payment)?;
    if let Behaviour::Decline { .. } = payment.card.card.behaviour {
        return Err(invalid("payment", "the payment failed: nothing was taken"));
    }
    if request.amount.currency != payment.currency {
        return Err(invalid(
            "amount",
            format!("must be in the payment's currency {}", payment.currency),
        ));
    }
    let amount = request.amount.amount;
    if amount <= 0 {
        return Err(invalid("amount", "must be positive"));
    }
    if amount > payment.amount {
        return Err(invalid(
            "amount",
            format!(
                "{amount} is more than the {} of the payment",
                payment.amount
            ),
        ));
    }
    let nonce = refs::hash(&[
        "refund",
        &request.payment,
        &amount.to_string(),
        &request.idempotency_key,
    ]);
    let refund = RefundRef {
        amount,
        payment,
        nonce,
    };
    Ok(Refund {
        reason: request.reason,
        ..refund_of(&refund)
    })
}

/// Finishes a payment after the customer's action. The customer's action is simulated: it
/// succeeds, unless `details` holds `outcome=fail`. A payment that never waited for the customer
/// is answered as its charge left it.
pub fn complete_action(request: ActionCompletion) -> Result<Payment, GatewayError> {
    check_key(&request.idempotency_key)?;
    let payment = PaymentRef::parse(&request.payment)?;
    if !payment.card.card.behaviour.needs_action() {
        return Ok(payment_of(&payment, charged(&payment), None));
    }
    let failed = request
        .details
        .iter()
        .any(|(k, v)| (k.as_str(), v.as_str()) == FAIL_DETAIL);
    if failed {
        let mut failed = payment_of(&payment, State::new(PaymentStatus::Failed, 0), None);
        failed.last_decline = Some(authentication_failed(&payment));
        return Ok(failed);
    }
    Ok(payment_of(&payment, completed(&payment), None))
}

pub fn get_refund(refund: String) -> Result<Refund, GatewayError> {
    Ok(refund_of(&RefundRef::parse(&refund)?))
}

/// The refund a reference describes (refunds are immediate: `succeeded`). The reason is not kept.
fn refund_of(refund: &RefundRef) -> Refund {
    Refund {
        id: refund.encode(),
        payment: refund.payment.encode(),
        amount: Money {
            amount: refund.amount,
            currency: refund.payment.currency.clone(),
        },
        status: RefundStatus::Succeeded,
        reason: None,
        created: now(),
        failure_reason: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cards;

    fn customer() -> String {
        refs::customer_ref("crm-1")
    }

    fn card(token: &str) -> String {
        CardRef {
            card: cards::by_token(token).unwrap(),
            customer: refs::parse_customer(&customer()).unwrap().to_string(),
        }
        .encode()
    }

    fn request(token: &str, capture: CaptureMode, key: &str) -> ChargeRequest {
        ChargeRequest {
            customer: customer(),
            card: card(token),
            amount: Money {
                amount: 2000,
                currency: "USD".into(),
            },
            description: Some("Mobile plan".into()),
            metadata: vec![("crm_transaction_id".into(), "7".into())],
            capture,
            stored_credential: StoredCredentialUse::MerchantRecurring,
            network_transaction_id: None,
            return_url: None,
            idempotency_key: key.into(),
        }
    }

    fn usd(amount: i64) -> Money {
        Money {
            amount,
            currency: "USD".into(),
        }
    }

    fn capture(payment: &str, amount: i64) -> Result<Modification, GatewayError> {
        capture_payment(CaptureRequest {
            payment: payment.into(),
            amount: usd(amount),
            final_capture: true,
            metadata: Vec::new(),
            idempotency_key: "cap".into(),
        })
    }

    fn void(payment: &str) -> Result<Modification, GatewayError> {
        void_payment(VoidRequest {
            payment: payment.into(),
            metadata: Vec::new(),
            idempotency_key: "void".into(),
        })
    }

    fn refund(payment: &str, amount: i64) -> Result<Refund, GatewayError> {
        refund_payment(RefundRequest {
            payment: payment.into(),
            amount: usd(amount),
            reason: None,
            metadata: Vec::new(),
            idempotency_key: "re".into(),
        })
    }

    fn complete(payment: &str, details: &[(&str, &str)]) -> Payment {
        complete_action(ActionCompletion {
            payment: payment.into(),
            details: details
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            idempotency_key: "done".into(),
        })
        .unwrap()
    }

    fn invalid_field<T: core::fmt::Debug>(result: Result<T, GatewayError>) -> String {
        match result {
            Err(GatewayError::InvalidInput(i)) => i.field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_charge_is_taken_and_repeats_with_the_same_reference() {
        let payment = charge(request("tok_visa", CaptureMode::Automatic, "pay-1")).unwrap();
        assert_eq!(payment.status, PaymentStatus::Succeeded);
        assert_eq!(
            (payment.amount.amount, payment.amount_captured),
            (2000, 2000)
        );
        assert_eq!(payment.fee.map(|f| f.amount), Some(fee(2000)));
        assert_eq!(payment.description.as_deref(), Some("Mobile plan"));
        assert!(payment.network_transaction_id.is_some());
        let again = charge(request("tok_visa", CaptureMode::Automatic, "pay-1")).unwrap();
        assert_eq!(again.id, payment.id);
        let other = charge(request("tok_visa", CaptureMode::Automatic, "pay-2")).unwrap();
        assert_ne!(other.id, payment.id);
        // Taken: not voidable, refundable up to its amount.
        assert_eq!(invalid_field(void(&payment.id)), "payment");
        assert_eq!(invalid_field(capture(&payment.id, 2000)), "payment");
        let refunded = refund(&payment.id, 500).unwrap();
        assert_eq!(
            (refunded.amount.amount, refunded.status),
            (500, RefundStatus::Succeeded)
        );
        assert_eq!(refunded.payment, payment.id);
        let looked_up = get_refund(refunded.id.clone()).unwrap();
        assert_eq!(
            (looked_up.id, looked_up.payment),
            (refunded.id, payment.id.clone())
        );
        assert_eq!(looked_up.amount.amount, 500);
        assert_eq!(invalid_field(refund(&payment.id, 2001)), "amount");
        assert_eq!(invalid_field(refund(&payment.id, 0)), "amount");
        assert!(matches!(
            get_refund("off_re_9_0123456789abcdef_off_pay_x".into()),
            Err(GatewayError::NotFound(n)) if n.kind == "refund"
        ));
    }

    #[test]
    fn an_authorization_is_captured_or_voided_under_its_own_reference() {
        let auth = charge(request("tok_visa", CaptureMode::Manual, "auth-1")).unwrap();
        assert_eq!(
            (auth.status, auth.amount_captured),
            (PaymentStatus::RequiresCapture, 0)
        );
        assert!(auth.fee.is_none());
        let captured = capture(&auth.id, 1500).unwrap();
        assert_eq!(
            (captured.id.as_str(), captured.payment.as_str()),
            (auth.id.as_str(), auth.id.as_str())
        );
        assert_eq!(captured.status, ModificationStatus::Succeeded);
        assert_eq!(captured.amount.map(|m| m.amount), Some(1500));
        let after = captured.payment_after.unwrap();
        assert_eq!(
            (after.id, after.status, after.amount_captured),
            (auth.id.clone(), PaymentStatus::Succeeded, 1500)
        );
        assert_eq!(after.fee.map(|f| f.amount), Some(fee(1500)));
        assert_eq!(invalid_field(capture(&auth.id, 2001)), "amount");
        let voided = void(&auth.id).unwrap();
        assert!(voided.amount.is_none());
        assert_eq!(
            voided.payment_after.unwrap().status,
            PaymentStatus::Canceled
        );
        assert!(matches!(
            capture("off_pay_manual_1_USD_visa_x_y", 1),
            Err(GatewayError::NotFound(n)) if n.kind == "payment"
        ));
    }

    #[test]
    fn declines_carry_their_category_and_payment() {
        let declined = charge(request(
            "tok_chargeDeclinedInsufficientFunds",
            CaptureMode::Automatic,
            "pay-3",
        ));
        let Err(GatewayError::Declined(d)) = declined else {
            panic!("{declined:?}")
        };
        assert_eq!(d.category, DeclineCategory::InsufficientFunds);
        assert_eq!(
            (d.code.as_str(), d.decline_reason.as_deref()),
            ("card_declined", Some("insufficient_funds"))
        );
        let payment = d.payment.unwrap();
        assert_eq!(invalid_field(refund(&payment, 2000)), "payment");
        assert_eq!(
            void(&payment).unwrap().payment_after.unwrap().status,
            PaymentStatus::Canceled
        );
        let failed = complete(&payment, &[]);
        assert_eq!(failed.status, PaymentStatus::Failed);
        assert_eq!(
            failed.last_decline.unwrap().category,
            DeclineCategory::InsufficientFunds
        );
    }

    #[test]
    fn the_3ds_card_redirects_the_customer_and_complete_action_finishes_it() {
        let mut on_session = request("tok_threeDSecure2Required", CaptureMode::Automatic, "pay-4");
        on_session.stored_credential = StoredCredentialUse::CustomerInitiated;
        on_session.return_url = Some("https://crm.example/back?t=1".into());
        let Err(GatewayError::ActionRequired(action)) = charge(on_session.clone()) else {
            panic!("action-required")
        };
        let NextAction::Redirect(redirect) = &action.next_action else {
            panic!("{:?}", action.next_action)
        };
        assert_eq!(redirect.method, RedirectMethod::Get);
        assert_eq!(
            redirect.url,
            format!(
                "https://offline.invalid/authenticate/{}?return_url=https%3A%2F%2Fcrm.example%2Fback%3Ft%3D1",
                action.payment
            )
        );
        let done = complete(&action.payment, &[]);
        assert_eq!(
            (done.id.as_str(), done.status),
            (action.payment.as_str(), PaymentStatus::Succeeded)
        );
        assert_eq!(done.amount_captured, 2000);
        let failed = complete(&action.payment, &[("outcome", "fail")]);
        assert_eq!(failed.status, PaymentStatus::Failed);
        let decline = failed.last_decline.unwrap();
        assert_eq!(
            (decline.code.as_str(), decline.category),
            (
                "authentication_failed",
                DeclineCategory::AuthenticationRequired
            )
        );

        // Merchant-initiated: the customer must come back.
        let Err(GatewayError::ActionRequired(action)) = charge(request(
            "tok_threeDSecure2Required",
            CaptureMode::Manual,
            "pay-5",
        )) else {
            panic!("action-required")
        };
        assert!(matches!(
            action.next_action,
            NextAction::BringCustomerOnSession
        ));
        assert_eq!(
            complete(&action.payment, &[]).status,
            PaymentStatus::RequiresCapture
        );
        // A payment that never waited is answered as its charge left it.
        let taken = charge(request("tok_visa", CaptureMode::Automatic, "pay-6")).unwrap();
        assert_eq!(complete(&taken.id, &[]).status, PaymentStatus::Succeeded);
    }

    #[test]
    fn inputs_are_checked_before_anything() {
        let mut bad = request("tok_visa", CaptureMode::Automatic, "");
        assert_eq!(invalid_field(charge(bad.clone())), "idempotency-key");
        bad.idempotency_key = "k".into();
        bad.amount.amount = 0;
        assert_eq!(invalid_field(charge(bad.clone())), "amount");
        bad.amount.amount = 100;
        bad.amount.currency = "usd".into();
        assert_eq!(invalid_field(charge(bad.clone())), "currency");
        bad.amount.currency = "USD".into();
        bad.card = card("tok_visa").replace(
            refs::parse_customer(&customer()).unwrap(),
            &refs::hash(&["someone else"]),
        );
        assert!(matches!(charge(bad), Err(GatewayError::NotFound(n)) if n.kind == "card"));
    }
}
