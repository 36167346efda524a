//! Gateway events (webhooks): verified by the gateway, deduplicated, applied forward-only.
//!
//! - `payment`: the transaction found by the payment's reference, or (an event before the
//!   charge's answer) by the CRM's transaction id in its metadata; moved forward with the
//!   captured amount, fee, decline and network transaction id the event carries; its captures
//!   and voids left pending settled by where the payment now stands. A ledger invoice's payment
//!   settles the invoice.
//! - `modification`: a refund settles (or records) the refund; a capture or a void settles what
//!   the service's call left pending (see [`crate::payments::pending`]).
//! - `dispute`: recorded with its evidence due date; `invoice`: a gateway invoice moved forward;
//!   `card-updated`, `card-stored`: the ledger's card refreshed (cards it does not know are not
//!   recorded).
//!
//! The request goes to the gateway ([`PaymentGateway::handle_webhook`]) untouched; only the
//! events it verified are acted on, and the gateway's plugin chooses the HTTP answer. Events are
//! deduplicated on their id, and every update is a compare-and-set that only moves states
//! forward, so webhooks and the synchronous path converge whatever the order. An event is
//! recorded as processed only after it was applied, so a failure makes the gateway deliver it
//! again.
//!
//! [`PaymentGateway::handle_webhook`]: crate::gateway::PaymentGateway::handle_webhook

use crate::customers::funding_name;
use crate::error::{Error, ErrorKind, EventRejection};
use crate::ledger::{
    Capture, CardDetails, DisputeStatus, DisputeUpdate, InvoicePatch, OpState, RefundStatus,
    Transaction, TxnPatch, TxnStatus,
};
use crate::live_gateways::Lane;
use crate::payments::lookup::AUTHORIZATION_EXPIRED;
use crate::payments::pending::InvoicePayment;
use crate::payments::status::{
    decline_category_name, invoice_from, invoice_status_of, refund_status_of_modification,
    txn_from, txn_status_of,
};
use crate::retry::RetryPolicy;
use crate::service::Service;
use omnicrm_host::contract::{
    self, Capabilities, EventKind, GatewayEvent, ModificationKind, ModificationUpdate,
    PaymentUpdate, Rejection, WebhookRequest, WebhookResponse,
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
    if service.gateways.get(gateway).is_none() {
        return Err(Error::not_found(
            "gateway",
            format!("no gateway named {gateway:?}"),
        ));
    }
    let slot = service.slot(gateway)?;
    let Some(plugin) = slot.gateway() else {
        return Err(Error::new(
            ErrorKind::GatewayLoading,
            Some("gateway"),
            format!("gateway {gateway} is not loaded"),
        ));
    };
    let verified = plugin.handle_webhook(request).await.map_err(|e| {
        let e = crate::plugin_fault::client_safe(gateway, "handle-webhook", e);
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

/// Finds the transaction of a payment: by the reference the ledger recorded; else, when the
/// service never learnt it (the event came before the charge's answer), by the CRM's transaction
/// id in the event's metadata, or in the payment's as a lookup says (gateways with
/// `payment-lookup`; others are never asked).
async fn txn_of_payment(
    service: &Service,
    gateway: &str,
    payment: &str,
    metadata: &[(String, String)],
) -> Result<Option<Transaction>, Error> {
    let (g, p) = (gateway.to_string(), payment.to_string());
    if let Some(t) = service
        .db
        .run(move |l| l.transaction_by_payment(&g, &p))
        .await?
    {
        return Ok(Some(t));
    }
    let mut id = crm_transaction_id(metadata);
    if id.is_none()
        && let Some(slot) = service.gateways.get(gateway)
        && slot.capabilities().contains(Capabilities::PAYMENT_LOOKUP)
    {
        let found = slot
            .call_in(Lane::Lookup, "get-payment", RetryPolicy::INTERACTIVE, |g| {
                let p = payment.to_string();
                async move { g.get_payment(&p).await }
            })
            .await;
        id = found.ok().and_then(|p| crm_transaction_id(&p.metadata));
    }
    match id {
        Some(id) => {
            let t = service.db.run(move |l| l.transaction(id)).await?;
            // Only a transaction charged through this gateway, with no other payment.
            Ok(t.filter(|t| {
                t.gateway.as_deref() == Some(gateway)
                    && t.gateway_payment_ref
                        .as_deref()
                        .is_none_or(|r| r == payment)
            }))
        }
        None => Ok(None),
    }
}

/// The CRM's transaction id in a payment's metadata.
fn crm_transaction_id(metadata: &[(String, String)]) -> Option<i64> {
    metadata
        .iter()
        .find(|(k, _)| k == "crm_transaction_id")
        .and_then(|(_, v)| v.parse::<i64>().ok())
}

/// Applies a `payment` event to its transaction (or to the ledger invoice it pays).
async fn payment_event(
    service: &Service,
    gateway: &str,
    u: &PaymentUpdate,
) -> Result<&'static str, Error> {
    let Some(t) = txn_of_payment(service, gateway, &u.payment, &u.metadata).await? else {
        let (g, p) = (gateway.to_string(), u.payment.clone());
        return Ok(
            match service
                .db
                .run(move |l| l.invoice_by_payment(&g, &p))
                .await?
            {
                Some(inv) => {
                    let paid = InvoicePayment {
                        payment: u.payment.clone(),
                        status: u.status,
                        captured: u.amount_captured.unwrap_or(u.amount.amount),
                        fee: same_currency_fee(u),
                    };
                    if service.settle_invoice_payment(inv.id, &paid).await? {
                        "invoice_updated"
                    } else {
                        "invoice_already_current"
                    }
                }
                None => "payment_unknown",
            },
        );
    };
    let status = txn_status_of(u.status);
    // What was captured: the event's, else (a partial capture captures less than the payment's
    // amount) a lookup's where the gateway has one, else all of an automatic capture.
    let captured = match u.amount_captured {
        Some(c) => Some(c),
        None => match service.look_up_payment(&t).await {
            Ok(Some(p)) => Some(p.amount_captured),
            _ if t.capture == Capture::Automatic => Some(u.amount.amount),
            _ => None,
        },
    };
    let patch = TxnPatch {
        status: Some(status),
        gateway_payment_ref: Some(u.payment.clone()),
        amount_captured: captured.filter(|_| status == TxnStatus::Succeeded),
        decline_code: u.decline.as_ref().map(|d| Some(d.code.clone())),
        decline_reason: u.decline.as_ref().map(|d| d.decline_reason.clone()),
        decline_category: u
            .decline
            .as_ref()
            .map(|d| Some(decline_category_name(d.category).to_string())),
        fee: same_currency_fee(u),
        // The customer's action is over once the payment moved on.
        next_action: (status != TxnStatus::RequiresAction).then_some(None),
        // Our own void settles its transaction itself (and clears this).
        last_error: (status == TxnStatus::Canceled && t.status == TxnStatus::Authorized)
            .then(|| Some(AUTHORIZATION_EXPIRED.into())),
        ..Default::default()
    };
    let from = txn_from(status);
    let id = t.id;
    let moved = service
        .db
        .run(move |l| l.update_transaction(id, &from, &patch))
        .await?;
    if moved.as_ref().is_some_and(|m| m.attention.is_some()) {
        // The gateway told what the reconciler gave up learning: no operator is needed for it.
        let state = match status {
            TxnStatus::Failed | TxnStatus::Canceled => OpState::Failed,
            _ => OpState::Done,
        };
        service
            .db
            .run(move |l| l.unflag_charge_settled_by_gateway(id, status, state))
            .await?;
    }
    if let (Some(ntid), Some(card)) = (&u.network_transaction_id, t.card_id) {
        let ntid = ntid.clone();
        service
            .db
            .run(move |l| l.set_card_network_transaction_id(card, &ntid))
            .await?;
    }
    let t = service.transaction(id).await?;
    let settled = service
        .settle_waiting_changes(&t, u.status, u.amount_captured)
        .await?;
    Ok(if moved.is_some() || settled > 0 {
        "payment_updated"
    } else {
        "payment_already_current"
    })
}

/// The fee an event reports, when it is in the payment's currency.
fn same_currency_fee(u: &PaymentUpdate) -> Option<i64> {
    u.fee
        .as_ref()
        .filter(|f| f.currency.eq_ignore_ascii_case(&u.amount.currency))
        .map(|f| f.amount)
}

/// Applies a `modification` event: a refund's outcome settles (or records) the refund; a
/// capture's or void's settles what the service's own call left pending.
async fn modification_event(
    service: &Service,
    gateway: &str,
    r: &ModificationUpdate,
) -> Result<&'static str, Error> {
    let Some(t) = txn_of_payment(service, gateway, &r.payment, &[]).await? else {
        return Ok("payment_unknown");
    };
    if r.kind != ModificationKind::Refund {
        return service.apply_modification_event(&t, r).await;
    }
    // A refund the event does not give the amount of cannot be recorded.
    let Some(amount) = &r.amount else {
        return Ok("ignored");
    };
    let (id, rref, amount, status) = (
        t.id,
        r.modification.clone(),
        amount.amount,
        refund_status_of_modification(r.status),
    );
    let refund = service
        .db
        .run(move |l| l.observe_refund(id, &rref, amount, status))
        .await?;
    if let Some(refund) = refund {
        if status == RefundStatus::Failed {
            // A refund the gateway reported done can still fail later (Adyen's REFUND_FAILED
            // after REFUND): the failure wins, and its amount is refundable again.
            let reason = r
                .reason
                .clone()
                .unwrap_or_else(|| "the gateway reported that the refund failed".into());
            let rid = refund.id;
            service
                .db
                .run(move |l| {
                    l.settle_refund(
                        rid,
                        &[RefundStatus::Failed, RefundStatus::Succeeded],
                        status,
                        None,
                        Some(&reason),
                    )
                })
                .await?;
        }
        let rid = refund.id;
        if let Some(refund) = service.db.run(move |l| l.refund(rid)).await? {
            service.settle_waiting_refund(&refund).await?;
        }
    }
    Ok("refund_recorded")
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
        EventKind::Payment(u) => payment_event(service, gateway, u).await?,
        EventKind::Modification(r) => modification_event(service, gateway, r).await?,
        EventKind::Dispute(d) => {
            // The event may come before the charge's answer: find the transaction through the
            // payment's metadata when its reference is not recorded yet.
            let transaction_id = match &d.payment {
                Some(p) => txn_of_payment(service, gateway, p, &[])
                    .await?
                    .map(|t| t.id),
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
                evidence_due_by: d.evidence_due_by,
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
            if service
                .db
                .run(move |l| l.update_card_details(&g, &card, m, y, &l4))
                .await?
            {
                "card_updated"
            } else {
                "card_unknown"
            }
        }
        // A card the ledger knows, described again (a card session the service stored the token
        // of, a card updater): its details refreshed. One the ledger never stored is not
        // recorded: the CRM stores cards through the API, naming the customer.
        EventKind::CardStored(c) => {
            let details = CardDetails {
                brand: Some(c.brand.clone()),
                last4: c.last4.clone(),
                exp_month: c.exp_month,
                exp_year: c.exp_year,
                funding: Some(funding_name(c.funding).to_string()),
                fingerprint: c.fingerprint.clone(),
                network_transaction_id: c.network_transaction_id.clone(),
            };
            let (g, card) = (gateway.to_string(), c.id.clone());
            if service
                .db
                .run(move |l| l.refresh_card(&g, &card, &details))
                .await?
            {
                "card_updated"
            } else {
                "card_unknown"
            }
        }
        EventKind::Other(_) => "ignored",
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
