//! The one place where amounts cross between the contract and Stripe.
//!
//! Contract amounts are integers of the currency's ISO 4217 minor unit. Stripe's API agrees for
//! almost every currency (USD cents, JPY yen, KWD fils), with these exceptions:
//!
//! - ISK: ISO 4217 has no minor unit, but Stripe keeps ISK a two-decimal currency (`100` is
//!   1 króna) and only accepts multiples of 100. Amounts sent are multiplied by 100; amounts read
//!   are divided by 100, rounded to the nearest króna (half away from zero), which only matters
//!   for Stripe's fees.
//! - Three-decimal currencies (BHD, JOD, KWD, OMR, TND): same unit as ISO 4217, but Stripe's card
//!   acquirers need the last digit to be 0. An amount that is not a multiple of 10 is refused here
//!   (`invalid-input` on `amount`) instead of being sent.
//!
//! Every amount the plugin sends goes through [`to_stripe`]; every amount it reads goes through
//! [`from_stripe`] (or [`money`], which also spells the currency as the contract does). Currency
//! codes go through [`currency_to_stripe`].

use omnicrm_gateway_sdk::types::{GatewayError, Money};

/// Currencies Stripe counts in hundredths although ISO 4217 gives them no minor unit.
const HUNDREDTHS_AT_STRIPE: &[&str] = &["ISK"];

/// Three-decimal currencies whose Stripe amounts must end in 0.
const THREE_DECIMAL: &[&str] = &["BHD", "JOD", "KWD", "OMR", "TND"];

/// An `invalid-input` error on `amount` (no request was made).
fn invalid_amount(message: String) -> GatewayError {
    GatewayError::invalid_input("amount", message)
}

/// Checks an ISO 4217 code and spells it as Stripe does (lower case). Stripe decides which codes
/// it supports (an unknown one is `invalid-input` on `currency`).
pub fn currency_to_stripe(currency: &str) -> Result<String, GatewayError> {
    let c = currency.trim();
    if c.len() != 3 || !c.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(GatewayError::invalid_input(
            "currency",
            "expected a three-letter ISO 4217 code",
        ));
    }
    Ok(c.to_ascii_lowercase())
}

/// How Stripe counts a currency, relative to its ISO 4217 minor unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scale {
    /// Stripe's unit is the ISO 4217 minor unit.
    Same,
    /// Stripe counts hundredths of the ISO 4217 unit (ISK).
    Hundredths,
    /// Same unit, but amounts must be multiples of 10 (three-decimal currencies).
    MultipleOfTen,
}

fn scale(currency: &str) -> Scale {
    let c = currency.trim();
    let is = |list: &[&str]| list.iter().any(|x| x.eq_ignore_ascii_case(c));
    if is(HUNDREDTHS_AT_STRIPE) {
        Scale::Hundredths
    } else if is(THREE_DECIMAL) {
        Scale::MultipleOfTen
    } else {
        Scale::Same
    }
}

/// A contract amount (ISO 4217 minor units of `currency`, any case) as Stripe wants it.
///
/// Errors (`invalid-input` on `amount`, nothing sent): an amount Stripe would refuse for the
/// currency, or one too large to express in Stripe's unit.
pub fn to_stripe(amount: i64, currency: &str) -> Result<i64, GatewayError> {
    match scale(currency) {
        Scale::Same => Ok(amount),
        Scale::Hundredths => amount.checked_mul(100).ok_or_else(|| {
            invalid_amount(format!(
                "{amount} is too large: Stripe counts {} in hundredths",
                currency.trim().to_ascii_uppercase()
            ))
        }),
        Scale::MultipleOfTen if amount % 10 != 0 => Err(invalid_amount(format!(
            "{} amounts must be a multiple of 10 (the last of the three decimals must be 0): \
                 Stripe's card acquirers refuse {amount}; round to the nearest ten",
            currency.trim().to_ascii_uppercase()
        ))),
        Scale::MultipleOfTen => Ok(amount),
    }
}

/// A Stripe amount in `currency` (any case) as a contract amount (ISO 4217 minor units).
pub fn from_stripe(amount: i64, currency: &str) -> i64 {
    match scale(currency) {
        Scale::Same | Scale::MultipleOfTen => amount,
        Scale::Hundredths => {
            // Round half away from zero; cannot overflow (the quotient is 100 times smaller).
            let (q, r) = (amount / 100, amount % 100);
            if r >= 50 {
                q + 1
            } else if r <= -50 {
                q - 1
            } else {
                q
            }
        }
    }
}

/// A Stripe amount with its Stripe currency (`"isk"`) as the contract's money.
pub fn money(amount: i64, currency: &str) -> Money {
    let currency = currency.to_ascii_uppercase();
    Money {
        amount: from_stripe(amount, &currency),
        currency,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid_amount(r: Result<i64, GatewayError>) -> String {
        match r {
            Err(GatewayError::InvalidInput(i)) if i.field == "amount" => i.message,
            other => panic!("expected invalid-input on amount, got {other:?}"),
        }
    }

    #[test]
    fn isk_is_counted_in_hundredths_at_stripe() {
        assert_eq!(to_stripe(5_000, "ISK").unwrap(), 500_000);
        assert_eq!(to_stripe(5_000, "isk").unwrap(), 500_000);
        assert_eq!(to_stripe(-250, "ISK").unwrap(), -25_000);
        assert_eq!(from_stripe(500_000, "isk"), 5_000);
        assert_eq!(from_stripe(-100_000, "ISK"), -1_000);
        // Fees in hundredths round to the nearest króna, half away from zero.
        assert_eq!(from_stripe(14_530, "isk"), 145);
        assert_eq!(from_stripe(14_550, "isk"), 146);
        assert_eq!(from_stripe(14_549, "isk"), 145);
        assert_eq!(from_stripe(-14_550, "isk"), -146);
        assert_eq!(from_stripe(-14_549, "isk"), -145);
        assert_eq!(from_stripe(i64::MIN, "isk"), i64::MIN / 100);
        assert_eq!(from_stripe(i64::MAX, "isk"), i64::MAX / 100);
        for amount in [0, 1, 99, 5_000, -7, 92_233_720_368_547_758] {
            assert_eq!(
                from_stripe(to_stripe(amount, "ISK").unwrap(), "ISK"),
                amount
            );
        }
    }

    #[test]
    fn isk_overflow_is_invalid_input() {
        let message = invalid_amount(to_stripe(i64::MAX, "ISK"));
        assert!(
            message.contains("too large") && message.contains("ISK"),
            "{message}"
        );
        invalid_amount(to_stripe(92_233_720_368_547_759, "ISK"));
        invalid_amount(to_stripe(i64::MIN, "ISK"));
    }

    #[test]
    fn three_decimal_amounts_must_end_in_zero() {
        for currency in ["BHD", "JOD", "KWD", "OMR", "TND", "kwd"] {
            assert_eq!(to_stripe(1_000, currency).unwrap(), 1_000);
            assert_eq!(to_stripe(-20, currency).unwrap(), -20);
            let message = invalid_amount(to_stripe(1_005, currency));
            assert!(
                message.contains(&currency.to_ascii_uppercase())
                    && message.contains("multiple of 10"),
                "{message}"
            );
            invalid_amount(to_stripe(-1, currency));
            // Reads are unchanged (fees may end in any digit).
            assert_eq!(from_stripe(1_234, currency), 1_234);
        }
    }

    #[test]
    fn other_currencies_pass_through() {
        for currency in ["USD", "eur", "JPY", "krw", "HUF", "XYZ", ""] {
            assert_eq!(to_stripe(1_005, currency).unwrap(), 1_005);
            assert_eq!(to_stripe(i64::MAX, currency).unwrap(), i64::MAX);
            assert_eq!(from_stripe(1_005, currency), 1_005);
        }
    }

    #[test]
    fn currencies_are_checked_and_spelled_in_lower_case() {
        assert_eq!(currency_to_stripe(" EUR ").unwrap(), "eur");
        for bad in ["EU", "EURO", "E1R", "€UR", ""] {
            assert!(matches!(
                currency_to_stripe(bad),
                Err(GatewayError::InvalidInput(i)) if i.field == "currency"
            ));
        }
    }

    #[test]
    fn money_converts_and_spells_the_currency() {
        let m = money(500_000, "isk");
        assert_eq!((m.amount, m.currency.as_str()), (5_000, "ISK"));
        let usd = money(1_050, "usd");
        assert_eq!((usd.amount, usd.currency.as_str()), (1_050, "USD"));
    }
}
