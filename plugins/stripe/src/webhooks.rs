//! `webhooks`: verifies `Stripe-Signature` on the raw body, then decodes and normalizes the event.
//!
//! An event whose object doesn't decode (a required field is missing) is `malformed`. An object
//! the plugin can't map without guessing (a status it does not know, a payment method that is not
//! a card) makes the event `other`: the host acknowledges it and acts on nothing, and its lookups
//! say what the plugin knows.

use omnicrm_gateway_sdk::exports::omnicrm::payments::webhooks::{
    EventKind, GatewayEvent, Guest, Rejection,
};
use omnicrm_gateway_sdk::omnicrm::payments::credentials::{self, CredentialError, MacAlgorithm};
use omnicrm_gateway_sdk::{log, settings, time};

use crate::Stripe;
use crate::signature;
use crate::wire::{self, DecodeError, Event, Unmapped};

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

        // Only now, with the body verified, is anything parsed.
        let event = decode(&body)?;
        let kind = normalize(&event)
            .map_err(malformed)?
            .unwrap_or_else(|unmapped| {
                log!(
                    warn,
                    "event {} ({}): {unmapped}; reported as `other`",
                    event.id,
                    event.kind
                );
                EventKind::Other(event.kind.clone())
            });
        Ok(GatewayEvent {
            id: event.id,
            created: event.created,
            gateway_type: event.kind,
            kind,
        })
    }
}

fn malformed(error: DecodeError) -> Rejection {
    Rejection::Malformed(format!("event: {error}"))
}

/// The event envelope; its `data.object` must be an object.
fn decode(body: &[u8]) -> Result<Event, Rejection> {
    let event: Event = wire::decode(body).map_err(malformed)?;
    if !event.has_object() {
        return Err(Rejection::Malformed(
            "event: `data.object` is not an object".into(),
        ));
    }
    Ok(event)
}

/// The contract's kind of an event: `Err` when its object doesn't decode, `Ok(Err)` when the
/// plugin can't map it without guessing.
fn normalize(event: &Event) -> Result<Result<EventKind, Unmapped>, DecodeError> {
    let ty = event.kind.as_str();
    Ok(match ty {
        "payment_intent.succeeded" => event
            .object::<wire::PaymentIntent>()?
            .update()
            .map(EventKind::PaymentSucceeded),
        "payment_intent.payment_failed" | "payment_intent.canceled" => event
            .object::<wire::PaymentIntent>()?
            .update()
            .map(EventKind::PaymentFailed),
        "refund.created" | "refund.updated" | "refund.failed" | "charge.refund.updated" => event
            .object::<wire::Refund>()?
            .update()
            .map(EventKind::Refund),
        "charge.refunded" => match event.object::<wire::Charge>()?.refunds {
            Some(refunds) if !refunds.data.is_empty() => {
                refunds.data[0].update().map(EventKind::Refund)
            }
            _ => Ok(EventKind::Other(ty.to_owned())),
        },
        "charge.dispute.created" => Ok(EventKind::DisputeOpened(
            event.object::<wire::Dispute>()?.update(),
        )),
        "charge.dispute.closed" => Ok(EventKind::DisputeClosed(
            event.object::<wire::Dispute>()?.update(),
        )),
        "invoice.paid" => event
            .object::<wire::Invoice>()?
            .update()
            .map(EventKind::InvoicePaid),
        "invoice.payment_failed" => event
            .object::<wire::Invoice>()?
            .update()
            .map(EventKind::InvoicePaymentFailed),
        "payment_method.automatically_updated" | "payment_method.updated" => event
            .object::<wire::PaymentMethod>()?
            .update()
            .map(EventKind::CardUpdated),
        _ => Ok(EventKind::Other(ty.to_owned())),
    })
}
