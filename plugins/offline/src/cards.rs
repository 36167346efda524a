//! The test cards: Stripe's test tokens and how each behaves when charged, and the decline
//! categories of their codes.

use omnicrm_gateway_sdk::tokens::CardFunding;
use omnicrm_gateway_sdk::types::DeclineCategory;

/// What happens when a card is charged.
pub enum Behaviour {
    /// The charge succeeds (or is authorized, with manual capture).
    Succeed,
    /// The charge is declined.
    Decline {
        /// The gateway's error code.
        code: &'static str,
        /// The issuer's reason, if any.
        reason: Option<&'static str>,
        /// A message safe to show to the customer.
        message: &'static str,
    },
    /// The issuer wants the customer to authenticate: the customer must come back on-session.
    AuthenticationRequired,
    /// The issuer wants the customer to authenticate (3-D Secure): a customer-initiated charge
    /// is sent to a redirect, a merchant-initiated one must bring the customer on-session.
    Redirect,
}

impl Behaviour {
    /// Whether a charge waits for the customer's action.
    pub fn needs_action(&self) -> bool {
        matches!(
            self,
            Behaviour::AuthenticationRequired | Behaviour::Redirect
        )
    }
}

/// A test card.
pub struct TestCard {
    /// Stripe's name: the token is `tok_<name>` or `pm_card_<name>`.
    pub name: &'static str,
    /// The short name used in references (lower-case letters only).
    pub kind: &'static str,
    pub brand: &'static str,
    pub last4: &'static str,
    pub funding: CardFunding,
    pub behaviour: Behaviour,
}

const fn card(
    name: &'static str,
    kind: &'static str,
    brand: &'static str,
    last4: &'static str,
    funding: CardFunding,
    behaviour: Behaviour,
) -> TestCard {
    TestCard {
        name,
        kind,
        brand,
        last4,
        funding,
        behaviour,
    }
}

const fn decline(
    code: &'static str,
    reason: Option<&'static str>,
    message: &'static str,
) -> Behaviour {
    Behaviour::Decline {
        code,
        reason,
        message,
    }
}

const DECLINED: &str = "Your card was declined.";

use Behaviour::{AuthenticationRequired as AUTH, Redirect as REDIRECT, Succeed as OK};
use CardFunding::{Credit, Debit};

/// Every test card, in the order of the crate documentation's table.
pub static CARDS: &[TestCard] = &[
    card("visa", "visa", "visa", "4242", Credit, OK),
    card("visa_debit", "visadebit", "visa", "5556", Debit, OK),
    card("mastercard", "mastercard", "mastercard", "4444", Credit, OK),
    card("amex", "amex", "amex", "8431", Credit, OK),
    card("discover", "discover", "discover", "1117", Credit, OK),
    card("bypassPending", "bypasspending", "visa", "0077", Credit, OK),
    card("createDispute", "dispute", "visa", "0259", Credit, OK),
    card(
        "createDisputeProductNotReceived",
        "disputenotreceived",
        "visa",
        "2685",
        Credit,
        OK,
    ),
    card(
        "createDisputeInquiry",
        "disputeinquiry",
        "visa",
        "1976",
        Credit,
        OK,
    ),
    card(
        "authenticationRequiredSetupForOffSession",
        "authoffsession",
        "visa",
        "0446",
        Credit,
        OK,
    ),
    card(
        "chargeDeclined",
        "declined",
        "visa",
        "0002",
        Credit,
        decline("card_declined", Some("generic_decline"), DECLINED),
    ),
    card(
        "chargeDeclinedInsufficientFunds",
        "insufficientfunds",
        "visa",
        "9995",
        Credit,
        decline(
            "card_declined",
            Some("insufficient_funds"),
            "Your card has insufficient funds.",
        ),
    ),
    card(
        "chargeDeclinedLostCard",
        "lostcard",
        "visa",
        "9987",
        Credit,
        decline("card_declined", Some("lost_card"), DECLINED),
    ),
    card(
        "chargeDeclinedStolenCard",
        "stolencard",
        "visa",
        "9979",
        Credit,
        decline("card_declined", Some("stolen_card"), DECLINED),
    ),
    card(
        "chargeDeclinedExpiredCard",
        "expiredcard",
        "visa",
        "0069",
        Credit,
        decline("expired_card", None, "Your card has expired."),
    ),
    card(
        "chargeDeclinedIncorrectCvc",
        "incorrectcvc",
        "visa",
        "0127",
        Credit,
        decline(
            "incorrect_cvc",
            None,
            "Your card's security code is incorrect.",
        ),
    ),
    card(
        "chargeDeclinedProcessingError",
        "processingerror",
        "visa",
        "0119",
        Credit,
        decline(
            "processing_error",
            None,
            "An error occurred while processing your card. Try again in a little bit.",
        ),
    ),
    card(
        "chargeDeclinedFraudulent",
        "fraudulent",
        "visa",
        "0019",
        Credit,
        decline("card_declined", Some("fraudulent"), DECLINED),
    ),
    card(
        "chargeCustomerFail",
        "customerfail",
        "visa",
        "0341",
        Credit,
        decline("card_declined", Some("generic_decline"), DECLINED),
    ),
    card(
        "authenticationRequired",
        "authrequired",
        "visa",
        "3184",
        Credit,
        AUTH,
    ),
    card(
        "authenticationRequiredOnSetup",
        "authonsetup",
        "visa",
        "3155",
        Credit,
        AUTH,
    ),
    card(
        "threeDSecure2Required",
        "threedsecure",
        "visa",
        "3220",
        Credit,
        REDIRECT,
    ),
];

/// The test card of a token (`tok_<name>` or `pm_card_<name>`).
pub fn by_token(token: &str) -> Option<&'static TestCard> {
    let name = token
        .strip_prefix("pm_card_")
        .or_else(|| token.strip_prefix("tok_"))?;
    CARDS.iter().find(|c| c.name == name)
}

/// The test card of a reference's card kind.
pub fn by_kind(kind: &str) -> Option<&'static TestCard> {
    CARDS.iter().find(|c| c.kind == kind)
}

/// Expiry month of every test card.
pub const EXP_MONTH: u8 = 12;
/// Expiry year of every test card.
pub const EXP_YEAR: u16 = 2034;

/// The normalized category of a decline, from the issuer's reason when it is a known one, else
/// from the code (the codes and reasons of Stripe's test cards, which this gateway imitates).
pub fn decline_category(code: &str, reason: Option<&str>) -> DeclineCategory {
    use DeclineCategory::*;
    let by_reason = reason.and_then(|reason| {
        Some(match reason {
            "insufficient_funds" => InsufficientFunds,
            "expired_card" => ExpiredCard,
            "incorrect_cvc" | "incorrect_number" | "incorrect_zip" => IncorrectDetails,
            "generic_decline" | "do_not_honor" => DoNotHonor,
            "lost_card" | "stolen_card" | "fraudulent" | "pickup_card" | "restricted_card" => {
                SuspectedFraud
            }
            "authentication_required" => AuthenticationRequired,
            "processing_error" | "try_again_later" => TryAgainLater,
            _ => return None,
        })
    });
    by_reason.unwrap_or(match code {
        "expired_card" => ExpiredCard,
        "incorrect_cvc" | "incorrect_number" | "incorrect_zip" | "invalid_expiry_year" => {
            IncorrectDetails
        }
        "processing_error" => TryAgainLater,
        "authentication_required" | "authentication_failed" => AuthenticationRequired,
        "card_declined" if reason.is_none() => DoNotHonor,
        _ => Other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_declining_card_has_the_category_of_its_reason() {
        let category = |name: &str| match &by_token(&format!("tok_{name}")).unwrap().behaviour {
            Behaviour::Decline { code, reason, .. } => decline_category(code, *reason),
            _ => panic!("{name} does not decline"),
        };
        use DeclineCategory::*;
        for (name, expected) in [
            ("chargeDeclined", DoNotHonor),
            ("chargeDeclinedInsufficientFunds", InsufficientFunds),
            ("chargeDeclinedLostCard", SuspectedFraud),
            ("chargeDeclinedStolenCard", SuspectedFraud),
            ("chargeDeclinedFraudulent", SuspectedFraud),
            ("chargeCustomerFail", DoNotHonor),
            ("chargeDeclinedExpiredCard", ExpiredCard),
            ("chargeDeclinedIncorrectCvc", IncorrectDetails),
            ("chargeDeclinedProcessingError", TryAgainLater),
        ] {
            assert_eq!(category(name), expected, "{name}");
        }
        assert_eq!(decline_category("card_declined", None), DoNotHonor);
        assert_eq!(decline_category("card_declined", Some("velocity")), Other);
        assert_eq!(decline_category("something_new", None), Other);
        assert_eq!(
            decline_category("authentication_failed", None),
            AuthenticationRequired
        );
    }

    #[test]
    fn tokens_and_kinds_name_one_card_each() {
        for card in CARDS {
            assert!(
                card.kind.bytes().all(|b| b.is_ascii_lowercase()),
                "{}",
                card.kind
            );
            assert_eq!(CARDS.iter().filter(|c| c.kind == card.kind).count(), 1);
            let token = by_token(&format!("pm_card_{}", card.name)).unwrap();
            assert_eq!(token.kind, card.kind);
        }
        assert!(by_token("tok_nonsense").is_none() && by_token("visa").is_none());
        assert!(
            by_token("tok_threeDSecure2Required")
                .unwrap()
                .behaviour
                .needs_action()
        );
    }
}
