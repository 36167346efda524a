//! Currencies and Stripe's fees.
//!
//! Fee model (documented in the README): a successful charge costs 2.9% of the amount (rounded half
//! up) plus a fixed 30 minor units, in the charge's currency. For two-decimal currencies that is
//! Stripe's standard US pricing, 2.9% + 30 cents; for zero-decimal currencies (JPY, KRW, ...) the
//! fixed part is 30 whole units (JPY 30), and for three-decimal currencies 300 minor units. A
//! dispute costs 15 major units (1500 cents; JPY 1500 for zero-decimal currencies).
//! Refunds don't return the fee.

/// Currencies without a minor unit.
pub const ZERO_DECIMAL: &[&str] = &[
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
];

/// Currencies with three decimals.
pub const THREE_DECIMAL: &[&str] = &["bhd", "jod", "kwd", "omr", "tnd"];

/// Normalizes and checks a currency code: three ASCII letters, answered lower-case.
pub fn normalize_currency(code: &str) -> Option<String> {
    (code.len() == 3 && code.bytes().all(|b| b.is_ascii_alphabetic()))
        .then(|| code.to_ascii_lowercase())
}

/// Whether the currency has no minor unit.
pub fn is_zero_decimal(currency: &str) -> bool {
    ZERO_DECIMAL.contains(&currency)
}

fn fixed_part(currency: &str) -> i64 {
    if THREE_DECIMAL.contains(&currency) {
        300
    } else {
        30
    }
}

/// The processing fee on a captured amount.
pub fn processing_fee(amount: i64, currency: &str) -> i64 {
    (amount * 29 + 500) / 1000 + fixed_part(currency)
}

/// The dispute fee.
pub fn dispute_fee(currency: &str) -> i64 {
    if THREE_DECIMAL.contains(&currency) {
        15_000
    } else {
        1500
    }
}

/// Formats an amount for messages: `$10.50`, `¥1050`.
pub fn display_amount(amount: i64, currency: &str) -> String {
    if is_zero_decimal(currency) {
        format!("{amount} {}", currency.to_ascii_uppercase())
    } else if currency == "usd" {
        format!("${}.{:02}", amount / 100, amount % 100)
    } else if THREE_DECIMAL.contains(&currency) {
        format!(
            "{}.{:03} {}",
            amount / 1000,
            amount % 1000,
            currency.to_ascii_uppercase()
        )
    } else {
        format!(
            "{}.{:02} {}",
            amount / 100,
            amount % 100,
            currency.to_ascii_uppercase()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fees() {
        assert_eq!(processing_fee(1000, "usd"), 59);
        assert_eq!(processing_fee(1050, "usd"), 60);
        assert_eq!(processing_fee(10_000, "jpy"), 320);
        assert_eq!(display_amount(1050, "usd"), "$10.50");
    }
}
