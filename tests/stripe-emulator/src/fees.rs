//! Currencies, the amounts Stripe accepts in them, and Stripe's fees.
//!
//! Fee model (documented in the README): a successful charge costs 2.9% of the amount (rounded half
//! up) plus a fixed 30 minor units, in the charge's currency. For two-decimal currencies that is
//! Stripe's standard US pricing, 2.9% + 30 cents; for zero-decimal currencies (JPY, KRW, ...) the
//! fixed part is 30 whole units (JPY 30), and for three-decimal currencies 300 minor units. A
//! dispute costs 15 major units (1500 cents; JPY 1500 for zero-decimal currencies).
//! Refunds don't return the fee.
//!
//! ISK is two-decimal in Stripe's API (`100` is 1 króna) although ISO 4217 gives it no minor unit,
//! so it is priced as a two-decimal currency (ISK 5000 = `500000`: fee `14530`, ISK 145.30), and
//! charged amounts must be multiples of 100 ([`check_charge_amount`]). Three-decimal amounts must
//! end in 0 (card acquirers); fees and dispute fees on them may end in any digit.

use crate::error::ApiError;

/// Currencies without a minor unit.
pub const ZERO_DECIMAL: &[&str] = &[
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
];

/// Currencies with three decimals.
pub const THREE_DECIMAL: &[&str] = &["bhd", "jod", "kwd", "omr", "tnd"];

/// Two-decimal currencies at Stripe that are effectively zero-decimal: amounts in hundredths,
/// multiples of 100 only (Stripe's "special cases").
pub const WHOLE_UNITS_ONLY: &[&str] = &["isk"];

/// The currencies Stripe accepts for card payments (lower-case ISO 4217); any other code is
/// `Invalid currency`, as at Stripe.
pub const SUPPORTED: &[&str] = &[
    "aed", "afn", "all", "amd", "ang", "aoa", "ars", "aud", "awg", "azn", "bam", "bbd", "bdt",
    "bgn", "bhd", "bif", "bmd", "bnd", "bob", "brl", "bsd", "bwp", "byn", "bzd", "cad", "cdf",
    "chf", "clp", "cny", "cop", "crc", "cve", "czk", "djf", "dkk", "dop", "dzd", "egp", "etb",
    "eur", "fjd", "fkp", "gbp", "gel", "gip", "gmd", "gnf", "gtq", "gyd", "hkd", "hnl", "htg",
    "huf", "idr", "ils", "inr", "isk", "jmd", "jod", "jpy", "kes", "kgs", "khr", "kmf", "krw",
    "kwd", "kyd", "kzt", "lak", "lbp", "lkr", "lrd", "lsl", "mad", "mdl", "mga", "mkd", "mmk",
    "mnt", "mop", "mur", "mvr", "mwk", "mxn", "myr", "mzn", "nad", "ngn", "nio", "nok", "npr",
    "nzd", "omr", "pab", "pen", "pgk", "php", "pkr", "pln", "pyg", "qar", "ron", "rsd", "rub",
    "rwf", "sar", "sbd", "scr", "sek", "sgd", "shp", "sle", "sos", "srd", "szl", "thb", "tjs",
    "tnd", "top", "try", "ttd", "twd", "tzs", "uah", "ugx", "usd", "uyu", "uzs", "vnd", "vuv",
    "wst", "xaf", "xcd", "xof", "xpf", "yer", "zar", "zmw",
];

/// Normalizes and checks a currency code: one Stripe supports, answered lower-case.
pub fn normalize_currency(code: &str) -> Option<String> {
    let code = code.to_ascii_lowercase();
    SUPPORTED
        .binary_search(&code.as_str())
        .is_ok()
        .then_some(code)
}

/// Whether the currency has no minor unit.
pub fn is_zero_decimal(currency: &str) -> bool {
    ZERO_DECIMAL.contains(&currency)
}

/// Checks an amount to charge, capture or refund in `currency` (lower case) as Stripe does: ISK
/// amounts must be multiples of 100 (400 `invalid_charge_amount_no_decimal_compatible`), and
/// three-decimal amounts multiples of 10 (400 `invalid_charge_amount`). `param` is the parameter
/// that carried the amount. Validation errors: not saved for idempotent replay.
pub fn check_charge_amount(amount: i64, currency: &str, param: &str) -> Result<(), ApiError> {
    if WHOLE_UNITS_ONLY.contains(&currency) && amount % 100 != 0 {
        return Err(ApiError::invalid_param(
            param,
            format!(
                "Invalid amount. Currency {} has become effectively zero-decimal and charged \
                 amounts must be evenly divisible by 100. See \
                 https://stripe.com/docs/currencies#special-cases for more information.",
                currency.to_ascii_uppercase()
            ),
        )
        .with_code("invalid_charge_amount_no_decimal_compatible"));
    }
    if THREE_DECIMAL.contains(&currency) && amount % 10 != 0 {
        return Err(ApiError::invalid_param(
            param,
            format!(
                "Invalid amount. For compatibility with card acquirers, the last digit of \
                 amounts in {} (a three-decimal currency) must be 0: round {} to the nearest \
                 ten. See https://stripe.com/docs/currencies#three-decimal for more information.",
                currency.to_ascii_uppercase(),
                amount
            ),
        )
        .with_code("invalid_charge_amount"));
    }
    Ok(())
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
        // ISK is two-decimal at Stripe: ISK 5000 is 500000, fee ISK 145.30.
        assert_eq!(processing_fee(500_000, "isk"), 14_500 + 30);
        assert_eq!(dispute_fee("isk"), 1500);
        assert_eq!(display_amount(500_000, "isk"), "5000.00 ISK");
        assert_eq!(processing_fee(1_000, "kwd"), 29 + 300);
    }

    #[test]
    fn charge_amounts() {
        let code = |r: Result<(), ApiError>| r.err().and_then(|e| e.code.clone());
        assert!(check_charge_amount(500_000, "isk", "amount").is_ok());
        let e = check_charge_amount(500_050, "isk", "amount").unwrap_err();
        assert_eq!(
            (e.status, e.kind, e.code.as_deref(), e.param.as_deref()),
            (
                400,
                "invalid_request_error",
                Some("invalid_charge_amount_no_decimal_compatible"),
                Some("amount")
            )
        );
        assert!(!e.saved);
        assert!(check_charge_amount(1_010, "kwd", "amount").is_ok());
        assert_eq!(
            code(check_charge_amount(1_005, "kwd", "amount_to_capture")),
            Some("invalid_charge_amount".into())
        );
        for currency in ["bhd", "jod", "omr", "tnd"] {
            assert!(check_charge_amount(1_001, currency, "amount").is_err());
        }
        for currency in ["usd", "jpy", "eur"] {
            assert!(check_charge_amount(1_005, currency, "amount").is_ok());
        }
    }

    #[test]
    fn only_supported_currencies() {
        assert!(
            SUPPORTED.windows(2).all(|w| w[0] < w[1]),
            "sorted for binary search"
        );
        assert!(
            ZERO_DECIMAL
                .iter()
                .chain(THREE_DECIMAL)
                .chain(WHOLE_UNITS_ONLY)
                .all(|c| SUPPORTED.contains(c))
        );
        assert!(!WHOLE_UNITS_ONLY.iter().any(|c| is_zero_decimal(c)));
        assert_eq!(normalize_currency("USD").as_deref(), Some("usd"));
        assert_eq!(normalize_currency("jpy").as_deref(), Some("jpy"));
        for bad in ["zzz", "US", "usdd", "", "us$", "xxx"] {
            assert_eq!(normalize_currency(bad), None, "{bad}");
        }
    }
}
