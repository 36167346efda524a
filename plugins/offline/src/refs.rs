//! The reference scheme (see the crate documentation), input validation and error helpers.

use omnicrm_gateway_sdk::charging::CaptureMode;
#[cfg(feature = "invoicing")]
use omnicrm_gateway_sdk::invoicing::{CollectionMethod, InvoiceStatus};
#[cfg(any(feature = "invoicing", feature = "metrics"))]
use omnicrm_gateway_sdk::types::PageRequest;
use omnicrm_gateway_sdk::types::{GatewayError, Money};

use crate::cards::{self, TestCard};

/// The largest amount accepted, in minor units (Stripe's limit for a single charge).
pub const MAX_AMOUNT: i64 = 99_999_999;

/// FNV-1a, 64 bits, over `parts` separated by NUL bytes. Deterministic, not cryptographic.
pub fn hash(parts: &[&str]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, part) in parts.iter().enumerate() {
        let sep: &[u8] = if i == 0 { b"" } else { b"\0" };
        for &b in sep.iter().chain(part.as_bytes()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// The current wall-clock time in seconds since the Unix epoch (used only for `created` fields
/// and the webhook tolerance; never encoded in a reference).
pub fn now() -> i64 {
    // `std` reads `wasi:clocks/wall-clock`, which every WASI host provides.
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// `gateway-error::invalid-input` on `field`.
pub fn invalid(field: &str, message: impl Into<String>) -> GatewayError {
    GatewayError::invalid_input(field, message)
}

/// `gateway-error::not-found` of a `kind` object.
pub fn not_found(kind: &str, id: &str) -> GatewayError {
    GatewayError::not_found(kind, id)
}

/// Checks a page request's limit: 1 to 100.
#[cfg(any(feature = "invoicing", feature = "metrics"))]
pub fn check_page(page: &PageRequest) -> Result<(), GatewayError> {
    if !(1..=100).contains(&page.limit) {
        return Err(invalid("limit", "must be between 1 and 100"));
    }
    Ok(())
}

/// Checks an idempotency key: 1 to 200 characters of `[A-Za-z0-9._:-]`.
pub fn check_key(key: &str) -> Result<(), GatewayError> {
    let ok = (1..=200).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "idempotency-key",
            "must be 1 to 200 characters of [A-Za-z0-9._:-]",
        ))
    }
}

/// Checks a currency code: three upper-case ASCII letters.
pub fn check_currency(field: &str, currency: &str) -> Result<(), GatewayError> {
    if currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("{currency:?} is not an upper-case ISO 4217 code"),
        ))
    }
}

/// Checks a charge amount: positive, at most [`MAX_AMOUNT`], in a valid currency.
pub fn check_money(money: &Money) -> Result<(), GatewayError> {
    if !(1..=MAX_AMOUNT).contains(&money.amount) {
        return Err(invalid(
            "amount",
            format!("must be between 1 and {MAX_AMOUNT} minor units"),
        ));
    }
    check_currency("currency", &money.currency)
}

/// Checks metadata against Stripe's limits: 50 unique keys of 1 to 40 characters, values of at
/// most 500 characters.
pub fn check_metadata(field: &str, metadata: &[(String, String)]) -> Result<(), GatewayError> {
    if metadata.len() > 50 {
        return Err(invalid(field, "at most 50 keys"));
    }
    for (i, (key, value)) in metadata.iter().enumerate() {
        if key.is_empty() || key.chars().count() > 40 {
            return Err(invalid(
                field,
                format!("key {key:?} must have 1 to 40 characters"),
            ));
        }
        if value.chars().count() > 500 {
            return Err(invalid(
                field,
                format!("value of {key:?} is longer than 500 characters"),
            ));
        }
        if metadata[..i].iter().any(|(k, _)| k == key) {
            return Err(invalid(field, format!("key {key:?} appears twice")));
        }
    }
    Ok(())
}

fn is_hash(s: &str) -> bool {
    s.len() == 16 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Parses a decimal integer written without sign, leading `+` or leading zeros (so that every
/// value has exactly one spelling in a reference).
fn parse_canonical(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
        && s != "-0";
    if canonical { s.parse().ok() } else { None }
}

/// `off_cus_<hash>`: the hash of the CRM customer id.
pub fn customer_ref(crm_customer_id: &str) -> String {
    format!("off_cus_{}", hash(&[crm_customer_id]))
}

/// The hash inside a customer reference, or `not-found` on `customer`.
pub fn parse_customer(customer: &str) -> Result<&str, GatewayError> {
    match customer.strip_prefix("off_cus_") {
        Some(h) if is_hash(h) => Ok(h),
        _ => Err(not_found("customer", customer)),
    }
}

/// A stored card: which test card, and whose (the customer hash).
pub struct CardRef {
    pub card: &'static TestCard,
    pub customer: String,
}

impl CardRef {
    /// `off_card_<brand>_<last4>_<kind>_<customer hash>`.
    pub fn encode(&self) -> String {
        format!(
            "off_card_{}_{}_{}_{}",
            self.card.brand, self.card.last4, self.card.kind, self.customer
        )
    }

    /// Parses a card reference, or `not-found` on `card`.
    pub fn parse(card: &str) -> Result<CardRef, GatewayError> {
        let parsed = card.strip_prefix("off_card_").and_then(|rest| {
            let [brand, last4, kind, customer] = split_n::<4>(rest)?;
            let test_card = cards::by_kind(kind)?;
            (test_card.brand == brand && test_card.last4 == last4 && is_hash(customer)).then(|| {
                CardRef {
                    card: test_card,
                    customer: customer.to_string(),
                }
            })
        });
        parsed.ok_or_else(|| not_found("card", card))
    }

    /// Parses a card reference that must belong to the customer whose hash is `customer`.
    pub fn parse_owned(card: &str, customer: &str) -> Result<CardRef, GatewayError> {
        let parsed = CardRef::parse(card)?;
        if parsed.customer == customer {
            Ok(parsed)
        } else {
            Err(not_found("card", card))
        }
    }

    /// The customer reference of the card's owner.
    pub fn customer_ref(&self) -> String {
        format!("off_cus_{}", self.customer)
    }
}

/// Splits `s` at `_` into exactly `N` non-empty parts.
fn split_n<const N: usize>(s: &str) -> Option<[&str; N]> {
    let parts: Vec<&str> = s.split('_').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    parts.try_into().ok()
}

/// A payment, as its reference names it: what it was created with, never where it stands now
/// (see the crate documentation).
pub struct PaymentRef {
    pub capture: CaptureMode,
    pub amount: i64,
    pub currency: String,
    pub card: CardRef,
    pub nonce: String,
}

impl PaymentRef {
    /// `off_pay_<auto|manual>_<amount>_<currency>_<card kind>_<customer hash>_<nonce>`.
    pub fn encode(&self) -> String {
        format!(
            "off_pay_{}_{}_{}_{}_{}_{}",
            capture_word(self.capture),
            self.amount,
            self.currency,
            self.card.card.kind,
            self.card.customer,
            self.nonce
        )
    }

    /// Parses a payment reference this gateway could have issued, or `not-found` on `payment`.
    pub fn parse(payment: &str) -> Result<PaymentRef, GatewayError> {
        let parsed = payment.strip_prefix("off_pay_").and_then(|rest| {
            let [capture, amount, currency, kind, customer, nonce] = split_n::<6>(rest)?;
            let capture = [CaptureMode::Automatic, CaptureMode::Manual]
                .into_iter()
                .find(|c| capture_word(*c) == capture)?;
            let amount = parse_canonical(amount).filter(|a| (1..=MAX_AMOUNT).contains(a))?;
            let card = cards::by_kind(kind)?;
            let valid =
                check_currency("currency", currency).is_ok() && is_hash(customer) && is_hash(nonce);
            valid.then(|| PaymentRef {
                capture,
                amount,
                currency: currency.to_string(),
                card: CardRef {
                    card,
                    customer: customer.to_string(),
                },
                nonce: nonce.to_string(),
            })
        });
        parsed.ok_or_else(|| not_found("payment", payment))
    }
}

/// The spelling of a capture mode in a payment reference.
fn capture_word(capture: CaptureMode) -> &'static str {
    match capture {
        CaptureMode::Automatic => "auto",
        CaptureMode::Manual => "manual",
    }
}

/// A refund: its amount, and the payment refunded (whose reference it embeds whole, so that a
/// lookup can name it).
pub struct RefundRef {
    pub amount: i64,
    pub payment: PaymentRef,
    pub nonce: String,
}

impl RefundRef {
    /// `off_re_<amount>_<nonce>_<payment reference>`.
    pub fn encode(&self) -> String {
        format!(
            "off_re_{}_{}_{}",
            self.amount,
            self.nonce,
            self.payment.encode()
        )
    }

    /// Parses a refund reference this gateway could have issued, or `not-found` on `refund`.
    pub fn parse(refund: &str) -> Result<RefundRef, GatewayError> {
        let parsed = refund.strip_prefix("off_re_").and_then(|rest| {
            let (amount, rest) = rest.split_once('_')?;
            let (nonce, payment) = rest.split_once('_')?;
            let payment = PaymentRef::parse(payment).ok()?;
            let amount = parse_canonical(amount).filter(|a| (1..=payment.amount).contains(a))?;
            is_hash(nonce).then(|| RefundRef {
                amount,
                payment,
                nonce: nonce.to_string(),
            })
        });
        parsed.ok_or_else(|| not_found("refund", refund))
    }
}

/// The spelling of an invoice status in a reference.
#[cfg(feature = "invoicing")]
fn invoice_status_word(status: InvoiceStatus) -> &'static str {
    match status {
        InvoiceStatus::Draft => "draft",
        InvoiceStatus::Open => "open",
        InvoiceStatus::Paid => "paid",
        InvoiceStatus::Void => "void",
        InvoiceStatus::Uncollectible => "uncollectible",
    }
}

/// An invoice snapshot, as encoded in its reference.
#[cfg(feature = "invoicing")]
pub struct InvoiceRef {
    pub status: InvoiceStatus,
    pub currency: String,
    pub total: i64,
    pub paid: i64,
    pub collection: CollectionMethod,
    pub days_until_due: Option<u32>,
    pub customer: String,
    pub nonce: String,
}

/// The largest `days-until-due` accepted.
#[cfg(feature = "invoicing")]
pub const MAX_DAYS_UNTIL_DUE: u32 = 3650;

#[cfg(feature = "invoicing")]
impl InvoiceRef {
    /// `off_in_<status>_<currency>_<total>_<paid>_<auto|send>_<days|none>_<customer hash>_<nonce>`.
    pub fn encode(&self) -> String {
        let collection = match self.collection {
            CollectionMethod::ChargeAutomatically => "auto",
            CollectionMethod::SendInvoice => "send",
        };
        let days = self
            .days_until_due
            .map_or_else(|| "none".to_string(), |d| d.to_string());
        format!(
            "off_in_{}_{}_{}_{}_{}_{}_{}_{}",
            invoice_status_word(self.status),
            self.currency,
            self.total,
            self.paid,
            collection,
            days,
            self.customer,
            self.nonce
        )
    }

    /// Parses an invoice reference this gateway could have issued, or `not-found` on `invoice`.
    pub fn parse(invoice: &str) -> Result<InvoiceRef, GatewayError> {
        let parsed = invoice.strip_prefix("off_in_").and_then(|rest| {
            let [
                status,
                currency,
                total,
                paid,
                collection,
                days,
                customer,
                nonce,
            ] = split_n::<8>(rest)?;
            let status = [
                InvoiceStatus::Draft,
                InvoiceStatus::Open,
                InvoiceStatus::Paid,
                InvoiceStatus::Void,
                InvoiceStatus::Uncollectible,
            ]
            .into_iter()
            .find(|s| invoice_status_word(*s) == status)?;
            let total = parse_canonical(total).filter(|t| t.abs() <= MAX_AMOUNT)?;
            let paid = parse_canonical(paid)?;
            let expected_paid = if status == InvoiceStatus::Paid {
                total.max(0)
            } else {
                0
            };
            let collection = match collection {
                "auto" => CollectionMethod::ChargeAutomatically,
                "send" => CollectionMethod::SendInvoice,
                _ => return None,
            };
            let days_until_due = match (collection, days) {
                (CollectionMethod::ChargeAutomatically, "none") => None,
                (CollectionMethod::SendInvoice, d) => {
                    let d = parse_canonical(d)?;
                    Some(u32::try_from(d).ok().filter(|d| *d <= MAX_DAYS_UNTIL_DUE)?)
                }
                _ => return None,
            };
            let valid = paid == expected_paid
                && check_currency("currency", currency).is_ok()
                && is_hash(customer)
                && is_hash(nonce);
            valid.then(|| InvoiceRef {
                status,
                currency: currency.to_string(),
                total,
                paid,
                collection,
                days_until_due,
                customer: customer.to_string(),
                nonce: nonce.to_string(),
            })
        });
        parsed.ok_or_else(|| not_found("invoice", invoice))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_round_trip_and_refuse_what_was_not_issued() {
        let customer = hash(&["crm-1"]);
        let payment = PaymentRef {
            capture: CaptureMode::Manual,
            amount: 1050,
            currency: "EUR".into(),
            card: CardRef {
                card: cards::by_token("tok_visa").unwrap(),
                customer: customer.clone(),
            },
            nonce: hash(&["n"]),
        };
        let encoded = payment.encode();
        assert!(encoded.starts_with("off_pay_manual_1050_EUR_visa_"));
        let parsed = PaymentRef::parse(&encoded).unwrap();
        assert_eq!(parsed.encode(), encoded);
        let refund = RefundRef {
            amount: 50,
            payment: parsed,
            nonce: hash(&["r"]),
        };
        let encoded_refund = refund.encode();
        assert!(encoded_refund.len() <= 255);
        let parsed = RefundRef::parse(&encoded_refund).unwrap();
        assert_eq!(
            (parsed.amount, parsed.payment.encode()),
            (50, encoded.clone())
        );
        for bad in [
            encoded.replace("manual", "later"),
            encoded.replace("1050", "01050"),
            encoded.replace("1050", "0"),
            encoded.replace("EUR", "eur"),
            encoded.replace("_visa_", "_nocard_"),
            format!("{encoded}_extra"),
            "off_pay_".into(),
        ] {
            assert!(PaymentRef::parse(&bad).is_err(), "{bad}");
        }
        for bad in [
            encoded_refund.replace("off_re_50_", "off_re_1051_"),
            encoded_refund.replace("off_re_50_", "off_re_-5_"),
            format!("off_re_50_{}", hash(&["r"])),
        ] {
            assert!(RefundRef::parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn canonical_numbers_only() {
        assert_eq!(parse_canonical("0"), Some(0));
        assert_eq!(parse_canonical("-12"), Some(-12));
        for bad in ["", "-", "-0", "+1", "01", " 1", "1e3"] {
            assert_eq!(parse_canonical(bad), None, "{bad}");
        }
    }
}
