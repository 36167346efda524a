//! Gateway events (webhooks): verified by the gateway, deduplicated, applied forward-only.
//!
//! The request goes to the gateway ([`PaymentGateway::handle_webhook`]) untouched; only the
//! events it verified are acted on, and the gateway's plugin chooses the HTTP answer. Events are
//! deduplicated on their id, and every update is a compare-and-set that only moves states
//! forward, so webhooks and the synchronous path converge whatever the order. An event is
//! recorded as processed only after it was applied, so a failure makes the gateway deliver it
//! again.
//!
//! [`PaymentGateway::handle_webhook`]: crate::gateway::PaymentGateway::handle_webhook

use crate::error::{Error, ErrorKind, EventRejection};
use crate::ledger::{
    Capture, DisputeStatus, DisputeUpdate, InvoicePatch, Transaction, TxnPatch, TxnStatus,
};
use crate::payments::lookup::AUTHORIZATION_EXPIRED;
use crate::payments::status::{
    invoice_from, invoice_status_of, refund_status_of, txn_from, txn_status_of,
};
use crate::retry::RetryPolicy;
use crate::service::Service;
use omnicrm_host::contract::{
    self, EventKind, GatewayEvent, ModificationKind, ModificationStatus, Rejection, WebhookRequest,
    WebhookResponse,
};

/// What became of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// Applied now; what it did (`payment_updated`, `dispute_recorded`, ...).
    Applied(&'static str),
    /// Seen before.
    Duplicate,
}

impl Handled {
    /// What the event did: the action, or `ignored` for a duplicate.
    pub fn action(&self) -> &'static str {
        match self {
            Handled::Applied(a) => a,
            Handled::Duplicate => "ignored",
        }
    }
}

/// What a webhook request came to.
#[derive(Debug, Clone)]
pub struct Received {
    /// The verified events it held, each with what became of it, in the order received.
    pub events: Vec<(GatewayEvent, Handled)>,
    /// The HTTP answer the gateway expects, as its plugin chose it.
    pub response: WebhookResponse,
}

/// Verifies a webhook request delivered to `gateway` (method, path, query, lower-case header
/// names, raw body) and applies each of its events once. Not found naming `gateway` for an
/// unknown gateway; a rejected request is [`ErrorKind::EventRejected`], one the gateway could
/// not verify now [`ErrorKind::EventUnverifiable`].
pub async fn receive(
    service: &Service,
    gateway: &str,
    request: WebhookRequest,
) -> Result<Received, Error> {
    let Some(slot) = service.gateways.get(gateway) else {
        return Err(Error::not_found(
            "gateway",
            format!("no gateway named {gateway:?}"),
        ));
    };
    let verified = slot.gateway().handle_webhook(request).await.map_err(|e| {
        tracing::warn!(gateway = %gateway, error = %e, "webhook verification failed to run");
        Error::new(
            ErrorKind::EventUnverifiable,
            Some("body"),
            "the event could not be verified now",
        )
    })?;
    let outcome = match verified {
        Ok(outcome) => outcome,
        Err(rejection) => {
            let (why, message) = match &rejection {
                Rejection::MissingSignature => (
                    EventRejection::MissingSignature,
                    "the signature header is missing".to_string(),
                ),
                Rejection::BadSignature => (
                    EventRejection::BadSignature,
                    "no signature matches the body".to_string(),
                ),
                Rejection::OutsideTolerance => (
                    EventRejection::OutsideTolerance,
                    "the signed timestamp is too old or too new".to_string(),
                ),
                Rejection::NotConfigured(m) => (
                    EventRejection::NotConfigured,
                    format!("webhook verification is not configured: {m}"),
                ),
                Rejection::Malformed(m) => (
                    EventRejection::Malformed,
                    format!("the event is malformed: {m}"),
                ),
            };
            tracing::warn!(gateway = %gateway, rejection = ?why, "webhook rejected");
            return Err(Error::new(
                ErrorKind::EventRejected(why),
                Some("signature"),
                message,
            ));
        }
    };
    let mut events = Vec::with_capacity(outcome.events.len());
    for event in outcome.events {
        let handled = handle_event(service, gateway, &event).await?;
        tracing::info!(gateway = %gateway, event = %event.id, kind = %event.gateway_type, ?handled, "webhook");
        events.push((event, handled));
    }
    Ok(Received {
        events,
        response: outcome.response,
    })
}

/// Finds the transaction of a payment, looking the payment up at the gateway (its metadata
/// names the transaction) when the synchronous path has not recorded the reference yet.
async fn txn_of_payment(
    service: &Service,
    gateway: &str,
    payment: &str,
) -> Result<Option<Transaction>, Error> {
    let (g, p) = (gateway.to_string(), payment.to_string());
    if let Some(t) = service
        .db
        .run(move |l| l.transaction_by_payment(&g, &p))
        .await?
    {
        return Ok(Some(t));
    }
    let Some(slot) = service.gateways.get(gateway) else {
        return Ok(None);
    };
    let found = slot
        .call("get-payment", RetryPolicy::INTERACTIVE, |g| {
            let p = payment.to_string();
            async move { g.get_payment(&p).await }
        })
        .await;
    let Ok(p) = found else { return Ok(None) };
    let id = p
        .metadata
        .iter()
        .find(|(k, _)| k == "crm_transaction_id")
        .and_then(|(_, v)| v.parse::<i64>().ok());
    match id {
        Some(id) => {
            let t = service.db.run(move |l| l.transaction(id)).await?;
            Ok(t.filter(|t| t.gateway.as_deref() == Some(gateway)))
        }
        None => Ok(None),
    }
}

/// Applies a verified event once.
pub async fn handle_event(
    service: &Service,
    gateway: &str,
    event: &GatewayEvent,
) -> Result<Handled, Error> {
    let (g, id) = (gateway.to_string(), event.id.clone());
    if service.db.run(move |l| l.webhook_seen(&g, &id)).await? {
        return Ok(Handled::Duplicate);
    }
    let action: &'static str = match &event.kind {
        EventKind::Payment(u) => {
            match txn_of_payment(service, gateway, &u.payment).await? {
                Some(t) => {
                    // The event's amount is the payment's, not what was captured: ask the
                    // gateway (a partial capture captures less); fall back on the event.
                    let fresh = match service.gateways.get(gateway) {
                        Some(slot) => slot
                            .call("get-payment", RetryPolicy::INTERACTIVE, |g| {
                                let p = u.payment.clone();
                                async move { g.get_payment(&p).await }
                            })
                            .await
                            .ok(),
                        None => None,
                    };
                    let status = txn_status_of(u.status);
                    let captured = match &fresh {
                        Some(p) => Some(p.amount_captured),
                        None if t.capture == Capture::Automatic => Some(u.amount.amount),
                        None => None,
                    };
                    let patch = TxnPatch {
                        status: Some(status),
                        gateway_payment_ref: Some(u.payment.clone()),
                        amount_captured: captured.filter(|_| status == TxnStatus::Succeeded),
                        decline_code: u.decline.as_ref().map(|d| Some(d.code.clone())),
                        decline_reason: u.decline.as_ref().map(|d| d.decline_reason.clone()),
                        // Our own void settles its transaction itself (and clears this).
                        last_error: (status == TxnStatus::Canceled
                            && t.status == TxnStatus::Authorized)
                            .then(|| Some(AUTHORIZATION_EXPIRED.into())),
                        ..Default::default()
                    };
                    let from = txn_from(status);
                    let id = t.id;
                    let moved = service
                        .db
                        .run(move |l| l.update_transaction(id, &from, &patch))
                        .await?;
                    if moved.is_some() {
                        "payment_updated"
                    } else {
                        "payment_already_current"
                    }
                }
                None => "payment_unknown",
            }
        }
        EventKind::Modification(r) if r.kind == ModificationKind::Refund => {
            match txn_of_payment(service, gateway, &r.payment).await? {
                Some(t) => match &r.amount {
                    Some(amount) => {
                        let (id, rref, amount, status) = (
                            t.id,
                            r.modification.clone(),
                            amount.amount,
                            refund_status_of(match r.status {
                                ModificationStatus::Pending => contract::RefundStatus::Pending,
                                ModificationStatus::Succeeded => contract::RefundStatus::Succeeded,
                                ModificationStatus::Failed => contract::RefundStatus::Failed,
                            }),
                        );
                        service
                            .db
                            .run(move |l| l.observe_refund(id, &rref, amount, status))
                            .await?;
                        "refund_recorded"
                    }
                    // A refund the event does not give the amount of cannot be recorded.
                    None => "ignored",
                },
                None => "payment_unknown",
            }
        }
        // Captures and voids are settled by the answer to the service's own call.
        EventKind::Modification(_) => "ignored",
        EventKind::Dispute(d) => {
            // The event may come before the charge's answer: find the transaction through the
            // payment's metadata when its reference is not recorded yet.
            let transaction_id = match &d.payment {
                Some(p) => txn_of_payment(service, gateway, p).await?.map(|t| t.id),
                None => None,
            };
            let update = DisputeUpdate {
                transaction_id,
                gateway: gateway.to_string(),
                gateway_dispute_ref: d.dispute.clone(),
                gateway_payment_ref: d.payment.clone(),
                amount: d.amount.amount,
                currency: d.amount.currency.to_ascii_uppercase(),
                reason: d.reason.clone(),
                status: match d.status {
                    contract::DisputeStatus::Warning => DisputeStatus::Warning,
                    contract::DisputeStatus::Open => DisputeStatus::Open,
                    contract::DisputeStatus::Won => DisputeStatus::Won,
                    contract::DisputeStatus::Lost => DisputeStatus::Lost,
                },
            };
            service.db.run(move |l| l.upsert_dispute(&update)).await?;
            "dispute_recorded"
        }
        EventKind::Invoice(i) => {
            let (g, r) = (gateway.to_string(), i.invoice.clone());
            match service.db.run(move |l| l.invoice_by_ref(&g, &r)).await? {
                Some(inv) => {
                    let paid = !i.payment_failed;
                    let status = invoice_status_of(i.status);
                    let patch = InvoicePatch {
                        status: Some(status),
                        amount_paid: Some(i.amount_paid),
                        last_error: (!paid)
                            .then(|| Some("an attempt to pay the invoice failed".to_string())),
                        ..Default::default()
                    };
                    let from = invoice_from(status);
                    let id = inv.id;
                    service
                        .db
                        .run(move |l| l.update_invoice(id, &from, &patch))
                        .await?;
                    "invoice_updated"
                }
                None => "invoice_unknown",
            }
        }
        EventKind::CardUpdated(c) => {
            let (g, card, m, y, l4) = (
                gateway.to_string(),
                c.card.clone(),
                c.exp_month,
                c.exp_year,
                c.last4.clone(),
            );
            service
                .db
                .run(move |l| l.update_card_details(&g, &card, m, y, &l4))
                .await?;
            "card_updated"
        }
        // Cards stored by the customer (card sessions) are recorded by the service's own call.
        EventKind::CardStored(_) | EventKind::Other(_) => "ignored",
    };
    let (g, id, ty) = (
        gateway.to_string(),
        event.id.clone(),
        event.gateway_type.clone(),
    );
    let fresh = service
        .db
        .run(move |l| l.record_webhook(&g, &id, &ty))
        .await?;
    Ok(if fresh {
        Handled::Applied(action)
    } else {
        Handled::Duplicate
    })
}
