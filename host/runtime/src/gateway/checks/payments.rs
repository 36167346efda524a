//! Checks of `tokens` and `charging` answers.

use super::{
    Checked, at, each, expiry, label, last4, metadata, money, name, non_negative, optional_label,
    optional_reference, optional_text, optional_url, reference, same_money, same_reference, text,
    url, violation,
};
use crate::contract::{
    CaptureRequest, CardSession, ChargeRequest, Customer, CustomerRequest, Decline, Modification,
    NextAction, Payment, PaymentStatus, Refund, RefundRequest, StoredCard, VoidRequest,
};

/// `tokens.ensure-customer`: the customer of the CRM customer asked for.
pub(crate) fn customer(request: &CustomerRequest, customer: &Customer) -> Checked {
    reference("customer.id", &customer.id)?;
    if customer.crm_customer_id != request.crm_customer_id {
        return violation(
            "customer.crm-customer-id",
            "is not the CRM customer asked for",
        );
    }
    optional_reference("customer.default-card", customer.default_card.as_ref())
}

/// A stored card, of the customer `owner` when the request named one.
pub(crate) fn stored_card(field: &str, card: &StoredCard, owner: Option<&str>) -> Checked {
    reference(&at(field, "id"), &card.id)?;
    reference(&at(field, "customer"), &card.customer)?;
    if let Some(owner) = owner {
        same_reference(&at(field, "customer"), &card.customer, owner)?;
    }
    name(&at(field, "brand"), &card.brand)?;
    last4(field, &card.last4)?;
    expiry(field, card.exp_month, card.exp_year)?;
    optional_label(&at(field, "fingerprint"), card.fingerprint.as_ref())?;
    optional_label(&at(field, "country"), card.country.as_ref())?;
    optional_label(
        &at(field, "network-transaction-id"),
        card.network_transaction_id.as_ref(),
    )
}

/// `tokens.list-cards`: cards of the customer asked for.
pub(crate) fn stored_cards(customer: &str, cards: &[StoredCard]) -> Checked {
    each("cards", cards, |field, card| {
        stored_card(field, card, Some(customer))
    })
}

/// `tokens.start-card-session`.
pub(crate) fn card_session(session: &CardSession) -> Checked {
    name("card-session.id", &session.id)?;
    name("card-session.sdk", &session.sdk)?;
    text("card-session.client-config", &session.client_config)?;
    optional_url("card-session.hosted-url", session.hosted_url.as_ref())
}

/// `charging.charge`: the payment of the amount asked for, of the customer and card asked for
/// when it names them.
pub(crate) fn charge(request: &ChargeRequest, answer: &Payment) -> Checked {
    payment("payment", answer)?;
    same_money("payment.amount", &answer.amount, &request.amount)?;
    if let Some(customer) = &answer.customer {
        same_reference("payment.customer", customer, &request.customer)?;
    }
    if let Some(card) = &answer.card {
        same_reference("payment.card", card, &request.card)?;
    }
    Ok(())
}

/// `charging.capture-payment`: a capture of the payment asked for, in its currency, of at most
/// the amount asked for.
pub(crate) fn capture(request: &CaptureRequest, answer: &Modification) -> Checked {
    modification(answer, &request.payment)?;
    let asked = &request.amount;
    if let Some(amount) = &answer.amount {
        if amount.currency != asked.currency {
            return violation(
                "modification.amount.currency",
                format!("is not the currency asked for ({})", asked.currency),
            );
        }
        if amount.amount > asked.amount {
            return violation(
                "modification.amount.amount",
                format!(
                    "is {}, more than the amount asked for ({})",
                    amount.amount, asked.amount
                ),
            );
        }
    }
    Ok(())
}

/// `charging.void-payment`: a void of the payment asked for.
pub(crate) fn void(request: &VoidRequest, answer: &Modification) -> Checked {
    modification(answer, &request.payment)
}

fn modification(answer: &Modification, payment_asked: &str) -> Checked {
    reference("modification.id", &answer.id)?;
    same_reference("modification.payment", &answer.payment, payment_asked)?;
    if let Some(amount) = &answer.amount {
        money("modification.amount", amount, false)?;
    }
    if let Some(after) = &answer.payment_after {
        payment("modification.payment-after", after)?;
    }
    optional_text(
        "modification.failure-reason",
        answer.failure_reason.as_ref(),
    )
}

/// `charging.refund-payment`: a refund of the payment, amount and currency asked for.
pub(crate) fn refund_of(request: &RefundRequest, answer: &Refund) -> Checked {
    refund(answer)?;
    same_reference("refund.payment", &answer.payment, &request.payment)?;
    same_money("refund.amount", &answer.amount, &request.amount)
}

/// A refund on its own (`charging.get-refund`).
pub(crate) fn refund(answer: &Refund) -> Checked {
    reference("refund.id", &answer.id)?;
    reference("refund.payment", &answer.payment)?;
    money("refund.amount", &answer.amount, false)?;
    optional_text("refund.failure-reason", answer.failure_reason.as_ref())
}

/// A payment on its own (`charging.get-payment`, `complete-action`, and within other
/// answers): `0 <= captured <= amount`, `0 <= refunded <= captured`, no decline when it
/// succeeded, and well-formed references and text.
pub(crate) fn payment(field: &str, p: &Payment) -> Checked {
    reference(&at(field, "id"), &p.id)?;
    money(&at(field, "amount"), &p.amount, false)?;
    non_negative(&at(field, "amount-captured"), p.amount_captured)?;
    if p.amount_captured > p.amount.amount {
        return violation(
            at(field, "amount-captured"),
            format!(
                "is {}, more than the amount ({})",
                p.amount_captured, p.amount.amount
            ),
        );
    }
    non_negative(&at(field, "amount-refunded"), p.amount_refunded)?;
    // Not bounded by the amount captured: Stripe reports a released authorization as refunded.
    if p.amount_refunded > p.amount.amount {
        return violation(
            at(field, "amount-refunded"),
            format!(
                "is {}, more than the amount ({})",
                p.amount_refunded, p.amount.amount
            ),
        );
    }
    if p.last_decline.is_some() && p.status != PaymentStatus::Failed {
        return violation(
            at(field, "last-decline"),
            format!("is set on a payment that did not fail ({:?})", p.status),
        );
    }
    if p.next_action.is_some() && p.status != PaymentStatus::RequiresAction {
        return violation(
            at(field, "next-action"),
            format!(
                "is set on a payment that does not require action ({:?})",
                p.status
            ),
        );
    }
    optional_reference(&at(field, "customer"), p.customer.as_ref())?;
    optional_reference(&at(field, "card"), p.card.as_ref())?;
    optional_text(&at(field, "description"), p.description.as_ref())?;
    metadata(&at(field, "metadata"), &p.metadata)?;
    if let Some(decline) = &p.last_decline {
        self::decline(&at(field, "last-decline"), decline)?;
    }
    if let Some(action) = &p.next_action {
        next_action(&at(field, "next-action"), action)?;
    }
    if let Some(fee) = &p.fee {
        money(&at(field, "fee"), fee, false)?;
    }
    optional_label(
        &at(field, "network-transaction-id"),
        p.network_transaction_id.as_ref(),
    )
}

/// A decline inside an answer.
pub(crate) fn decline(field: &str, d: &Decline) -> Checked {
    label(&at(field, "code"), &d.code)?;
    optional_label(&at(field, "decline-reason"), d.decline_reason.as_ref())?;
    text(&at(field, "customer-message"), &d.customer_message)?;
    optional_reference(&at(field, "payment"), d.payment.as_ref())?;
    optional_label(&at(field, "request-id"), d.request_id.as_ref())
}

fn next_action(field: &str, action: &NextAction) -> Checked {
    match action {
        NextAction::Redirect(r) => {
            url(&at(field, "url"), &r.url)?;
            each(&at(field, "fields"), &r.fields, |f, (key, value)| {
                label(&at(f, "name"), key)?;
                text(&at(f, "value"), value)
            })
        }
        NextAction::ClientSdk(sdk) => {
            name(&at(field, "sdk"), &sdk.sdk)?;
            text(&at(field, "payload"), &sdk.payload)
        }
        NextAction::BringCustomerOnSession => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{CardFunding, Money};

    fn usd(amount: i64) -> Money {
        Money {
            amount,
            currency: "USD".into(),
        }
    }

    fn paid(amount: i64) -> Payment {
        Payment {
            id: "pi_1".into(),
            status: PaymentStatus::Succeeded,
            amount: usd(amount),
            amount_captured: amount,
            amount_refunded: 0,
            customer: Some("cus_1".into()),
            card: Some("pm_1".into()),
            description: Some("Mobile plan\nMarch".into()),
            metadata: vec![("crm_txn".into(), "t1".into())],
            created: 0,
            last_decline: None,
            next_action: None,
            fee: None,
            network_transaction_id: None,
        }
    }

    #[test]
    fn amounts_must_add_up() {
        assert!(payment("payment", &paid(1000)).is_ok());
        let mut p = paid(1000);
        p.amount_captured = 100_000_000;
        let v = payment("payment", &p).unwrap_err();
        assert_eq!(v.field, "payment.amount-captured");
        assert_eq!(v.problem, "is 100000000, more than the amount (1000)");
        p.amount_captured = -1_000_000;
        assert_eq!(
            payment("payment", &p).unwrap_err().problem,
            "is negative (-1000000)"
        );
        let mut p = paid(1000);
        p.amount_refunded = 1001;
        assert_eq!(
            payment("payment", &p).unwrap_err().field,
            "payment.amount-refunded"
        );
        // A released authorization may read as refunded although nothing was captured.
        let mut released = paid(1000);
        released.status = PaymentStatus::Canceled;
        released.amount_captured = 0;
        released.amount_refunded = 1000;
        assert!(payment("payment", &released).is_ok());
        let mut p = paid(1000);
        p.last_decline = Some(Decline {
            category: crate::contract::DeclineCategory::Other,
            code: "card_declined".into(),
            decline_reason: None,
            customer_message: "declined".into(),
            payment: None,
            request_id: None,
        });
        assert_eq!(
            payment("payment", &p).unwrap_err().field,
            "payment.last-decline"
        );
        p.status = PaymentStatus::Failed;
        p.amount_captured = 0;
        assert!(
            payment("payment", &p).is_ok(),
            "a failed payment has its decline"
        );
        let mut p = paid(1000);
        p.next_action = Some(NextAction::BringCustomerOnSession);
        assert_eq!(
            payment("payment", &p).unwrap_err().field,
            "payment.next-action"
        );
    }

    fn charge_request() -> ChargeRequest {
        ChargeRequest {
            customer: "cus_1".into(),
            card: "pm_1".into(),
            amount: usd(1000),
            description: None,
            metadata: Vec::new(),
            capture: crate::contract::CaptureMode::Automatic,
            stored_credential: crate::contract::StoredCredentialUse::MerchantUnscheduled,
            network_transaction_id: None,
            return_url: None,
            idempotency_key: "k".into(),
        }
    }

    #[test]
    fn a_charge_is_of_the_amount_customer_and_card_asked_for() {
        let request = charge_request();
        assert!(charge(&request, &paid(1000)).is_ok());
        let v = charge(&request, &paid(999)).unwrap_err();
        assert_eq!(v.field, "payment.amount.amount");
        let mut p = paid(1000);
        p.amount.currency = "EUR".into();
        p.fee = None;
        assert_eq!(
            charge(&request, &p).unwrap_err().field,
            "payment.amount.currency"
        );
        let mut p = paid(1000);
        p.customer = Some("cus_2".into());
        assert_eq!(charge(&request, &p).unwrap_err().field, "payment.customer");
        let mut p = paid(1000);
        p.card = Some("pm_other".into());
        assert_eq!(charge(&request, &p).unwrap_err().field, "payment.card");
        let mut p = paid(1000);
        (p.customer, p.card) = (None, None);
        assert!(
            charge(&request, &p).is_ok(),
            "not named: nothing to compare"
        );
    }

    #[test]
    fn cards_must_be_well_formed_and_the_customers() {
        let card = StoredCard {
            id: "pm_1".into(),
            customer: "cus_1".into(),
            brand: "visa".into(),
            last4: "4242".into(),
            exp_month: 12,
            exp_year: 2034,
            fingerprint: None,
            funding: CardFunding::Credit,
            country: Some("US".into()),
            is_default: true,
            network_transaction_id: None,
        };
        assert!(stored_card("stored-card", &card, Some("cus_1")).is_ok());
        assert_eq!(
            stored_card("stored-card", &card, Some("cus_2"))
                .unwrap_err()
                .field,
            "stored-card.customer"
        );
        let broken = [
            StoredCard {
                last4: "4242424242424242".into(),
                ..card.clone()
            },
            StoredCard {
                exp_month: 13,
                ..card.clone()
            },
            StoredCard {
                exp_year: 65535,
                ..card.clone()
            },
            StoredCard {
                brand: "visa\nINFO forged".into(),
                ..card.clone()
            },
        ];
        let fields: Vec<String> = broken
            .iter()
            .map(|c| stored_card("stored-card", c, None).unwrap_err().field)
            .collect();
        assert_eq!(
            fields,
            [
                "stored-card.last4",
                "stored-card.exp-month",
                "stored-card.exp-year",
                "stored-card.brand"
            ]
        );
    }
}
