//! `webhooks`: verifies `Stripe-Signature` on the raw body, then normalizes the event.

use omnicrm_gateway_sdk::exports::omnicrm::payments::webhooks::{
    CardUpdate, DisputeStatus, DisputeUpdate, EventKind, GatewayEvent, Guest, InvoiceUpdate,
    PaymentUpdate, RefundUpdate, Rejection,
};
use omnicrm_gateway_sdk::omnicrm::payments::credentials::{self, CredentialError, MacAlgorithm};
use omnicrm_gateway_sdk::{settings, time};

use crate::Stripe;
use crate::charging::{decline_from, intent_status, refund_status};
use crate::invoicing::invoice_status;
use crate::json::Json;
use crate::money::{self, money};
use crate::signature;

/// The secret's name in the host's configuration.
const SECRET: &str = "webhook-secret";
/// Default tolerance in seconds (`webhook-tolerance-secs`), as in Stripe's libraries.
const DEFAULT_TOLERANCE: u64 = 300;

impl Guest for Stripe {
    fn verify_event(
        headers: Vec<(String, Vec<u8>)>,
        body: Vec<u8>,
    ) -> Result<GatewayEvent, Rejection> {
        let header = headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("stripe-signature"))
            .ok_or(Rejection::MissingSignature)?;
        let header = core::str::from_utf8(&header.1).map_err(|_| Rejection::BadSignature)?;
        let header = signature::parse(header).ok_or(Rejection::BadSignature)?;
        let tolerance = settings::get_or("webhook-tolerance-secs", DEFAULT_TOLERANCE)
            .map_err(|e| Rejection::NotConfigured(e.to_string()))?;

        let payload = signature::signed_payload(header.timestamp, &body);
        let expected = credentials::compute_mac(SECRET, MacAlgorithm::HmacSha256, &payload)
            .map_err(|e| {
                Rejection::NotConfigured(match e {
                    CredentialError::UnknownSecret(m) | CredentialError::Unavailable(m) => m,
                })
            })?;
        if !signature::matches(&header, &expected) {
            return Err(Rejection::BadSignature);
        }
        if !signature::within_tolerance(header.timestamp, time::unix_now(), tolerance) {
            return Err(Rejection::OutsideTolerance);
        }

        let event = Json::parse(&body).map_err(Rejection::Malformed)?;
        let id = event.get("id").string().ok_or_else(|| malformed("id"))?;
        let gateway_type = event
            .get("type")
            .string()
            .ok_or_else(|| malformed("type"))?;
        let object = event.path("data.object");
        if !matches!(object, Json::Obj(_)) {
            return Err(malformed("data.object"));
        }
        Ok(GatewayEvent {
            created: event.get("created").i64().unwrap_or(0),
            kind: normalize(&gateway_type, object),
            gateway_type,
            id,
        })
    }
}

fn malformed(field: &str) -> Rejection {
    Rejection::Malformed(format!("event without `{field}`"))
}

fn normalize(ty: &str, o: &Json) -> EventKind {
    match ty {
        "payment_intent.succeeded" => EventKind::PaymentSucceeded(payment_update(o)),
        "payment_intent.payment_failed" | "payment_intent.canceled" => {
            EventKind::PaymentFailed(payment_update(o))
        }
        "refund.created" | "refund.updated" | "refund.failed" | "charge.refund.updated" => {
            EventKind::Refund(refund_update(o))
        }
        "charge.refunded" => match o.path("refunds.data").arr().first() {
            Some(refund) => EventKind::Refund(refund_update(refund)),
            None => EventKind::Other(ty.to_owned()),
        },
        "charge.dispute.created" => EventKind::DisputeOpened(dispute_update(o)),
        "charge.dispute.closed" => EventKind::DisputeClosed(dispute_update(o)),
        "invoice.paid" => EventKind::InvoicePaid(invoice_update(o)),
        "invoice.payment_failed" => EventKind::InvoicePaymentFailed(invoice_update(o)),
        "payment_method.automatically_updated" | "payment_method.updated" => {
            let card = o.get("card");
            EventKind::CardUpdated(CardUpdate {
                card: o.get("id").string().unwrap_or_default(),
                customer: o.get("customer").id(),
                exp_month: card.get("exp_month").int().unwrap_or(0),
                exp_year: card.get("exp_year").int().unwrap_or(0),
                last4: card.get("last4").string().unwrap_or_default(),
            })
        }
        _ => EventKind::Other(ty.to_owned()),
    }
}

fn payment_update(pi: &Json) -> PaymentUpdate {
    let id = pi.get("id").string().unwrap_or_default();
    PaymentUpdate {
        status: intent_status(pi),
        amount: money(pi.get("amount").i64().unwrap_or(0), pi.get("currency")),
        decline: decline_from(pi.get("last_payment_error"), Some(id.clone())),
        payment: id,
    }
}

fn refund_update(re: &Json) -> RefundUpdate {
    RefundUpdate {
        refund: re.get("id").string().unwrap_or_default(),
        payment: re.get("payment_intent").id(),
        amount: money(re.get("amount").i64().unwrap_or(0), re.get("currency")),
        status: refund_status(re.get("status").str().unwrap_or("")),
    }
}

fn dispute_update(du: &Json) -> DisputeUpdate {
    DisputeUpdate {
        dispute: du.get("id").string().unwrap_or_default(),
        payment: du.get("payment_intent").id(),
        amount: money(du.get("amount").i64().unwrap_or(0), du.get("currency")),
        reason: du.get("reason").string().unwrap_or_default(),
        status: match du.get("status").str().unwrap_or("") {
            "won" => DisputeStatus::Won,
            "lost" => DisputeStatus::Lost,
            s if s.starts_with("warning_") => DisputeStatus::Warning,
            _ => DisputeStatus::Open,
        },
    }
}

fn invoice_update(inv: &Json) -> InvoiceUpdate {
    InvoiceUpdate {
        invoice: inv.get("id").string().unwrap_or_default(),
        status: invoice_status(inv.get("status").str().unwrap_or("")),
        amount_paid: money::field(inv, "amount_paid", inv.get("currency").str().unwrap_or("")),
    }
}
