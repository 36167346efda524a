//! Adyen's test cards and the test environment's ways of forcing an outcome.
//!
//! Sources:
//! - Card numbers: docs.adyen.com "development-resources/testing/test-card-numbers" (Visa
//!   4111 1111 1111 1111, Mastercard 5555 5555 5555 4444, ...; any future expiry such as 03/2030,
//!   CVC 737, Amex 7373) and "development-resources/testing/3d-secure-2-authentication" (cards
//!   enrolled in 3-D Secure 2; challenge password `password`, any other value fails). Which
//!   enrolled card takes which 3-D Secure 2 path comes from Adyen's own web SDK tests
//!   (Adyen/adyen-web `constants.ts`: `THREEDS2_FRICTIONLESS_CARD = 5201281505129736`,
//!   `THREEDS2_FULL_FLOW_CARD = 5000550000000029`, `THREEDS2_CHALLENGE_ONLY_CARD =
//!   4212345678910006`); the other enrolled cards are given the challenge path.
//! - Unencrypted card fields prefixed `test_` (`"encryptedCardNumber": "test_4111111111111111"`):
//!   test-card-numbers page, "Encrypted card details".
//! - Forced outcomes: docs.adyen.com "development-resources/testing/result-codes" — a
//!   `paymentMethod.holderName` such as `NOT_ENOUGH_BALANCE`, or
//!   `additionalData.RequestedTestAcquirerResponseCode` with the refusal reason code, gives that
//!   `resultCode` / `refusalReason` / `refusalReasonCode` (the table below; the reason texts are
//!   those of docs.adyen.com "development-resources/refusal-reasons"). Adyen has no amount-based
//!   triggers for online card payments.

/// Which 3-D Secure 2 path a card takes when authentication applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreeDs {
    /// Not enrolled: no authentication.
    NotEnrolled,
    /// Device fingerprint, then authorised without a challenge.
    Frictionless,
    /// A challenge straight away.
    ChallengeOnly,
    /// Device fingerprint, then a challenge.
    FullFlow,
}

/// One of Adyen's test cards.
#[derive(Debug, Clone, Copy)]
pub struct TestCard {
    /// The card number.
    pub number: &'static str,
    /// Adyen's brand code (`visa`, `mc`, `amex`, ...).
    pub brand: &'static str,
    /// `CREDIT`, `DEBIT` or `PREPAID` (Adyen's `fundingSource`).
    pub funding: &'static str,
    /// Issuing country.
    pub country: &'static str,
    /// 3-D Secure 2 path.
    pub three_ds: ThreeDs,
}

const fn card(
    number: &'static str,
    brand: &'static str,
    funding: &'static str,
    country: &'static str,
    three_ds: ThreeDs,
) -> TestCard {
    TestCard {
        number,
        brand,
        funding,
        country,
        three_ds,
    }
}

use ThreeDs::*;

/// The test cards the emulator knows by number. Any other number that passes the Luhn check is
/// accepted too, as a card of the brand its prefix says, not enrolled in 3-D Secure.
pub const TEST_CARDS: &[TestCard] = &[
    card("4111111111111111", "visa", "CREDIT", "NL", NotEnrolled),
    card("4988438843884305", "visa", "CREDIT", "ES", NotEnrolled),
    card("4166676667666746", "visa", "CREDIT", "NL", NotEnrolled),
    card("4646464646464644", "visa", "CREDIT", "PL", NotEnrolled),
    card("4400000000000008", "visa", "DEBIT", "US", NotEnrolled),
    card("5555555555554444", "mc", "CREDIT", "GB", NotEnrolled),
    card("5555444433331111", "mc", "CREDIT", "GB", NotEnrolled),
    card("5500000000000004", "mc", "DEBIT", "US", NotEnrolled),
    card("370000000000002", "amex", "CREDIT", "US", NotEnrolled),
    card("6011601160116611", "discover", "CREDIT", "US", NotEnrolled),
    card("3569990010095841", "jcb", "CREDIT", "JP", NotEnrolled),
    // Enrolled in 3-D Secure 2.
    card("4212345678910006", "visa", "CREDIT", "NL", ChallengeOnly),
    card("5000550000000029", "maestro", "DEBIT", "NL", FullFlow),
    card("5201281505129736", "mc", "CREDIT", "NL", Frictionless),
    card("5454545454545454", "mc", "CREDIT", "PL", FullFlow),
    card("2222400010000008", "mc", "CREDIT", "US", ChallengeOnly),
    card("4035501428146300", "visa", "DEBIT", "FR", FullFlow),
    card("371449635398431", "amex", "CREDIT", "US", ChallengeOnly),
    card("30569309025904", "diners", "CREDIT", "US", ChallengeOnly),
    card(
        "6011111111111117",
        "discover",
        "CREDIT",
        "US",
        ChallengeOnly,
    ),
    card("3566111111111113", "jcb", "CREDIT", "JP", ChallengeOnly),
    card("6250947000000014", "cup", "CREDIT", "CN", ChallengeOnly),
];

/// The password that passes a 3-D Secure 2 challenge in Adyen's test environment (web).
pub const CHALLENGE_PASSWORD: &str = "password";

/// Whether `number` passes the Luhn check.
pub fn luhn_valid(number: &str) -> bool {
    if number.len() < 12 || number.len() > 19 || !number.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = number
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Adyen's brand code for a card number by its prefix.
pub fn brand_of(number: &str) -> &'static str {
    let prefix = |n: usize| {
        number
            .get(..n)
            .and_then(|p| p.parse::<u32>().ok())
            .unwrap_or(0)
    };
    match () {
        _ if number.starts_with('4') => "visa",
        _ if (51..=55).contains(&prefix(2)) || (2221..=2720).contains(&prefix(4)) => "mc",
        _ if matches!(prefix(2), 34 | 37) => "amex",
        _ if prefix(4) == 6011 || prefix(2) == 65 || (644..=649).contains(&prefix(3)) => "discover",
        _ if (3528..=3589).contains(&prefix(4)) => "jcb",
        _ if matches!(prefix(2), 36 | 38 | 39) || (300..=305).contains(&prefix(3)) => "diners",
        _ if prefix(2) == 62 => "cup",
        _ => "maestro",
    }
}

/// What the emulator knows of a card number: a test card, or a card described by its prefix.
pub fn lookup(number: &str) -> TestCard {
    TEST_CARDS
        .iter()
        .find(|c| c.number == number)
        .copied()
        .unwrap_or(TestCard {
            number: "",
            brand: brand_of(number),
            funding: "CREDIT",
            country: "NL",
            three_ds: NotEnrolled,
        })
}

/// The security code length a brand expects.
pub fn cvc_length(brand: &str) -> usize {
    if brand == "amex" { 4 } else { 3 }
}

/// The final `resultCode` a forced outcome gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Final {
    /// `Authorised`.
    Authorised,
    /// `Refused`.
    Refused,
    /// `Error`.
    Error,
    /// `Cancelled`.
    Cancelled,
    /// `Received`: authorised later, by webhook.
    Received,
}

impl Final {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Final::Authorised => "Authorised",
            Final::Refused => "Refused",
            Final::Error => "Error",
            Final::Cancelled => "Cancelled",
            Final::Received => "Received",
        }
    }
}

/// An outcome forced by a test value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// The `holderName` that triggers it.
    pub holder_name: &'static str,
    /// The `RequestedTestAcquirerResponseCode` (and `refusalReasonCode`) that triggers it.
    pub code: &'static str,
    /// `resultCode`.
    pub result: Final,
    /// `refusalReason`, when the payment is not authorised.
    pub reason: Option<&'static str>,
}

const fn outcome(
    holder_name: &'static str,
    code: &'static str,
    result: Final,
    reason: Option<&'static str>,
) -> Outcome {
    Outcome {
        holder_name,
        code,
        result,
        reason,
    }
}

use Final::{Authorised as A, Cancelled as C, Error as E, Received as R, Refused as F};

/// docs.adyen.com "development-resources/testing/result-codes", "Values for testing refusal
/// reasons".
pub const OUTCOMES: &[Outcome] = &[
    outcome("UNKNOWN", "0", E, Some("Unknown")),
    outcome("APPROVED", "1", A, None),
    outcome("DECLINED", "2", F, Some("Refused")),
    outcome("REFERRAL", "3", F, Some("Referral")),
    outcome("ERROR", "4", E, Some("Acquirer Error")),
    outcome("BLOCK_CARD", "5", F, Some("Blocked Card")),
    outcome("CARD_EXPIRED", "6", F, Some("Expired Card")),
    outcome("INVALID_AMOUNT", "7", F, Some("Invalid Amount")),
    outcome("INVALID_CARD_NUMBER", "8", F, Some("Invalid Card Number")),
    outcome("ISSUER_UNAVAILABLE", "9", F, Some("Issuer Unavailable")),
    outcome("NOT_SUPPORTED", "10", F, Some("Not supported")),
    outcome(
        "NOT_3D_AUTHENTICATED",
        "11",
        F,
        Some("3D Not Authenticated"),
    ),
    outcome("NOT_ENOUGH_BALANCE", "12", F, Some("Not enough balance")),
    outcome("PENDING", "13", R, None),
    outcome("ACQUIRER_FRAUD", "14", F, Some("Acquirer Fraud")),
    outcome("CANCELLED", "15", F, Some("Cancelled")),
    outcome("SHOPPER_CANCELLED", "16", F, Some("Shopper Cancelled")),
    outcome("INVALID_PIN", "17", F, Some("Invalid Pin")),
    outcome("PIN_TRIES_EXCEEDED", "18", F, Some("Pin tries exceeded")),
    outcome(
        "PIN_VALIDATION_NOT_POSSIBLE",
        "19",
        F,
        Some("Pin validation not possible"),
    ),
    outcome("FRAUD", "20", F, Some("FRAUD")),
    outcome("NOT_SUBMITTED", "21", F, Some("Not Submitted")),
    outcome("FRAUD_CANCELLED", "22", C, Some("FRAUD-CANCELLED")),
    outcome(
        "TRANSACTION_NOT_PERMITTED",
        "23",
        F,
        Some("Transaction Not Permitted"),
    ),
    outcome("CVC_DECLINED", "24", F, Some("CVC Declined")),
    outcome("RESTRICTED_CARD", "25", F, Some("Restricted Card")),
    outcome("REVOCATION_OF_AUTH", "26", F, Some("Revocation Of Auth")),
    outcome(
        "DECLINED_NON_GENERIC",
        "27",
        F,
        Some("Declined Non Generic"),
    ),
    outcome(
        "WITHDRAWAL_AMOUNT_EXCEEDED",
        "28",
        F,
        Some("Withdrawal amount exceeded"),
    ),
    outcome(
        "WITHDRAWAL_COUNT_EXCEEDED",
        "29",
        F,
        Some("Withdrawal count exceeded"),
    ),
    outcome(
        "ISSUER_SUSPECTED_FRAUD",
        "31",
        F,
        Some("Issuer Suspected Fraud"),
    ),
    outcome("AVS_DECLINED", "32", F, Some("AVS Declined")),
    outcome("PIN_REQUIRED", "33", F, Some("Card requires online pin")),
    outcome(
        "NO_CHECKING_ACCOUNT",
        "34",
        F,
        Some("No checking account available on Card"),
    ),
    outcome(
        "NO_SAVINGS_ACCOUNT",
        "35",
        F,
        Some("No savings account available on Card"),
    ),
    outcome("MOBILE_PIN_REQUIRED", "36", F, Some("Mobile PIN required")),
    outcome(
        "CONTACTLESS_FALLBACK",
        "37",
        F,
        Some("Contactless fallback"),
    ),
    outcome(
        "AUTHENTICATION_REQUIRED",
        "38",
        F,
        Some("Authentication required"),
    ),
    outcome(
        "RREQ_NOT_RECEIVED",
        "39",
        F,
        Some("RReq not received from DS"),
    ),
    outcome(
        "BAN_CURRENT_AID",
        "40",
        F,
        Some("Current AID is in Penalty Box."),
    ),
    outcome(
        "CVM_REQUIRED",
        "41",
        F,
        Some("CVM Required Restart Payment"),
    ),
    outcome(
        "THREED_SECURE_ERROR",
        "42",
        F,
        Some("3DS Authentication Error"),
    ),
];

/// The outcome a `holderName` forces, if it is one of the test values.
pub fn by_holder_name(name: &str) -> Option<Outcome> {
    OUTCOMES.iter().copied().find(|o| o.holder_name == name)
}

/// The outcome a `RequestedTestAcquirerResponseCode` forces.
pub fn by_code(code: &str) -> Option<Outcome> {
    OUTCOMES.iter().copied().find(|o| o.code == code)
}

/// The refusal after a failed 3-D Secure authentication.
pub const NOT_AUTHENTICATED: Outcome = OUTCOMES[11];

/// An expired card's refusal.
pub const EXPIRED: Outcome = OUTCOMES[6];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_cards_are_valid_and_branded() {
        for card in TEST_CARDS {
            assert!(luhn_valid(card.number), "{}", card.number);
            assert_eq!(brand_of(card.number), card.brand, "{}", card.number);
        }
        assert!(!luhn_valid("4111111111111112"));
        assert_eq!(NOT_AUTHENTICATED.code, "11");
        assert_eq!(EXPIRED.holder_name, "CARD_EXPIRED");
        assert_eq!(by_code("12").unwrap().reason, Some("Not enough balance"));
    }
}
