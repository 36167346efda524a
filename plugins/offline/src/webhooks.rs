//! `webhooks`: `offline-signature` verification through the host's `verify-mac`, and the offline
//! event format (see the crate documentation).

use omnicrm_gateway_sdk::charging::{ModificationStatus, PaymentStatus};
use omnicrm_gateway_sdk::mac::{self, MacAlgorithm, MacKey};
use omnicrm_gateway_sdk::settings;
use omnicrm_gateway_sdk::types::{Decline, DeclineCategory, InvoiceStatus, Money};
use omnicrm_gateway_sdk::webhooks::{
    CardUpdate, DisputeStatus, DisputeUpdate, EventKind, GatewayEvent, InvoiceUpdate,
    ModificationKind, ModificationUpdate, PaymentUpdate, Rejection, WebhookOutcome, WebhookRequest,
    WebhookResponse,
};
use serde_json::{Map, Value};

use crate::cards::decline_category;
use crate::refs::{CardRef, now};
use crate::tokens::stored_card;

/// The signature header.
const HEADER: &str = "offline-signature";
/// The secret the MAC is computed with.
const SECRET: &str = "webhook-secret";
/// The default tolerance, in seconds.
const DEFAULT_TOLERANCE: u64 = 300;
/// What the gateway is answered once the events are recorded.
const RECEIVED: &str = r#"{"received":true}"#;

pub fn handle_webhook(request: WebhookRequest) -> Result<WebhookOutcome, Rejection> {
    if request.method != "POST" {
        return Err(Rejection::Malformed(format!(
            "expected a POST, not a {}",
            request.method
        )));
    }
    let values: Vec<&[u8]> = request.header_values(HEADER).collect();
    if values.is_empty() {
        return Err(Rejection::MissingSignature);
    }
    let key = MacKey::raw(SECRET);
    let mut verified_at = None;
    for value in values {
        let (timestamp, signatures) = parse_header(value).ok_or(Rejection::BadSignature)?;
        let mut signed = format!("{timestamp}.").into_bytes();
        signed.extend_from_slice(&request.body);
        let valid = mac::verify_any(&key, MacAlgorithm::HmacSha256, &signed, &signatures)
            .map_err(|e| Rejection::from_credential_error(SECRET, &e))?;
        if valid {
            verified_at = Some(timestamp);
            break;
        }
    }
    let timestamp = verified_at.ok_or(Rejection::BadSignature)?;
    let tolerance =
        settings::get_or("webhook-tolerance-secs", DEFAULT_TOLERANCE).map_err(|_| {
            Rejection::NotConfigured(
                "webhook-tolerance-secs is not a whole number of seconds".into(),
            )
        })?;
    if tolerance > 0 && now().abs_diff(timestamp) > tolerance {
        return Err(Rejection::OutsideTolerance);
    }
    let event = parse_event(&request.body).map_err(Rejection::Malformed)?;
    Ok(WebhookOutcome {
        events: vec![event],
        response: WebhookResponse::json(200, RECEIVED),
    })
}

/// Parses `t=<seconds>,v1=<hex>[,v1=<hex>...]` (other keys are ignored) into the timestamp and
/// the decoded signatures; none when there is no valid timestamp or no valid `v1`.
fn parse_header(value: &[u8]) -> Option<(i64, Vec<Vec<u8>>)> {
    let value = std::str::from_utf8(value).ok()?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for item in value.split(',') {
        match item.trim().split_once('=') {
            Some(("t", t)) => timestamp = Some(t.parse::<i64>().ok()?),
            Some(("v1", hex)) => signatures.extend(decode_hex(hex)),
            _ => {}
        }
    }
    if signatures.is_empty() {
        None
    } else {
        Some((timestamp?, signatures))
    }
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Field access on a JSON object with messages that name the field.
struct Fields<'a> {
    object: &'a Map<String, Value>,
    path: &'a str,
}

impl<'a> Fields<'a> {
    fn field(&self, name: &str) -> String {
        format!("{}{name}", self.path)
    }

    fn opt_str(&self, name: &str) -> Result<Option<String>, String> {
        match self.object.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("{} must be a string", self.field(name))),
        }
    }

    fn str(&self, name: &str) -> Result<String, String> {
        self.opt_str(name)?
            .ok_or_else(|| format!("{} is missing", self.field(name)))
    }

    fn opt_int<T: TryFrom<i64>>(&self, name: &str) -> Result<Option<T>, String> {
        match self.object.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => value
                .as_i64()
                .and_then(|i| T::try_from(i).ok())
                .map(Some)
                .ok_or_else(|| format!("{} must be an integer in range", self.field(name))),
        }
    }

    fn int<T: TryFrom<i64>>(&self, name: &str) -> Result<T, String> {
        self.opt_int(name)?
            .ok_or_else(|| format!("{} is missing", self.field(name)))
    }

    fn opt_bool(&self, name: &str) -> Result<Option<bool>, String> {
        match self.object.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(format!("{} must be true or false", self.field(name))),
        }
    }

    fn money(&self) -> Result<Money, String> {
        Ok(Money {
            amount: self.int("amount")?,
            currency: self.str("currency")?,
        })
    }

    /// `amount` and `currency` when `amount` is there.
    fn opt_money(&self) -> Result<Option<Money>, String> {
        match self.opt_int::<i64>("amount")? {
            None => Ok(None),
            Some(_) => self.money().map(Some),
        }
    }

    fn object(&self, name: &str) -> Result<Option<&'a Map<String, Value>>, String> {
        match self.object.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(o)) => Ok(Some(o)),
            Some(_) => Err(format!("{} must be an object", self.field(name))),
        }
    }

    /// An object of string values, as key/value pairs in the order given; empty when absent.
    fn metadata(&self, name: &str) -> Result<Vec<(String, String)>, String> {
        let Some(object) = self.object(name)? else {
            return Ok(Vec::new());
        };
        object
            .iter()
            .map(|(k, v)| match v {
                Value::String(v) => Ok((k.clone(), v.clone())),
                _ => Err(format!("{}.{k} must be a string", self.field(name))),
            })
            .collect()
    }
}

/// Parses the offline event format (see the crate documentation).
fn parse_event(body: &[u8]) -> Result<GatewayEvent, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(object) = &value else {
        return Err("the event must be a JSON object".into());
    };
    let event = Fields { object, path: "" };
    let id = event.str("id")?;
    if id.is_empty() {
        return Err("id is empty".into());
    }
    let created = event.int("created")?;
    let gateway_type = event.str("type")?;
    let data = || -> Result<Fields<'_>, String> {
        Ok(Fields {
            object: event.object("data")?.ok_or("data is missing")?,
            path: "data.",
        })
    };
    let kind = match gateway_type.as_str() {
        "payment.succeeded" | "payment.authorized" | "payment.failed" | "payment.canceled" => {
            payment_event(&gateway_type, &data()?)?
        }
        "refund.created" | "refund.updated" | "refund.failed" => {
            let data = data()?;
            let status = match data.opt_str("status")?.as_deref() {
                None | Some("succeeded") => ModificationStatus::Succeeded,
                Some("pending" | "requires-action") => ModificationStatus::Pending,
                Some("failed" | "canceled") => ModificationStatus::Failed,
                Some(other) => return Err(format!("data.status {other:?} is not a refund status")),
            };
            EventKind::Modification(ModificationUpdate {
                modification: data.str("refund")?,
                kind: ModificationKind::Refund,
                payment: data.str("payment")?,
                status,
                amount: Some(data.money()?),
                reason: data.opt_str("failure_reason")?,
            })
        }
        "capture.succeeded" | "capture.failed" | "void.succeeded" | "void.failed" => {
            let data = data()?;
            let payment = data.str("payment")?;
            let (kind, outcome) = gateway_type.split_once('.').unwrap_or_default();
            EventKind::Modification(ModificationUpdate {
                modification: payment.clone(),
                kind: if kind == "capture" {
                    ModificationKind::Capture
                } else {
                    ModificationKind::Void
                },
                payment,
                status: if outcome == "succeeded" {
                    ModificationStatus::Succeeded
                } else {
                    ModificationStatus::Failed
                },
                amount: data.opt_money()?,
                reason: data.opt_str("failure_reason")?,
            })
        }
        "dispute.opened" | "dispute.updated" | "dispute.closed" => {
            let data = data()?;
            let status = match data.str("status")?.as_str() {
                "warning" => DisputeStatus::Warning,
                "open" => DisputeStatus::Open,
                "won" => DisputeStatus::Won,
                "lost" => DisputeStatus::Lost,
                other => return Err(format!("data.status {other:?} is not a dispute status")),
            };
            EventKind::Dispute(DisputeUpdate {
                dispute: data.str("dispute")?,
                payment: data.opt_str("payment")?,
                amount: data.money()?,
                reason: data.str("reason")?,
                status,
                evidence_due_by: data.opt_int("evidence_due_by")?,
            })
        }
        "invoice.paid" | "invoice.payment_failed" => {
            let data = data()?;
            let paid = gateway_type == "invoice.paid";
            EventKind::Invoice(InvoiceUpdate {
                invoice: data.str("invoice")?,
                status: if paid {
                    InvoiceStatus::Paid
                } else {
                    InvoiceStatus::Open
                },
                amount_paid: data.int("amount_paid")?,
                payment_failed: !paid,
            })
        }
        "card.updated" => {
            let data = data()?;
            let exp_month: u8 = data.int("exp_month")?;
            if !(1..=12).contains(&exp_month) {
                return Err("data.exp_month must be 1 to 12".into());
            }
            EventKind::CardUpdated(CardUpdate {
                card: data.str("card")?,
                customer: data.opt_str("customer")?,
                exp_month,
                exp_year: data.int("exp_year")?,
                last4: data.str("last4")?,
            })
        }
        "card.stored" => {
            let data = data()?;
            let card = data.str("card")?;
            let card = CardRef::parse(&card)
                .map_err(|_| format!("data.card {card:?} is not a card of this gateway"))?;
            let is_default = data.opt_bool("default")?.unwrap_or(false);
            EventKind::CardStored(stored_card(&card, is_default))
        }
        _ => EventKind::Other(gateway_type.clone()),
    };
    Ok(GatewayEvent {
        id,
        created,
        gateway_type,
        kind,
    })
}

/// A `payment.*` event: the payment's new status, with what the event carries.
fn payment_event(gateway_type: &str, data: &Fields<'_>) -> Result<EventKind, String> {
    let payment = data.str("payment")?;
    let status = match gateway_type {
        "payment.succeeded" => PaymentStatus::Succeeded,
        "payment.authorized" => PaymentStatus::RequiresCapture,
        "payment.failed" => PaymentStatus::Failed,
        _ => PaymentStatus::Canceled,
    };
    let decline = match data.object("decline")? {
        Some(decline) if status == PaymentStatus::Failed => {
            let decline = Fields {
                object: decline,
                path: "data.decline.",
            };
            let code = decline.str("code")?;
            let reason = decline.opt_str("reason")?;
            let category = match decline.opt_str("category")? {
                Some(category) => category_named(&category).ok_or_else(|| {
                    format!("data.decline.category {category:?} is not a category")
                })?,
                None => decline_category(&code, reason.as_deref()),
            };
            let message = decline
                .opt_str("message")?
                .unwrap_or_else(|| "Your card was declined.".into());
            Some(
                Decline::new(category, code, message)
                    .with_reason(reason)
                    .with_payment(Some(payment.clone())),
            )
        }
        _ => None,
    };
    let amount = data.money()?;
    let fee = data.opt_int::<i64>("fee")?.map(|fee| Money {
        amount: fee,
        currency: amount.currency.clone(),
    });
    Ok(EventKind::Payment(PaymentUpdate {
        payment,
        status,
        amount,
        amount_captured: data.opt_int("amount_captured")?,
        decline,
        metadata: data.metadata("metadata")?,
        fee,
        network_transaction_id: data.opt_str("network_transaction_id")?,
    }))
}

/// A decline category by its contract name (`insufficient-funds`, ...).
fn category_named(name: &str) -> Option<DeclineCategory> {
    use DeclineCategory::*;
    Some(match name {
        "insufficient-funds" => InsufficientFunds,
        "expired-card" => ExpiredCard,
        "incorrect-details" => IncorrectDetails,
        "do-not-honor" => DoNotHonor,
        "suspected-fraud" => SuspectedFraud,
        "authentication-required" => AuthenticationRequired,
        "try-again-later" => TryAgainLater,
        "other" => Other,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::refs;

    fn kind(body: &str) -> EventKind {
        parse_event(body.as_bytes()).unwrap().kind
    }

    fn malformed(body: &str) -> String {
        parse_event(body.as_bytes()).unwrap_err()
    }

    #[test]
    fn headers_hold_a_timestamp_and_hex_signatures() {
        let (t, signatures) = parse_header(b"t=1700000000,v1=00ff,v0=zz, v1=0102").unwrap();
        assert_eq!(
            (t, signatures),
            (1_700_000_000, vec![vec![0, 255], vec![1, 2]])
        );
        assert!(parse_header(b"v1=00").is_none());
        assert!(parse_header(b"t=1").is_none());
        assert!(parse_header(b"t=x,v1=00").is_none());
        assert!(parse_header(b"t=1,v1=0").is_none());
        assert!(parse_header(&[0xff, b't']).is_none());
    }

    #[test]
    fn payment_events_carry_status_metadata_and_decline() {
        let EventKind::Payment(u) = kind(
            r#"{"id":"evt_1","created":1,"type":"payment.failed","data":{"payment":"off_pay_x",
               "amount":1050,"currency":"USD","metadata":{"crm_transaction_id":"7"},
               "decline":{"code":"card_declined","reason":"insufficient_funds"}}}"#,
        ) else {
            panic!("payment")
        };
        assert_eq!(u.status, PaymentStatus::Failed);
        assert_eq!(u.metadata, [("crm_transaction_id".into(), "7".into())]);
        let d = u.decline.unwrap();
        assert_eq!(d.category, DeclineCategory::InsufficientFunds);
        assert_eq!(d.payment.as_deref(), Some("off_pay_x"));
        let EventKind::Payment(u) = kind(
            r#"{"id":"evt_2","created":1,"type":"payment.succeeded","data":{"payment":"p",
               "amount":1050,"currency":"USD","amount_captured":1050,"fee":60}}"#,
        ) else {
            panic!("payment")
        };
        assert_eq!(
            (u.status, u.amount_captured),
            (PaymentStatus::Succeeded, Some(1050))
        );
        assert_eq!(u.fee.map(|f| f.amount), Some(60));
        assert!(u.decline.is_none());
        let category = r#"{"id":"e","created":1,"type":"payment.failed","data":{"payment":"p",
            "amount":1,"currency":"USD","decline":{"code":"x","category":"suspected-fraud"}}}"#;
        let EventKind::Payment(u) = kind(category) else {
            panic!("payment")
        };
        assert_eq!(u.decline.unwrap().category, DeclineCategory::SuspectedFraud);
    }

    #[test]
    fn modifications_disputes_invoices_and_cards() {
        let EventKind::Modification(m) = kind(
            r#"{"id":"e","created":1,"type":"refund.updated","data":{"refund":"off_re_1",
               "payment":"p","amount":300,"currency":"USD","status":"pending"}}"#,
        ) else {
            panic!("refund")
        };
        assert_eq!(
            (m.kind, m.status, m.payment.as_str()),
            (ModificationKind::Refund, ModificationStatus::Pending, "p")
        );
        let EventKind::Modification(m) = kind(
            r#"{"id":"e","created":1,"type":"capture.failed","data":{"payment":"p",
               "failure_reason":"expired"}}"#,
        ) else {
            panic!("capture")
        };
        assert_eq!(
            (m.kind, m.status),
            (ModificationKind::Capture, ModificationStatus::Failed)
        );
        assert!(m.modification == "p" && m.amount.is_none());
        let EventKind::Dispute(d) = kind(
            r#"{"id":"e","created":1,"type":"dispute.opened","data":{"dispute":"du","amount":7500,
               "currency":"USD","reason":"fraudulent","status":"open","evidence_due_by":1800000000}}"#,
        ) else {
            panic!("dispute")
        };
        assert_eq!(
            (d.status, d.evidence_due_by),
            (DisputeStatus::Open, Some(1_800_000_000))
        );
        let EventKind::Invoice(i) = kind(
            r#"{"id":"e","created":1,"type":"invoice.payment_failed","data":{"invoice":"in",
               "amount_paid":0}}"#,
        ) else {
            panic!("invoice")
        };
        assert!(i.payment_failed && i.status == InvoiceStatus::Open);
        let card = crate::tokens::store_card(omnicrm_gateway_sdk::tokens::StoreCardRequest {
            customer: refs::customer_ref("crm-1"),
            token: "tok_visa".into(),
            make_default: false,
            return_url: None,
            idempotency_key: "k".into(),
        })
        .unwrap();
        let body = format!(
            r#"{{"id":"e","created":1,"type":"card.stored","data":{{"card":"{}","default":true}}}}"#,
            card.id
        );
        let EventKind::CardStored(stored) = kind(&body) else {
            panic!("card.stored")
        };
        assert_eq!((stored.id, stored.is_default), (card.id, true));
        assert!(matches!(
            kind(r#"{"id":"e","created":1,"type":"something.else"}"#),
            EventKind::Other(t) if t == "something.else"
        ));
    }

    #[test]
    fn malformed_events_name_the_field() {
        assert!(malformed("[]").contains("JSON object"));
        assert!(malformed(r#"{"created":1,"type":"x"}"#).contains("id is missing"));
        assert!(malformed(r#"{"id":"","created":1,"type":"x"}"#).contains("id is empty"));
        assert!(
            malformed(
                r#"{"id":"e","created":1,"type":"refund.created","data":{"refund":"r",
                "amount":1,"currency":"USD"}}"#
            )
            .contains("data.payment is missing")
        );
        assert!(
            malformed(r#"{"id":"e","created":1,"type":"card.stored","data":{"card":"pm_1"}}"#)
                .contains("not a card of this gateway")
        );
        assert!(
            malformed(
                r#"{"id":"e","created":1,"type":"payment.succeeded","data":{"payment":"p",
                "amount":1,"currency":"USD","metadata":{"k":1}}}"#
            )
            .contains("data.metadata.k must be a string")
        );
    }
}
