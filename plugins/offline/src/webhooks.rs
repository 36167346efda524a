//! `webhooks`: `offline-signature` verification and the offline event format.

use crate::Offline;
use crate::refs::now;
use omnicrm_gateway_sdk::exports::omnicrm::payments::charging::{PaymentStatus, RefundStatus};
use omnicrm_gateway_sdk::exports::omnicrm::payments::invoicing::InvoiceStatus;
use omnicrm_gateway_sdk::exports::omnicrm::payments::webhooks::{
    CardUpdate, DisputeStatus, DisputeUpdate, EventKind, GatewayEvent, Guest, InvoiceUpdate,
    PaymentUpdate, RefundUpdate, Rejection,
};
use omnicrm_gateway_sdk::omnicrm::payments::config;
use omnicrm_gateway_sdk::omnicrm::payments::credentials::{self, CredentialError, MacAlgorithm};
use omnicrm_gateway_sdk::omnicrm::payments::types::{Decline, Money};
use serde_json::{Map, Value};

/// The signature header.
const HEADER: &str = "offline-signature";
/// The secret the MAC is computed with.
const SECRET: &str = "webhook-secret";
/// The default tolerance, in seconds.
const DEFAULT_TOLERANCE: u64 = 300;

impl Guest for Offline {
    fn verify_event(
        headers: Vec<(String, Vec<u8>)>,
        body: Vec<u8>,
    ) -> Result<GatewayEvent, Rejection> {
        let values: Vec<&[u8]> = headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case(HEADER))
            .map(|(_, v)| v.as_slice())
            .collect();
        if values.is_empty() {
            return Err(Rejection::MissingSignature);
        }
        let mut verified_at = None;
        for value in values {
            let (timestamp, signatures) = parse_header(value).ok_or(Rejection::BadSignature)?;
            let mut signed = format!("{timestamp}.").into_bytes();
            signed.extend_from_slice(&body);
            let mac = credentials::compute_mac(SECRET, MacAlgorithm::HmacSha256, &signed).map_err(
                |e| match e {
                    CredentialError::UnknownSecret(_) => {
                        Rejection::NotConfigured(format!("no secret named {SECRET} is configured"))
                    }
                    CredentialError::Unavailable(_) => {
                        Rejection::NotConfigured(format!("the secret {SECRET} is not available"))
                    }
                },
            )?;
            if signatures.iter().any(|s| constant_time_eq(s, &mac)) {
                verified_at = Some(timestamp);
                break;
            }
        }
        let timestamp = verified_at.ok_or(Rejection::BadSignature)?;
        let tolerance = match config::get("webhook-tolerance-secs") {
            None => DEFAULT_TOLERANCE,
            Some(v) => v.parse::<u64>().map_err(|_| {
                Rejection::NotConfigured(
                    "webhook-tolerance-secs is not a whole number of seconds".into(),
                )
            })?,
        };
        if tolerance > 0 && now().abs_diff(timestamp) > tolerance {
            return Err(Rejection::OutsideTolerance);
        }
        parse_event(&body).map_err(Rejection::Malformed)
    }
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

/// Compares two byte strings in time independent of where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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

    fn int<T: TryFrom<i64>>(&self, name: &str) -> Result<T, String> {
        self.object
            .get(name)
            .ok_or_else(|| format!("{} is missing", self.field(name)))?
            .as_i64()
            .and_then(|i| T::try_from(i).ok())
            .ok_or_else(|| format!("{} must be an integer in range", self.field(name)))
    }

    fn money(&self) -> Result<Money, String> {
        Ok(Money {
            amount: self.int("amount")?,
            currency: self.str("currency")?,
        })
    }

    fn object(&self, name: &str) -> Result<Option<&'a Map<String, Value>>, String> {
        match self.object.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(o)) => Ok(Some(o)),
            Some(_) => Err(format!("{} must be an object", self.field(name))),
        }
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
        "payment.succeeded" | "payment.failed" => {
            let data = data()?;
            let succeeded = gateway_type == "payment.succeeded";
            let decline = match data.object("decline")? {
                Some(decline) if !succeeded => {
                    let decline = Fields {
                        object: decline,
                        path: "data.decline.",
                    };
                    Some(Decline {
                        code: decline.str("code")?,
                        decline_reason: decline.opt_str("reason")?,
                        customer_message: decline
                            .opt_str("message")?
                            .unwrap_or_else(|| "Your card was declined.".into()),
                        payment: Some(data.str("payment")?),
                        request_id: None,
                    })
                }
                _ => None,
            };
            let update = PaymentUpdate {
                payment: data.str("payment")?,
                status: if succeeded {
                    PaymentStatus::Succeeded
                } else {
                    PaymentStatus::Failed
                },
                amount: data.money()?,
                decline,
            };
            if succeeded {
                EventKind::PaymentSucceeded(update)
            } else {
                EventKind::PaymentFailed(update)
            }
        }
        "refund.created" | "refund.updated" => {
            let data = data()?;
            let status = match data.opt_str("status")?.as_deref() {
                None | Some("succeeded") => RefundStatus::Succeeded,
                Some("pending") => RefundStatus::Pending,
                Some("requires-action") => RefundStatus::RequiresAction,
                Some("failed") => RefundStatus::Failed,
                Some("canceled") => RefundStatus::Canceled,
                Some(other) => return Err(format!("data.status {other:?} is not a refund status")),
            };
            EventKind::Refund(RefundUpdate {
                refund: data.str("refund")?,
                payment: data.opt_str("payment")?,
                amount: data.money()?,
                status,
            })
        }
        "dispute.opened" | "dispute.closed" => {
            let data = data()?;
            let status = match data.str("status")?.as_str() {
                "warning" => DisputeStatus::Warning,
                "open" => DisputeStatus::Open,
                "won" => DisputeStatus::Won,
                "lost" => DisputeStatus::Lost,
                other => return Err(format!("data.status {other:?} is not a dispute status")),
            };
            let update = DisputeUpdate {
                dispute: data.str("dispute")?,
                payment: data.opt_str("payment")?,
                amount: data.money()?,
                reason: data.str("reason")?,
                status,
            };
            if gateway_type == "dispute.opened" {
                EventKind::DisputeOpened(update)
            } else {
                EventKind::DisputeClosed(update)
            }
        }
        "invoice.paid" | "invoice.payment_failed" => {
            let data = data()?;
            let paid = gateway_type == "invoice.paid";
            let update = InvoiceUpdate {
                invoice: data.str("invoice")?,
                status: if paid {
                    InvoiceStatus::Paid
                } else {
                    InvoiceStatus::Open
                },
                amount_paid: data.int("amount_paid")?,
            };
            if paid {
                EventKind::InvoicePaid(update)
            } else {
                EventKind::InvoicePaymentFailed(update)
            }
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
        _ => EventKind::Other(gateway_type.clone()),
    };
    Ok(GatewayEvent {
        id,
        created,
        gateway_type,
        kind,
    })
}
