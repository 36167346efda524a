//! How the console writes amounts, dates and links, and reads amounts typed by operators.

use crate::currency::{exponent, format_amount};
use crate::time::{format_date, format_rfc3339};

/// An amount for people (`USD 10.50`).
pub fn money(minor: i64, currency: &str) -> String {
    format_amount(minor, currency)
}

/// A date (`2026-12-01`).
pub fn date(ts: i64) -> String {
    format_date(ts)
}

/// A time to the minute, UTC (`2026-12-01 21:39`).
pub fn datetime(ts: i64) -> String {
    let s = format_rfc3339(ts);
    format!("{} {}", &s[..10], &s[11..16])
}

/// Reads an amount typed in major units (`12.5`, `12.50`, `1050` for JPY) into minor units of
/// `currency`; why not, for people.
pub fn parse_amount(text: &str, currency: &str) -> Result<i64, String> {
    let exp = exponent(currency).ok_or_else(|| format!("{currency:?} is not a currency"))? as u32;
    let text = text.trim();
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || (!frac.is_empty() && !digits(frac)) || frac.len() > exp as usize {
        return Err(format!(
            "{text:?} is not an amount in {currency} (at most {exp} decimals, e.g. 12.50)"
        ));
    }
    let scale = 10i64.pow(exp);
    let whole: i64 = whole
        .parse()
        .map_err(|_| "the amount is too large".to_string())?;
    let frac: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<width$}", width = exp as usize)
            .parse()
            .map_err(|_| "the amount is not valid".to_string())?
    };
    whole
        .checked_mul(scale)
        .and_then(|w| w.checked_add(frac))
        .filter(|a| *a > 0)
        .ok_or_else(|| "the amount must be positive and not too large".to_string())
}

/// A link a gateway gave (hosted invoice, PDF, 3-D Secure page), only when it is an absolute
/// `http(s)` URL: a plugin is untrusted, and a `javascript:` link would run in the console.
pub fn safe_link(url: Option<&str>) -> Option<String> {
    let url = url?;
    let parsed = url::Url::parse(url).ok()?;
    matches!(parsed.scheme(), "https" | "http").then(|| parsed.to_string())
}

/// The origin of an absolute `http(s)` URL (`https://js.stripe.com`).
pub fn origin(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    matches!(parsed.scheme(), "https" | "http").then(|| parsed.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_in_major_units() {
        assert_eq!(parse_amount("12.5", "USD"), Ok(1250));
        assert_eq!(parse_amount(" 12.50 ", "USD"), Ok(1250));
        assert_eq!(parse_amount("12", "EUR"), Ok(1200));
        assert_eq!(parse_amount("1050", "JPY"), Ok(1050));
        assert!(parse_amount("10.5", "JPY").is_err());
        assert!(parse_amount("1.234", "USD").is_err());
        assert!(parse_amount("-1", "USD").is_err());
        assert!(parse_amount("0", "USD").is_err());
        assert!(parse_amount("1e3", "USD").is_err());
        assert!(parse_amount("99999999999999999999", "USD").is_err());
        assert!(parse_amount("1", "XYZ").is_err());
    }

    #[test]
    fn only_http_links_are_shown() {
        assert_eq!(
            safe_link(Some("https://pay.example/i/1")).as_deref(),
            Some("https://pay.example/i/1")
        );
        assert_eq!(safe_link(Some("javascript:alert(1)")), None);
        assert_eq!(safe_link(Some("/relative")), None);
        assert_eq!(safe_link(None), None);
        assert_eq!(
            origin("https://js.stripe.com/v3/").as_deref(),
            Some("https://js.stripe.com")
        );
        assert_eq!(datetime(0), "1970-01-01 00:00");
    }
}
