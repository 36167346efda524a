//! Adyen's refusal reasons in the contract's terms: the normalized category of a
//! `refusalReasonCode`, and a message safe to show the customer.
//!
//! The codes are Adyen's mapped refusal reasons (docs.adyen.com
//! "development-resources/refusal-reasons", and "development-resources/testing/result-codes",
//! which lists every code with the value that forces it in the test environment). Customer
//! messages never tell a customer that a payment looked fraudulent: a fraud refusal reads as a
//! plain decline.

use omnicrm_gateway_sdk::types::{Decline, DeclineCategory};

use DeclineCategory::*;

/// `refusalReasonCode`, Adyen's `refusalReason`, and the category.
pub const TABLE: &[(&str, &str, DeclineCategory)] = &[
    ("0", "Unknown", Other),
    ("2", "Refused", DoNotHonor),
    ("3", "Referral", DoNotHonor),
    ("4", "Acquirer Error", TryAgainLater),
    ("5", "Blocked Card", SuspectedFraud),
    ("6", "Expired Card", ExpiredCard),
    ("7", "Invalid Amount", Other),
    ("8", "Invalid Card Number", IncorrectDetails),
    ("9", "Issuer Unavailable", TryAgainLater),
    ("10", "Not supported", Other),
    ("11", "3D Not Authenticated", AuthenticationRequired),
    ("12", "Not enough balance", InsufficientFunds),
    ("14", "Acquirer Fraud", SuspectedFraud),
    ("15", "Cancelled", Other),
    ("16", "Shopper Cancelled", Other),
    ("17", "Invalid Pin", IncorrectDetails),
    ("18", "Pin tries exceeded", Other),
    ("19", "Pin validation not possible", Other),
    ("20", "FRAUD", SuspectedFraud),
    ("21", "Not Submitted", TryAgainLater),
    ("22", "FRAUD-CANCELLED", SuspectedFraud),
    ("23", "Transaction Not Permitted", Other),
    ("24", "CVC Declined", IncorrectDetails),
    ("25", "Restricted Card", SuspectedFraud),
    ("26", "Revocation Of Auth", Other),
    ("27", "Declined Non Generic", DoNotHonor),
    ("28", "Withdrawal amount exceeded", Other),
    ("29", "Withdrawal count exceeded", Other),
    ("31", "Issuer Suspected Fraud", SuspectedFraud),
    ("32", "AVS Declined", IncorrectDetails),
    ("33", "Card requires online pin", Other),
    ("34", "No checking account available on Card", Other),
    ("35", "No savings account available on Card", Other),
    ("36", "Mobile PIN required", Other),
    ("37", "Contactless fallback", Other),
    ("38", "Authentication required", AuthenticationRequired),
    ("39", "RReq not received from DS", TryAgainLater),
    ("40", "Current AID is in Penalty Box.", Other),
    ("41", "CVM Required Restart Payment", Other),
    ("42", "3DS Authentication Error", TryAgainLater),
];

/// The category of a `refusalReasonCode`; codes the table lacks are `other`.
pub fn category(code: &str) -> DeclineCategory {
    TABLE
        .iter()
        .find(|(c, _, _)| *c == code.trim())
        .map_or(Other, |(_, _, category)| *category)
}

/// What the customer may be told about a decline of `category`.
pub fn customer_message(category: DeclineCategory) -> &'static str {
    match category {
        InsufficientFunds => "The card has insufficient funds.",
        ExpiredCard => "The card has expired.",
        IncorrectDetails => "The card details are incorrect.",
        AuthenticationRequired => "The card issuer asks the customer to authenticate the payment.",
        TryAgainLater => "The card issuer could not be reached. Please try again later.",
        // Fraud refusals read as plain declines.
        DoNotHonor | SuspectedFraud | Other => {
            "The card was declined. Please use another card or contact the card issuer."
        }
    }
}

/// The contract's decline of a refusal: Adyen's code (or `0` when it gave none), its reason, and
/// the payment it refused.
pub fn decline(code: Option<&str>, reason: Option<String>, payment: Option<String>) -> Decline {
    let code = code.map(str::trim).filter(|c| !c.is_empty()).unwrap_or("0");
    let category = category(code);
    Decline::new(category, code, customer_message(category))
        .with_reason(reason)
        .with_payment(payment)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_code_has_its_category() {
        for (code, expected) in [
            ("2", DoNotHonor),
            ("5", SuspectedFraud),
            ("6", ExpiredCard),
            ("8", IncorrectDetails),
            ("9", TryAgainLater),
            ("11", AuthenticationRequired),
            ("12", InsufficientFunds),
            ("20", SuspectedFraud),
            ("24", IncorrectDetails),
            ("31", SuspectedFraud),
            ("38", AuthenticationRequired),
            (" 12 ", InsufficientFunds),
            ("13", Other),
            ("999", Other),
            ("", Other),
        ] {
            assert_eq!(category(code), expected, "{code:?}");
        }
        let mut codes: Vec<&str> = TABLE.iter().map(|(c, _, _)| *c).collect();
        codes.dedup();
        assert_eq!(codes.len(), TABLE.len(), "one row per code");
    }

    #[test]
    fn customer_messages_never_mention_fraud() {
        for (code, reason, category) in TABLE {
            let d = decline(Some(code), Some((*reason).to_owned()), Some("PSP1".into()));
            assert_eq!(d.category, *category);
            assert_eq!(d.code, *code);
            assert_eq!(d.decline_reason.as_deref(), Some(*reason));
            assert_eq!(d.payment.as_deref(), Some("PSP1"));
            let message = d.customer_message.to_ascii_lowercase();
            for word in ["fraud", "stolen", "blocked", "restricted", "suspect"] {
                assert!(!message.contains(word), "{code}: {message}");
            }
        }
        assert_eq!(
            customer_message(SuspectedFraud),
            customer_message(DoNotHonor)
        );
        let unknown = decline(None, None, None);
        assert_eq!((unknown.code.as_str(), unknown.category), ("0", Other));
    }
}
