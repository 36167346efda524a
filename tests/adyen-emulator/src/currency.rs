//! Amounts: `{"value": <minor units>, "currency": "EUR"}` with ISO 4217 currency codes and their
//! exponents (the number of minor-unit digits: JPY 0, EUR 2, KWD 3, CLF 4). Adyen takes every
//! amount in minor units of the currency's ISO 4217 exponent (docs.adyen.com
//! "development-resources/currency-codes"); a code it doesn't know is refused with `138`
//! "Unsupported currency specified", a negative value with `137` "Invalid amount specified".

use serde::Serialize;
use serde_json::Value;

use crate::body::Obj;
use crate::error::ApiError;

/// ISO 4217 active codes with an exponent other than 2.
const EXPONENTS: &[(&str, u32)] = &[
    ("BIF", 0),
    ("CLP", 0),
    ("DJF", 0),
    ("GNF", 0),
    ("ISK", 0),
    ("JPY", 0),
    ("KMF", 0),
    ("KRW", 0),
    ("PYG", 0),
    ("RWF", 0),
    ("UGX", 0),
    ("UYI", 0),
    ("VND", 0),
    ("VUV", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("XPF", 0),
    ("BHD", 3),
    ("IQD", 3),
    ("JOD", 3),
    ("KWD", 3),
    ("LYD", 3),
    ("OMR", 3),
    ("TND", 3),
    ("CLF", 4),
    ("UYW", 4),
];

/// ISO 4217 active codes with exponent 2.
const TWO_DECIMALS: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF",
    "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR",
    "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF",
    "IDR", "ILS", "INR", "IRR", "JMD", "KES", "KGS", "KHR", "KPW", "KYD", "KZT", "LAK", "LBP",
    "LKR", "LRD", "LSL", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR",
    "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "PAB", "PEN", "PGK",
    "PHP", "PKR", "PLN", "QAR", "RON", "RSD", "RUB", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD",
    "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TOP",
    "TRY", "TTD", "TWD", "TZS", "UAH", "USD", "UYU", "UZS", "VES", "WST", "XCD", "YER", "ZAR",
    "ZMW", "ZWG",
];

/// The largest amount accepted, in minor units (the emulator's bound; Adyen's is per account).
pub const MAX_VALUE: i64 = 1_000_000_000_000_000;

/// The ISO 4217 exponent of a currency code (upper case), or `None` for an unknown code.
pub fn exponent(currency: &str) -> Option<u32> {
    if let Some((_, e)) = EXPONENTS.iter().find(|(c, _)| *c == currency) {
        Some(*e)
    } else if TWO_DECIMALS.contains(&currency) {
        Some(2)
    } else {
        None
    }
}

/// An amount in minor units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Amount {
    /// ISO 4217 code, upper case.
    pub currency: String,
    /// Minor units.
    pub value: i64,
}

impl Amount {
    /// A new amount (not validated).
    pub fn new(value: i64, currency: &str) -> Amount {
        Amount {
            currency: currency.to_string(),
            value,
        }
    }

    /// `{"currency": ..., "value": ...}`.
    pub fn json(&self) -> Value {
        serde_json::json!({"currency": self.currency, "value": self.value})
    }

    /// For people: `EUR 10.00`, `JPY 1050`, `KWD 1.234`.
    pub fn display(&self) -> String {
        let exp = exponent(&self.currency).unwrap_or(2);
        if exp == 0 {
            return format!("{} {}", self.currency, self.value);
        }
        let unit = 10i64.pow(exp);
        format!(
            "{} {}{}.{:0width$}",
            self.currency,
            if self.value < 0 { "-" } else { "" },
            self.value.abs() / unit,
            self.value.abs() % unit,
            width = exp as usize
        )
    }
}

/// Reads an `Amount` object field. Absent is `None`; a present amount is checked (structure,
/// known currency, value range).
pub fn read(obj: &Obj<'_>, key: &str) -> Result<Option<Amount>, ApiError> {
    let Some(amount) = obj.obj(key, "Amount")? else {
        return Ok(None);
    };
    amount.only(&["currency", "value"])?;
    let value = amount.i64("value")?.ok_or_else(|| {
        ApiError::unprocessable(
            "100",
            format!("Required field '{key}.value' is not provided."),
        )
    })?;
    let currency = amount.non_empty("currency")?.ok_or_else(|| {
        ApiError::unprocessable(
            "100",
            format!("Required field '{key}.currency' is not provided."),
        )
    })?;
    if exponent(currency).is_none() {
        return Err(ApiError::unprocessable(
            "138",
            "Unsupported currency specified",
        ));
    }
    if !(0..=MAX_VALUE).contains(&value) {
        return Err(ApiError::unprocessable("137", "Invalid amount specified"));
    }
    Ok(Some(Amount::new(value, currency)))
}

/// Reads a required amount: absent is `100` "Required object 'amount' is not provided." (the
/// message docs.adyen.com "development-resources/error-codes" gives for code 100).
pub fn required(obj: &Obj<'_>, key: &str) -> Result<Amount, ApiError> {
    read(obj, key)?.ok_or_else(|| {
        ApiError::unprocessable("100", format!("Required object '{key}' is not provided."))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponents_and_display() {
        assert_eq!(exponent("JPY"), Some(0));
        assert_eq!(exponent("KWD"), Some(3));
        assert_eq!(exponent("EUR"), Some(2));
        assert_eq!(exponent("CLF"), Some(4));
        assert_eq!(exponent("XXX"), None);
        assert_eq!(Amount::new(1050, "JPY").display(), "JPY 1050");
        assert_eq!(Amount::new(1234, "KWD").display(), "KWD 1.234");
        assert_eq!(Amount::new(1005, "EUR").display(), "EUR 10.05");
    }
}
