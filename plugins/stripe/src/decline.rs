//! The contract's decline categories of Stripe's declines: one table from Stripe's `decline_code`
//! (the issuer's reason), one from its error `code`.
//!
//! The issuer's reason decides when it is in the table; otherwise the code does; a plain
//! `card_declined` without a reason is the issuer declining without one (`do-not-honor`), and
//! anything else is `other`. Codes and reasons as Stripe documents them (decline codes and error
//! codes of its API reference).

use omnicrm_gateway_sdk::types::DeclineCategory;

/// Stripe's `decline_code` values and their categories.
const BY_DECLINE_CODE: &[(&str, DeclineCategory)] = &[
    ("insufficient_funds", DeclineCategory::InsufficientFunds),
    ("expired_card", DeclineCategory::ExpiredCard),
    ("incorrect_cvc", DeclineCategory::IncorrectDetails),
    ("invalid_cvc", DeclineCategory::IncorrectDetails),
    ("incorrect_number", DeclineCategory::IncorrectDetails),
    ("invalid_number", DeclineCategory::IncorrectDetails),
    ("incorrect_zip", DeclineCategory::IncorrectDetails),
    ("invalid_expiry_month", DeclineCategory::IncorrectDetails),
    ("invalid_expiry_year", DeclineCategory::IncorrectDetails),
    ("incorrect_pin", DeclineCategory::IncorrectDetails),
    ("invalid_pin", DeclineCategory::IncorrectDetails),
    ("generic_decline", DeclineCategory::DoNotHonor),
    ("do_not_honor", DeclineCategory::DoNotHonor),
    ("do_not_try_again", DeclineCategory::DoNotHonor),
    ("call_issuer", DeclineCategory::DoNotHonor),
    ("no_action_taken", DeclineCategory::DoNotHonor),
    ("revocation_of_authorization", DeclineCategory::DoNotHonor),
    (
        "revocation_of_all_authorizations",
        DeclineCategory::DoNotHonor,
    ),
    ("fraudulent", DeclineCategory::SuspectedFraud),
    ("lost_card", DeclineCategory::SuspectedFraud),
    ("stolen_card", DeclineCategory::SuspectedFraud),
    ("pickup_card", DeclineCategory::SuspectedFraud),
    ("restricted_card", DeclineCategory::SuspectedFraud),
    ("security_violation", DeclineCategory::SuspectedFraud),
    ("merchant_blacklist", DeclineCategory::SuspectedFraud),
    ("stop_payment_order", DeclineCategory::SuspectedFraud),
    (
        "authentication_required",
        DeclineCategory::AuthenticationRequired,
    ),
    (
        "offline_pin_required",
        DeclineCategory::AuthenticationRequired,
    ),
    (
        "online_or_offline_pin_required",
        DeclineCategory::AuthenticationRequired,
    ),
    ("approve_with_id", DeclineCategory::TryAgainLater),
    ("issuer_not_available", DeclineCategory::TryAgainLater),
    ("processing_error", DeclineCategory::TryAgainLater),
    ("reenter_transaction", DeclineCategory::TryAgainLater),
    ("try_again_later", DeclineCategory::TryAgainLater),
    ("card_not_supported", DeclineCategory::Other),
    ("card_velocity_exceeded", DeclineCategory::Other),
    ("currency_not_supported", DeclineCategory::Other),
    ("duplicate_transaction", DeclineCategory::Other),
    ("invalid_account", DeclineCategory::Other),
    ("invalid_amount", DeclineCategory::Other),
    ("new_account_information_available", DeclineCategory::Other),
    ("not_permitted", DeclineCategory::Other),
    ("pin_try_exceeded", DeclineCategory::Other),
    ("service_not_allowed", DeclineCategory::Other),
    ("testmode_decline", DeclineCategory::Other),
    ("transaction_not_allowed", DeclineCategory::Other),
    ("withdrawal_count_limit_exceeded", DeclineCategory::Other),
];

/// Stripe's error `code` values of card errors and their categories.
const BY_CODE: &[(&str, DeclineCategory)] = &[
    ("expired_card", DeclineCategory::ExpiredCard),
    ("incorrect_cvc", DeclineCategory::IncorrectDetails),
    ("invalid_cvc", DeclineCategory::IncorrectDetails),
    ("incorrect_number", DeclineCategory::IncorrectDetails),
    ("invalid_number", DeclineCategory::IncorrectDetails),
    ("incorrect_zip", DeclineCategory::IncorrectDetails),
    ("incorrect_address", DeclineCategory::IncorrectDetails),
    ("invalid_expiry_month", DeclineCategory::IncorrectDetails),
    ("invalid_expiry_year", DeclineCategory::IncorrectDetails),
    ("processing_error", DeclineCategory::TryAgainLater),
    (
        "authentication_required",
        DeclineCategory::AuthenticationRequired,
    ),
    (
        "payment_intent_authentication_failure",
        DeclineCategory::AuthenticationRequired,
    ),
    (
        "setup_intent_authentication_failure",
        DeclineCategory::AuthenticationRequired,
    ),
    (
        "card_decline_rate_limit_exceeded",
        DeclineCategory::TryAgainLater,
    ),
];

fn lookup(table: &[(&str, DeclineCategory)], key: &str) -> Option<DeclineCategory> {
    table.iter().find(|(k, _)| *k == key).map(|(_, c)| *c)
}

/// The category of a decline with Stripe's error `code` and `decline_code`.
pub fn category(code: &str, decline_code: Option<&str>) -> DeclineCategory {
    if let Some(category) = decline_code.and_then(|reason| lookup(BY_DECLINE_CODE, reason)) {
        return category;
    }
    match lookup(BY_CODE, code) {
        Some(category) => category,
        None if code == "card_declined" && decline_code.is_none() => DeclineCategory::DoNotHonor,
        None => DeclineCategory::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DeclineCategory::*;

    #[test]
    fn stripe_test_cards_land_in_their_categories() {
        // The declines of Stripe's test cards (`pm_card_chargeDeclined...`).
        for (code, reason, expected) in [
            ("card_declined", Some("generic_decline"), DoNotHonor),
            (
                "card_declined",
                Some("insufficient_funds"),
                InsufficientFunds,
            ),
            ("card_declined", Some("lost_card"), SuspectedFraud),
            ("card_declined", Some("stolen_card"), SuspectedFraud),
            ("card_declined", Some("fraudulent"), SuspectedFraud),
            ("expired_card", None, ExpiredCard),
            ("incorrect_cvc", None, IncorrectDetails),
            ("processing_error", None, TryAgainLater),
            ("authentication_required", None, AuthenticationRequired),
            (
                "card_declined",
                Some("authentication_required"),
                AuthenticationRequired,
            ),
            ("card_declined", Some("card_velocity_exceeded"), Other),
            ("card_declined", None, DoNotHonor),
        ] {
            assert_eq!(category(code, reason), expected, "{code} / {reason:?}");
        }
    }

    #[test]
    fn the_reason_decides_then_the_code_then_other() {
        // A reason this table does not know leaves the code to decide.
        assert_eq!(
            category("expired_card", Some("brand_new_reason")),
            ExpiredCard
        );
        // A generic code with an unknown reason is not guessed to be `do-not-honor`.
        assert_eq!(category("card_declined", Some("brand_new_reason")), Other);
        assert_eq!(category("something_else", None), Other);
        assert_eq!(category("", None), Other);
        // The reason wins over the code.
        assert_eq!(
            category("incorrect_cvc", Some("stolen_card")),
            SuspectedFraud
        );
    }

    #[test]
    fn the_tables_have_no_duplicates() {
        for table in [BY_DECLINE_CODE, BY_CODE] {
            for (i, (key, _)) in table.iter().enumerate() {
                assert!(
                    !table[..i].iter().any(|(k, _)| k == key),
                    "{key} appears twice"
                );
            }
        }
    }
}
