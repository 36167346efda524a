//! Webhooks of 0.1 components, up to the model: a verified event is a webhook outcome of that one
//! event, answered as 0.1 hosts answered.

use super::bindings::exports::omnicrm::payments::{charging, webhooks};
use crate::contract as model;

/// The answer to a verified 0.1 event: what 0.1 plugins' hosts answered.
pub(crate) const WEBHOOK_ANSWER: &[u8] = br#"{"received":true}"#;

impl From<webhooks::Rejection> for model::Rejection {
    fn from(r: webhooks::Rejection) -> Self {
        match r {
            webhooks::Rejection::MissingSignature => model::Rejection::MissingSignature,
            webhooks::Rejection::BadSignature => model::Rejection::BadSignature,
            webhooks::Rejection::OutsideTolerance => model::Rejection::OutsideTolerance,
            webhooks::Rejection::NotConfigured(m) => model::Rejection::NotConfigured(m),
            webhooks::Rejection::Malformed(m) => model::Rejection::Malformed(m),
        }
    }
}

/// A 0.1 payment update carries neither the captured amount, the metadata, the fee nor the
/// network transaction id: they are absent.
impl From<webhooks::PaymentUpdate> for model::PaymentUpdate {
    fn from(u: webhooks::PaymentUpdate) -> Self {
        model::PaymentUpdate {
            payment: u.payment,
            status: u.status.into(),
            amount: u.amount.into(),
            amount_captured: None,
            decline: u.decline.map(Into::into),
            metadata: Vec::new(),
            fee: None,
            network_transaction_id: None,
        }
    }
}

impl From<webhooks::DisputeStatus> for model::DisputeStatus {
    fn from(s: webhooks::DisputeStatus) -> Self {
        match s {
            webhooks::DisputeStatus::Warning => model::DisputeStatus::Warning,
            webhooks::DisputeStatus::Open => model::DisputeStatus::Open,
            webhooks::DisputeStatus::Won => model::DisputeStatus::Won,
            webhooks::DisputeStatus::Lost => model::DisputeStatus::Lost,
        }
    }
}

impl From<webhooks::DisputeUpdate> for model::DisputeUpdate {
    fn from(d: webhooks::DisputeUpdate) -> Self {
        model::DisputeUpdate {
            dispute: d.dispute,
            payment: d.payment,
            amount: d.amount.into(),
            reason: d.reason,
            status: d.status.into(),
            evidence_due_by: None,
        }
    }
}

impl From<webhooks::CardUpdate> for model::CardUpdate {
    fn from(c: webhooks::CardUpdate) -> Self {
        model::CardUpdate {
            card: c.card,
            customer: c.customer,
            exp_month: c.exp_month,
            exp_year: c.exp_year,
            last4: c.last4,
        }
    }
}

/// Where a 0.1 refund stands, as a modification: one that waits (for the gateway or the
/// customer) is `pending`; a canceled refund returned nothing, like a failed one.
fn refund_modification_status(s: charging::RefundStatus) -> model::ModificationStatus {
    match s {
        charging::RefundStatus::Pending | charging::RefundStatus::RequiresAction => {
            model::ModificationStatus::Pending
        }
        charging::RefundStatus::Succeeded => model::ModificationStatus::Succeeded,
        charging::RefundStatus::Failed | charging::RefundStatus::Canceled => {
            model::ModificationStatus::Failed
        }
    }
}

/// 0.1's event kinds in the model's terms: payment events are payment updates (the status says
/// which); a refund is a `modification` of kind `refund` (one that names no payment, which
/// nothing could be matched with, is `other`); disputes opened and closed are dispute updates;
/// an invoice paid or whose payment failed is an invoice update (`payment-failed` says which).
impl From<webhooks::GatewayEvent> for model::GatewayEvent {
    fn from(e: webhooks::GatewayEvent) -> Self {
        use webhooks::EventKind as Old;
        let kind = match e.kind {
            Old::PaymentSucceeded(u) | Old::PaymentFailed(u) => model::EventKind::Payment(u.into()),
            Old::Refund(r) => match r.payment {
                Some(payment) => model::EventKind::Modification(model::ModificationUpdate {
                    modification: r.refund,
                    kind: model::ModificationKind::Refund,
                    payment,
                    status: refund_modification_status(r.status),
                    amount: Some(r.amount.into()),
                    reason: None,
                }),
                None => model::EventKind::Other(e.gateway_type.clone()),
            },
            Old::DisputeOpened(d) | Old::DisputeClosed(d) => model::EventKind::Dispute(d.into()),
            Old::InvoicePaid(i) => model::EventKind::Invoice(model::InvoiceUpdate {
                invoice: i.invoice,
                status: i.status.into(),
                amount_paid: i.amount_paid,
                payment_failed: false,
            }),
            Old::InvoicePaymentFailed(i) => model::EventKind::Invoice(model::InvoiceUpdate {
                invoice: i.invoice,
                status: i.status.into(),
                amount_paid: i.amount_paid,
                payment_failed: true,
            }),
            Old::CardUpdated(c) => model::EventKind::CardUpdated(c.into()),
            Old::Other(name) => model::EventKind::Other(name),
        };
        model::GatewayEvent {
            id: e.id,
            created: e.created,
            gateway_type: e.gateway_type,
            kind,
        }
    }
}

/// A verified 0.1 event as a webhook outcome: that one event, answered `200` with
/// `{"received":true}` as JSON.
pub(crate) fn webhook_outcome(event: webhooks::GatewayEvent) -> model::WebhookOutcome {
    model::WebhookOutcome {
        events: vec![event.into()],
        response: model::WebhookResponse {
            status: 200,
            content_type: Some("application/json".into()),
            body: WEBHOOK_ANSWER.to_vec(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::v0_1::bindings::exports::omnicrm::payments::invoicing;
    use crate::contract::v0_1::bindings::omnicrm::payments::types;
    use model::DeclineCategory as Category;

    fn event(kind: webhooks::EventKind) -> model::GatewayEvent {
        webhooks::GatewayEvent {
            id: "evt_1".into(),
            created: 10,
            gateway_type: "some.type".into(),
            kind,
        }
        .into()
    }

    #[test]
    fn events_map_to_the_newest_kinds() {
        let money = || types::Money {
            amount: 800,
            currency: "USD".into(),
        };
        let update = webhooks::PaymentUpdate {
            payment: "pi_1".into(),
            status: charging::PaymentStatus::Failed,
            amount: money(),
            decline: Some(types::Decline {
                code: "card_declined".into(),
                decline_reason: Some("insufficient_funds".into()),
                customer_message: "Declined".into(),
                payment: Some("pi_1".into()),
                request_id: None,
            }),
        };
        let e = event(webhooks::EventKind::PaymentFailed(update));
        let model::EventKind::Payment(p) = &e.kind else {
            panic!("{e:?}")
        };
        assert_eq!(p.status, model::PaymentStatus::Failed);
        assert_eq!(
            p.decline.as_ref().map(|d| d.category),
            Some(Category::InsufficientFunds)
        );
        assert_eq!((e.id.as_str(), e.created), ("evt_1", 10));

        let refund = |payment: Option<&str>, status| {
            event(webhooks::EventKind::Refund(webhooks::RefundUpdate {
                refund: "re_1".into(),
                payment: payment.map(str::to_owned),
                amount: money(),
                status,
            }))
        };
        let e = refund(Some("pi_1"), charging::RefundStatus::Succeeded);
        assert_eq!(
            e.kind,
            model::EventKind::Modification(model::ModificationUpdate {
                modification: "re_1".into(),
                kind: model::ModificationKind::Refund,
                payment: "pi_1".into(),
                status: model::ModificationStatus::Succeeded,
                amount: Some(model::Money {
                    amount: 800,
                    currency: "USD".into()
                }),
                reason: None,
            })
        );
        let e = refund(Some("pi_1"), charging::RefundStatus::Canceled);
        assert!(matches!(&e.kind, model::EventKind::Modification(m)
            if m.status == model::ModificationStatus::Failed));
        let e = refund(None, charging::RefundStatus::Succeeded);
        assert_eq!(e.kind, model::EventKind::Other("some.type".into()));

        let invoice = webhooks::InvoiceUpdate {
            invoice: "in_1".into(),
            status: invoicing::InvoiceStatus::Open,
            amount_paid: 0,
        };
        let e = event(webhooks::EventKind::InvoicePaymentFailed(invoice));
        assert!(matches!(&e.kind, model::EventKind::Invoice(i)
            if i.payment_failed && i.status == model::InvoiceStatus::Open));

        let dispute = webhooks::DisputeUpdate {
            dispute: "du_1".into(),
            payment: Some("pi_1".into()),
            amount: money(),
            reason: "fraudulent".into(),
            status: webhooks::DisputeStatus::Lost,
        };
        let e = event(webhooks::EventKind::DisputeClosed(dispute));
        assert!(matches!(&e.kind, model::EventKind::Dispute(d)
            if d.status == model::DisputeStatus::Lost && d.evidence_due_by.is_none()));

        let outcome = webhook_outcome(webhooks::GatewayEvent {
            id: "evt_2".into(),
            created: 0,
            gateway_type: "x".into(),
            kind: webhooks::EventKind::Other("x".into()),
        });
        assert_eq!(outcome.events.len(), 1);
        assert_eq!(outcome.response.status, 200);
        assert_eq!(outcome.response.body, br#"{"received":true}"#);
    }
}
