//! What a plugin returns, checked before the host hands it on: against the request it answers
//! (a payment's amount and currency are the charge's, a refund's the ones asked, a stored card
//! belongs to the customer asked for) and against the contract's rules (references of 1 to 255
//! printable ASCII bytes, `0 <= captured <= amount`, `refunded <= captured`, no decline on a
//! succeeded payment, four-digit `last4`, months 1 to 12, bounded text without control
//! characters). A violation names the field and what is wrong, never the offending text.
//!
//! The checks are field comparisons and one pass over each string: cheap next to the call.
//! A plugin's errors are not refused but made safe: their text is escaped and bounded
//! ([`sanitize_error`], [`sanitize_rejection`]).
//!
//! One module per part of the contract: `payments` (tokens and charging), `reports`
//! (invoicing, metrics, webhooks, the description).

mod payments;
mod reports;

pub(crate) use payments::{
    capture, card_session, charge, customer, payment, refund, refund_of, stored_card, stored_cards,
    void,
};
pub(crate) use reports::{
    balance_page, gateway_info, invoice, invoice_page, summary, webhook_outcome,
};

use crate::contract::{GatewayError, Metadata, Money, Rejection};
use crate::error::CallError;
use crate::text::{escape_controls, truncate};

/// Longest reference (`payment-ref`, ...), as the contract says.
const MAX_REFERENCE: usize = 255;
/// Longest short text: codes, names, brands, countries, kinds.
const MAX_LABEL: usize = 255;
/// Longest free text: descriptions, messages, metadata values, JSON payloads.
const MAX_TEXT: usize = 64 * 1024;
/// Longest URL.
const MAX_URL: usize = 8 * 1024;
/// Most metadata entries.
const MAX_METADATA: usize = 256;
/// Longest text kept in a plugin's error.
const MAX_ERROR_TEXT: usize = 1024;

/// A value that breaks the contract: the field (as the contract names it) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Violation {
    pub(crate) field: String,
    pub(crate) problem: String,
}

impl From<Violation> for CallError {
    fn from(v: Violation) -> Self {
        CallError::InvalidOutput {
            field: v.field,
            problem: v.problem,
        }
    }
}

/// The result of a check.
pub(crate) type Checked = Result<(), Violation>;

fn violation(field: impl Into<String>, problem: impl Into<String>) -> Checked {
    Err(Violation {
        field: field.into(),
        problem: problem.into(),
    })
}

/// `field.name`, or `name` at the top.
fn at(field: &str, name: &str) -> String {
    if field.is_empty() {
        name.to_string()
    } else {
        format!("{field}.{name}")
    }
}

/// A reference: 1 to 255 bytes of printable ASCII.
fn reference(field: &str, value: &str) -> Checked {
    if value.is_empty() {
        return violation(field, "is empty");
    }
    if value.len() > MAX_REFERENCE {
        return violation(
            field,
            format!("is {} bytes long, more than {MAX_REFERENCE}", value.len()),
        );
    }
    if !value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return violation(field, "has bytes that are not printable ASCII");
    }
    Ok(())
}

fn optional_reference(field: &str, value: Option<&String>) -> Checked {
    value.map_or(Ok(()), |v| reference(field, v))
}

/// Text of at most `max` bytes; with `lines`, tabs and line breaks are the only control
/// characters allowed, else none is.
fn bounded(field: &str, value: &str, max: usize, lines: bool) -> Checked {
    if value.len() > max {
        return violation(
            field,
            format!("is {} bytes long, more than {max}", value.len()),
        );
    }
    let allowed = |c: char| lines && matches!(c, '\t' | '\n' | '\r');
    if value.chars().any(|c| c.is_control() && !allowed(c)) {
        return violation(field, "contains control characters");
    }
    Ok(())
}

/// Short text: at most 255 bytes, no control characters.
fn label(field: &str, value: &str) -> Checked {
    bounded(field, value, MAX_LABEL, false)
}

fn optional_label(field: &str, value: Option<&String>) -> Checked {
    value.map_or(Ok(()), |v| label(field, v))
}

/// Short text that must not be empty.
fn name(field: &str, value: &str) -> Checked {
    if value.is_empty() {
        return violation(field, "is empty");
    }
    label(field, value)
}

/// Free text: at most 64 KiB, no control characters but tabs and line breaks.
fn text(field: &str, value: &str) -> Checked {
    bounded(field, value, MAX_TEXT, true)
}

fn optional_text(field: &str, value: Option<&String>) -> Checked {
    value.map_or(Ok(()), |v| text(field, v))
}

/// A URL: at most 8 KiB, no white space or control characters.
fn url(field: &str, value: &str) -> Checked {
    bounded(field, value, MAX_URL, false)?;
    if value.contains(char::is_whitespace) {
        return violation(field, "contains white space");
    }
    Ok(())
}

fn optional_url(field: &str, value: Option<&String>) -> Checked {
    value.map_or(Ok(()), |v| url(field, v))
}

/// An ISO 4217 code: three upper-case ASCII letters.
fn currency(field: &str, value: &str) -> Checked {
    if value.len() == 3 && value.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        violation(field, "is not three upper-case letters")
    }
}

fn non_negative(field: &str, value: i64) -> Checked {
    if value < 0 {
        return violation(field, format!("is negative ({value})"));
    }
    Ok(())
}

/// An amount of money: a currency code and, unless `signed`, a non-negative amount.
fn money(field: &str, value: &Money, signed: bool) -> Checked {
    currency(&at(field, "currency"), &value.currency)?;
    if !signed {
        non_negative(&at(field, "amount"), value.amount)?;
    }
    Ok(())
}

/// `value` is the amount asked for: same minor units, same currency.
fn same_money(field: &str, value: &Money, asked: &Money) -> Checked {
    if value.currency != asked.currency {
        return violation(
            at(field, "currency"),
            format!("is not the currency asked for ({})", asked.currency),
        );
    }
    if value.amount != asked.amount {
        return violation(
            at(field, "amount"),
            format!(
                "is {}, not the amount asked for ({})",
                value.amount, asked.amount
            ),
        );
    }
    Ok(())
}

/// `value` is the reference the request named.
fn same_reference(field: &str, value: &str, asked: &str) -> Checked {
    if value != asked {
        return violation(field, "is not the one asked for");
    }
    Ok(())
}

fn metadata(field: &str, value: &Metadata) -> Checked {
    if value.len() > MAX_METADATA {
        return violation(
            field,
            format!("has {} entries, more than {MAX_METADATA}", value.len()),
        );
    }
    for (i, (key, entry)) in value.iter().enumerate() {
        label(&format!("{field}[{i}].key"), key)?;
        text(&format!("{field}[{i}].value"), entry)?;
    }
    Ok(())
}

/// A month of the year and a four-digit year.
fn expiry(field: &str, month: u8, year: u16) -> Checked {
    if !(1..=12).contains(&month) {
        return violation(at(field, "exp-month"), format!("is {month}, not 1 to 12"));
    }
    if !(1000..=9999).contains(&year) {
        return violation(at(field, "exp-year"), format!("is {year}, not four digits"));
    }
    Ok(())
}

/// Exactly four ASCII digits.
fn last4(field: &str, value: &str) -> Checked {
    if value.len() == 4 && value.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        violation(
            at(field, "last4"),
            format!("is not four digits ({} bytes)", value.len()),
        )
    }
}

/// Each of `items`, checked by `check` with its index.
fn each<T>(field: &str, items: &[T], check: impl Fn(&str, &T) -> Checked) -> Checked {
    items
        .iter()
        .enumerate()
        .try_for_each(|(i, item)| check(&format!("{field}[{i}]"), item))
}

/// A plugin's text made safe for logs and errors: control characters escaped, at most 1 KiB.
fn safe(text: &mut String) {
    if text.len() > MAX_ERROR_TEXT || text.chars().any(char::is_control) {
        *text = escape_controls(truncate(text, MAX_ERROR_TEXT));
    }
}

fn safe_opt(text: &mut Option<String>) {
    if let Some(text) = text {
        safe(text);
    }
}

/// A plugin's error with its text made safe (see [`safe`]).
pub(crate) fn sanitize_error(mut error: GatewayError) -> GatewayError {
    match &mut error {
        GatewayError::Declined(d) => {
            safe(&mut d.code);
            safe_opt(&mut d.decline_reason);
            safe(&mut d.customer_message);
            safe_opt(&mut d.payment);
            safe_opt(&mut d.request_id);
        }
        GatewayError::ActionRequired(a) => {
            safe(&mut a.payment);
            safe(&mut a.customer_message);
            safe_opt(&mut a.request_id);
        }
        GatewayError::InvalidInput(i) => {
            safe(&mut i.field);
            safe(&mut i.message);
            safe_opt(&mut i.request_id);
        }
        GatewayError::RateLimited(r) => {
            safe(&mut r.message);
            safe_opt(&mut r.request_id);
        }
        GatewayError::NotFound(n) => {
            safe(&mut n.kind);
            safe(&mut n.id);
        }
        GatewayError::Unsupported(what) => safe(what),
        GatewayError::Configuration(f)
        | GatewayError::IdempotencyConflict(f)
        | GatewayError::NotAttempted(f)
        | GatewayError::OutcomeUnknown(f) => {
            safe(&mut f.message);
            safe_opt(&mut f.request_id);
        }
    }
    error
}

/// A plugin's rejection of a webhook with its text made safe.
pub(crate) fn sanitize_rejection(mut rejection: Rejection) -> Rejection {
    if let Rejection::NotConfigured(text) | Rejection::Malformed(text) = &mut rejection {
        safe(text);
    }
    rejection
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::Failure;

    #[test]
    fn references_are_short_printable_ascii() {
        assert!(reference("payment.id", "pi_123").is_ok());
        assert_eq!(reference("payment.id", "").unwrap_err().problem, "is empty");
        let long = "x".repeat(256);
        assert_eq!(
            reference("payment.id", &long).unwrap_err().problem,
            "is 256 bytes long, more than 255"
        );
        assert!(reference("payment.id", "pi_\n1").is_err());
        assert!(reference("payment.id", "pi_é").is_err());
    }

    #[test]
    fn text_and_labels_refuse_control_characters() {
        assert!(label("stored-card.brand", "visa").is_ok());
        assert!(label("stored-card.brand", "visa\nINFO forged").is_err());
        assert!(text("payment.description", "two\nlines\tok").is_ok());
        assert!(text("payment.description", "bell\u{7}").is_err());
        assert!(url("invoice.hosted-url", "https://x.example/a b").is_err());
        assert!(currency("m.currency", "USD").is_ok());
        for bad in ["usd", "US", "USDX", "U$D"] {
            assert!(currency("m.currency", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_are_escaped_and_bounded() {
        let error = sanitize_error(GatewayError::OutcomeUnknown(Failure {
            message: format!("line\nforged {}", "y".repeat(5000)),
            request_id: Some("req\r1".into()),
        }));
        let GatewayError::OutcomeUnknown(f) = error else {
            unreachable!()
        };
        assert!(
            f.message.starts_with("line\\nforged yyy"),
            "{}",
            &f.message[..20]
        );
        assert!(f.message.len() <= MAX_ERROR_TEXT + 8);
        assert_eq!(f.request_id.as_deref(), Some("req\\r1"));
    }
}
