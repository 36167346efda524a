//! `webhooks`: verifies `Stripe-Signature` on the raw body through the host's `verify-mac`, then
//! decodes and normalizes the event, and answers Stripe `200 {"received": true}`.
//!
//! An event whose object doesn't decode (a required field is missing) is `malformed`. An object
//! the plugin can't map without guessing (a status it does not know, a payment method that is not
//! a card, a refund of no PaymentIntent) makes the event `other`: the host acknowledges it and
//! acts on nothing, and its lookups say what the plugin knows.

use omnicrm_gateway_sdk::mac::{self, MacAlgorithm, MacKey};
use omnicrm_gateway_sdk::webhooks::{
    EventKind, GatewayEvent, Rejection, WebhookOutcome, WebhookRequest, WebhookResponse,
};
use omnicrm_gateway_sdk::{log, settings, time};

use crate::signature;
use crate::wire::{self, DecodeError, Event, Unmapped};

/// The secret's name in the host's configuration; its text is the key (`whsec_...`).
const SECRET: &str = "webhook-secret";
/// Default tolerance in seconds (`webhook-tolerance-secs`), as in Stripe's libraries.
const DEFAULT_TOLERANCE: u64 = 300;
/// What Stripe is answered once the host recorded the event.
const RECEIVED: &str = r#"{"received": true}"#;

pub fn handle_webhook(request: WebhookRequest) -> Result<WebhookOutcome, Rejection> {
    if request.method != "POST" {
        return Err(Rejection::Malformed(format!(
            "Stripe posts events; this request is a {}",
            request.method
        )));
    }
    let header = request
        .header("stripe-signature")
        .ok_or(Rejection::MissingSignature)?;
    let header = core::str::from_utf8(header).map_err(|_| Rejection::BadSignature)?;
    let header = signature::parse(header).ok_or(Rejection::BadSignature)?;
    let tolerance = settings::get_or("webhook-tolerance-secs", DEFAULT_TOLERANCE)
        .map_err(|e| Rejection::NotConfigured(e.to_string()))?;

    let payload = signature::signed_payload(header.timestamp, &request.body);
    let key = MacKey::raw(SECRET);
    let verified = mac::verify_any(&key, MacAlgorithm::HmacSha256, &payload, &header.v1)
        .map_err(|e| Rejection::from_credential_error(SECRET, &e))?;
    if !verified {
        return Err(Rejection::BadSignature);
    }
    if !signature::within_tolerance(header.timestamp, time::unix_now(), tolerance) {
        return Err(Rejection::OutsideTolerance);
    }

    // Only now, with the body verified, is anything parsed.
    let event = normalized(&request.body)?;
    Ok(WebhookOutcome {
        events: vec![event],
        response: WebhookResponse::json(200, RECEIVED),
    })
}

/// The verified body's event in the contract's terms.
fn normalized(body: &[u8]) -> Result<GatewayEvent, Rejection> {
    let event = decode(body)?;
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
        "payment_intent.succeeded"
        | "payment_intent.payment_failed"
        | "payment_intent.canceled"
        | "payment_intent.processing"
        | "payment_intent.requires_action"
        | "payment_intent.amount_capturable_updated" => event
            .object::<wire::PaymentIntent>()?
            .update()
            .map(EventKind::Payment),
        "refund.created" | "refund.updated" | "refund.failed" | "charge.refund.updated" => event
            .object::<wire::Refund>()?
            .update()
            .map(EventKind::Modification),
        "charge.refunded" => match event.object::<wire::Charge>()?.refunds {
            Some(refunds) if !refunds.data.is_empty() => {
                refunds.data[0].update().map(EventKind::Modification)
            }
            _ => Ok(EventKind::Other(ty.to_owned())),
        },
        "charge.dispute.created"
        | "charge.dispute.updated"
        | "charge.dispute.closed"
        | "charge.dispute.funds_withdrawn"
        | "charge.dispute.funds_reinstated" => Ok(EventKind::Dispute(
            event.object::<wire::Dispute>()?.update(),
        )),
        "invoice.paid"
        | "invoice.finalized"
        | "invoice.voided"
        | "invoice.marked_uncollectible"
        | "invoice.payment_failed" => event
            .object::<wire::Invoice>()?
            .update(ty == "invoice.payment_failed")
            .map(EventKind::Invoice),
        "payment_method.automatically_updated" | "payment_method.updated" => event
            .object::<wire::PaymentMethod>()?
            .update()
            .map(EventKind::CardUpdated),
        "payment_method.attached" => {
            let pm = event.object::<wire::PaymentMethod>()?;
            match pm.customer_id() {
                // Whether it became the default is not in the event.
                Some(customer) => pm.stored_card(&customer, false).map(EventKind::CardStored),
                None => Ok(EventKind::Other(ty.to_owned())),
            }
        }
        _ => Ok(EventKind::Other(ty.to_owned())),
    })
}

#[cfg(test)]
mod tests {
    use omnicrm_gateway_sdk::charging::{ModificationStatus, PaymentStatus};
    use omnicrm_gateway_sdk::types::{DeclineCategory, InvoiceStatus};
    use omnicrm_gateway_sdk::webhooks::{DisputeStatus, ModificationKind};

    use super::*;

    /// Decodes and normalizes an event body as `handle_webhook` does once the signature holds.
    fn kind(body: &[u8]) -> Result<Result<EventKind, Unmapped>, Rejection> {
        let event = decode(body)?;
        normalize(&event).map_err(malformed)
    }

    fn mapped(body: &[u8]) -> EventKind {
        match kind(body) {
            Ok(Ok(kind)) => kind,
            other => panic!("{other:?}"),
        }
    }

    /// A signed event's body with `data.object` replaced.
    fn event(ty: &str, object: &str) -> String {
        format!(
            r#"{{"id":"evt_1","object":"event","type":"{ty}","created":1700000000,
                "api_version":"2025-03-31.basil","data":{{"object":{object}}}}}"#
        )
    }

    #[test]
    fn events_as_stripe_sends_them() {
        let body = include_bytes!("wire/fixtures/event_invoice_paid.json");
        let envelope = decode(body).unwrap();
        assert_eq!(
            (
                envelope.id.as_str(),
                envelope.kind.as_str(),
                envelope.created
            ),
            (
                "evt_m80nxRa40HyjsodknYfCcXZy",
                "invoice.paid",
                1_796_138_413
            )
        );
        let EventKind::Invoice(u) = mapped(body) else {
            panic!("invoice.paid")
        };
        assert_eq!(
            (
                u.invoice.as_str(),
                u.status,
                u.amount_paid,
                u.payment_failed
            ),
            (
                "in_RTIywSKZu1xGt2iWziVpKd7Y",
                InvoiceStatus::Paid,
                3000,
                false
            )
        );
        let failed =
            String::from_utf8_lossy(body).replace("\"invoice.paid\"", "\"invoice.payment_failed\"");
        let EventKind::Invoice(u) = mapped(failed.as_bytes()) else {
            panic!("invoice.payment_failed")
        };
        assert!(u.payment_failed);

        let EventKind::Payment(u) =
            mapped(include_bytes!("wire/fixtures/event_payment_failed.json"))
        else {
            panic!("payment_intent.payment_failed")
        };
        assert_eq!(u.status, PaymentStatus::Failed);
        let decline = u.decline.unwrap();
        assert_eq!(
            (decline.code.as_str(), decline.decline_reason.as_deref()),
            ("card_declined", Some("insufficient_funds"))
        );
        assert_eq!(decline.category, DeclineCategory::InsufficientFunds);
        assert_eq!(decline.payment.as_deref(), Some(u.payment.as_str()));

        let EventKind::Dispute(u) =
            mapped(include_bytes!("wire/fixtures/event_dispute_created.json"))
        else {
            panic!("charge.dispute.created")
        };
        assert_eq!((u.amount.amount, u.status), (5000, DisputeStatus::Open));
        assert_eq!(u.reason, "fraudulent");
        assert!(u.evidence_due_by.is_some());

        // Since 2022-11-15 a charge carries no refunds unless expanded: nothing to report.
        assert!(matches!(
            mapped(include_bytes!("wire/fixtures/event_charge_refunded.json")),
            EventKind::Other(t) if t == "charge.refunded"
        ));
    }

    #[test]
    fn an_unknown_status_makes_the_event_other_not_a_guess() {
        let intent = r#"{"id":"pi_1","object":"payment_intent","amount":1000,"currency":"usd",
            "created":1,"status":"requires_reauthorization"}"#;
        let unmapped = kind(event("payment_intent.payment_failed", intent).as_bytes())
            .unwrap()
            .unwrap_err();
        assert!(unmapped.to_string().contains("requires_reauthorization"));
        let refund = r#"{"id":"re_1","amount":1,"currency":"usd","created":1,"status":"held"}"#;
        assert!(
            kind(event("refund.updated", refund).as_bytes())
                .unwrap()
                .is_err()
        );
        let sepa = r#"{"id":"pm_1","type":"sepa_debit","customer":"cus_1"}"#;
        assert!(
            kind(event("payment_method.updated", sepa).as_bytes())
                .unwrap()
                .is_err()
        );
        // A refund the plugin knows, listed in an (expanded) charge.
        let charge = r#"{"id":"ch_1","amount_captured":1000,"amount_refunded":400,
            "refunds":{"object":"list","has_more":false,"data":[{"id":"re_1","amount":400,
            "currency":"usd","created":1,"status":"succeeded","payment_intent":"pi_1"}]}}"#;
        let EventKind::Modification(r) = mapped(event("charge.refunded", charge).as_bytes()) else {
            panic!("charge.refunded")
        };
        assert_eq!(
            (r.modification.as_str(), r.payment.as_str(), r.kind),
            ("re_1", "pi_1", ModificationKind::Refund)
        );
        // A refund of no PaymentIntent can't name its payment.
        let orphan =
            r#"{"id":"re_2","amount":1,"currency":"usd","created":1,"status":"succeeded"}"#;
        assert!(
            kind(event("refund.updated", orphan).as_bytes())
                .unwrap()
                .is_err()
        );
    }

    #[test]
    fn payment_events_carry_the_payment_s_metadata() {
        let intent = r#"{"id":"pi_1","object":"payment_intent","amount":1000,"currency":"usd",
            "created":1,"status":"succeeded","amount_received":1000,"latest_charge":"ch_1",
            "metadata":{"crm_transaction_id":"42"}}"#;
        let EventKind::Payment(u) = mapped(event("payment_intent.succeeded", intent).as_bytes())
        else {
            panic!("payment_intent.succeeded")
        };
        assert_eq!(
            (u.payment.as_str(), u.status),
            ("pi_1", PaymentStatus::Succeeded)
        );
        assert_eq!(u.amount_captured, Some(1000));
        assert_eq!(u.metadata, [("crm_transaction_id".into(), "42".into())]);
        assert!(u.decline.is_none() && u.fee.is_none());
        let authorized = intent.replace("\"succeeded\"", "\"requires_capture\"");
        let EventKind::Payment(u) =
            mapped(event("payment_intent.amount_capturable_updated", &authorized).as_bytes())
        else {
            panic!("payment_intent.amount_capturable_updated")
        };
        assert_eq!(u.status, PaymentStatus::RequiresCapture);
        let canceled = intent.replace("\"succeeded\"", "\"canceled\"");
        let EventKind::Payment(u) = mapped(event("payment_intent.canceled", &canceled).as_bytes())
        else {
            panic!("payment_intent.canceled")
        };
        assert_eq!(u.status, PaymentStatus::Canceled);
        // A created intent says nothing the host acts on.
        assert!(matches!(
            mapped(event("payment_intent.created", intent).as_bytes()),
            EventKind::Other(t) if t == "payment_intent.created"
        ));
    }

    #[test]
    fn refunds_are_modifications_and_attached_cards_are_stored_cards() {
        let refund = r#"{"id":"re_1","object":"refund","amount":500,"currency":"usd","created":1,
            "status":"pending","payment_intent":"pi_1"}"#;
        let EventKind::Modification(m) = mapped(event("refund.created", refund).as_bytes()) else {
            panic!("refund.created")
        };
        assert_eq!(
            (m.kind, m.status),
            (ModificationKind::Refund, ModificationStatus::Pending)
        );
        let failed = refund.replace("\"pending\"", "\"failed\"").replace(
            "\"payment_intent\"",
            "\"failure_reason\":\"lost_or_stolen_card\",\"payment_intent\"",
        );
        let EventKind::Modification(m) = mapped(event("refund.failed", &failed).as_bytes()) else {
            panic!("refund.failed")
        };
        assert_eq!(m.status, ModificationStatus::Failed);
        assert_eq!(m.reason.as_deref(), Some("lost_or_stolen_card"));

        let pm = r#"{"id":"pm_1","object":"payment_method","type":"card","customer":"cus_1",
            "card":{"brand":"visa","last4":"4242","exp_month":12,"exp_year":2030,"funding":"debit"}}"#;
        let EventKind::CardStored(card) = mapped(event("payment_method.attached", pm).as_bytes())
        else {
            panic!("payment_method.attached")
        };
        assert_eq!(
            (card.id.as_str(), card.customer.as_str()),
            ("pm_1", "cus_1")
        );
        assert!(!card.is_default);
        let detached = pm.replace("\"cus_1\"", "null");
        assert!(matches!(
            mapped(event("payment_method.attached", &detached).as_bytes()),
            EventKind::Other(_)
        ));
    }

    #[test]
    fn malformed_events_are_rejected_with_what_is_missing() {
        let reason = |body: &str| match kind(body.as_bytes()) {
            Err(Rejection::Malformed(reason)) => reason,
            other => panic!("{other:?}"),
        };
        let no_id = event("invoice.paid", "{}").replace(r#""id":"evt_1","#, "");
        assert!(reason(&no_id).contains("missing field `id`"));
        let empty_id = event("invoice.paid", "{}").replace("evt_1", "");
        assert!(reason(&empty_id).contains("invalid value"));
        assert!(reason(&event("invoice.paid", "[1]")).contains("not an object"));
        assert!(reason(&event("invoice.paid", "null")).contains("not an object"));
        assert!(reason("not json").starts_with("event: "));
        let no_amount = r#"{"id":"pi_1","currency":"usd","created":1,"status":"succeeded"}"#;
        let why = reason(&event("payment_intent.succeeded", no_amount));
        assert!(why.contains("data.object: missing field `amount`"), "{why}");
        // Types the contract doesn't model: only the envelope is read.
        assert!(matches!(
            mapped(event("customer.created", r#"{"id":"cus_1"}"#).as_bytes()),
            EventKind::Other(t) if t == "customer.created"
        ));
    }

    #[test]
    fn hostile_nesting_is_an_error_not_a_stack_overflow() {
        for deep in ["[".repeat(100_000), "{\"a\":".repeat(100_000)] {
            let body = event("customer.created", &format!(r#"{{"x":{deep}}}"#));
            assert!(kind(body.as_bytes()).is_err());
            let body = format!(r#"{{"id":"evt_1","type":"x","created":1,"extra":{deep}}}"#);
            assert!(kind(body.as_bytes()).is_err());
        }
    }
}
