//! The one place where amounts cross between the contract and Adyen.
//!
//! Contract amounts are integers of the currency's ISO 4217 minor unit. Adyen takes amounts in
//! minor units too, but of its own table of decimals (docs.adyen.com
//! "development-resources/currency-codes": "For CLP, CVE, IDR, and ISK the standard has a
//! different number of decimals than shown in our currency codes table ... the decimals in the
//! table on this page are leading"):
//!
//! | currency | ISO 4217 | Adyen | sent | read |
//! |---|---|---|---|---|
//! | CLP, ISK | 0 | 2 | × 100 | ÷ 100, rounded half away from zero |
//! | CVE, IDR | 2 | 0 | ÷ 100; an amount that is not a multiple of 100 is `invalid-input` | × 100 |
//!
//! Every other currency is sent and read as it is. Every amount the plugin sends goes through
//! [`to_adyen`]; every amount it reads through [`from_adyen`].

use omnicrm_gateway_sdk::types::{GatewayError, Money};

use crate::wire::Amount;

/// Currencies Adyen counts in hundredths although ISO 4217 gives them no minor unit.
const HUNDREDTHS_AT_ADYEN: &[&str] = &["CLP", "ISK"];

/// Currencies Adyen counts in whole units although ISO 4217 gives them two decimals.
const WHOLE_AT_ADYEN: &[&str] = &["CVE", "IDR"];

/// How Adyen counts a currency, relative to its ISO 4217 minor unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scale {
    Same,
    /// Adyen's unit is a hundredth of the ISO 4217 one.
    Hundredths,
    /// Adyen's unit is a hundred ISO 4217 minor units.
    Whole,
}

fn scale(currency: &str) -> Scale {
    if HUNDREDTHS_AT_ADYEN.contains(&currency) {
        Scale::Hundredths
    } else if WHOLE_AT_ADYEN.contains(&currency) {
        Scale::Whole
    } else {
        Scale::Same
    }
}

/// Checks an ISO 4217 code (three letters; any case) and spells it as Adyen does (upper case).
/// Adyen decides which codes it supports.
pub fn currency(currency: &str) -> Result<String, GatewayError> {
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(GatewayError::invalid_input(
            "currency",
            "expected a three-letter ISO 4217 code",
        ));
    }
    Ok(currency.to_ascii_uppercase())
}

/// A contract amount as Adyen's `{value, currency}`. `positive` refuses zero and negative
/// amounts (charges, captures, refunds); card set-ups send zero.
pub fn to_adyen(money: &Money, positive: bool) -> Result<Amount, GatewayError> {
    let invalid = |message: String| GatewayError::invalid_input("amount", message);
    let currency = currency(&money.currency)?;
    let amount = money.amount;
    if amount < 0 || (positive && amount == 0) {
        return Err(invalid("must be positive".into()));
    }
    let value = match scale(&currency) {
        Scale::Same => amount,
        Scale::Hundredths => amount.checked_mul(100).ok_or_else(|| {
            invalid(format!(
                "{amount} is too large: Adyen counts {currency} in hundredths"
            ))
        })?,
        Scale::Whole if amount % 100 != 0 => {
            return Err(invalid(format!(
                "Adyen takes {currency} in whole units: {amount} is not a multiple of 100"
            )));
        }
        Scale::Whole => amount / 100,
    };
    Ok(Amount { value, currency })
}

/// An amount Adyen wrote, in the contract's terms. Amounts too large for the contract's unit
/// saturate (Adyen's own bounds are far below).
pub fn from_adyen(amount: &Amount) -> Money {
    let currency = amount.currency.to_ascii_uppercase();
    let value = amount.value;
    let converted = match scale(&currency) {
        Scale::Same => value,
        Scale::Hundredths => {
            let (whole, rest) = (value / 100, value % 100);
            if rest.abs() >= 50 {
                whole + rest.signum()
            } else {
                whole
            }
        }
        Scale::Whole => value.saturating_mul(100),
    };
    Money {
        amount: converted,
        currency,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(amount: i64, currency: &str) -> Money {
        Money {
            amount,
            currency: currency.into(),
        }
    }

    #[test]
    fn amounts_follow_adyen_s_table_both_ways() {
        for (contract, currency, adyen) in [
            (1050, "EUR", 1050),
            (1050, "eur", 1050),
            (500, "JPY", 500),
            (1234, "KWD", 1234),
            (5000, "ISK", 500_000),
            (700, "CLP", 70_000),
            (1500, "CVE", 15),
            (1_000_000, "IDR", 10_000),
        ] {
            let sent = to_adyen(&money(contract, currency), true).unwrap();
            assert_eq!(
                (sent.value, sent.currency.as_str()),
                (adyen, currency.to_ascii_uppercase().as_str())
            );
            let read = from_adyen(&sent);
            assert_eq!(
                (read.amount, read.currency),
                (contract, currency.to_ascii_uppercase())
            );
        }
        // Adyen's hundredths of a króna are rounded to the króna.
        let read = |value, currency: &str| {
            from_adyen(&Amount {
                value,
                currency: currency.into(),
            })
            .amount
        };
        assert_eq!(read(149, "ISK"), 1);
        assert_eq!(read(150, "ISK"), 2);
        assert_eq!(read(-150, "ISK"), -2);
        assert_eq!(read(i64::MAX, "IDR"), i64::MAX);
    }

    #[test]
    fn amounts_adyen_cannot_take_are_refused_before_sending() {
        let refused = |m: Money, positive: bool| match to_adyen(&m, positive) {
            Err(GatewayError::InvalidInput(i)) => i.field,
            other => panic!("{other:?}"),
        };
        assert_eq!(refused(money(150, "IDR"), true), "amount");
        assert_eq!(refused(money(0, "EUR"), true), "amount");
        assert_eq!(refused(money(-1, "EUR"), false), "amount");
        assert_eq!(refused(money(i64::MAX, "ISK"), true), "amount");
        assert_eq!(refused(money(1, "EURO"), true), "currency");
        assert_eq!(refused(money(1, "E1R"), true), "currency");
        assert_eq!(to_adyen(&money(0, "EUR"), false).unwrap().value, 0);
    }
}
