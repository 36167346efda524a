//! The test cards of Stripe's test mode (`pm_card_*`, `tok_*`, and their numbers) and how each one
//! behaves.

/// How a test card behaves when attached, set up or charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Every operation succeeds.
    Succeed,
    /// Declined when attached, set up or charged (Stripe verifies a card when it is attached).
    Decline(Decline),
    /// Attaching succeeds; every charge is declined (`generic_decline`).
    ChargeCustomerFail,
    /// Every payment needs authentication, however the card was set up.
    AuthenticationAlways,
    /// Payments need authentication unless the card was set up for off-session use.
    AuthenticationUnlessSetUp,
    /// On-session payments need authentication; off-session ones succeed as if set up.
    AuthenticationOnSession,
    /// The charge succeeds, then a dispute opens.
    Dispute {
        /// The dispute's reason.
        reason: &'static str,
        /// An inquiry (`warning_needs_response`, no money moved) rather than a chargeback.
        inquiry: bool,
    },
    /// Succeeds and the funds are available at once.
    BypassPending,
}

/// A card decline: `code`, `decline_code` and the customer-facing message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decline {
    /// Stripe's error code.
    pub code: &'static str,
    /// The issuer's reason.
    pub decline_code: &'static str,
    /// The message that is safe to show to the customer.
    pub message: &'static str,
}

const DECLINED: &str = "Your card was declined.";

/// One test card.
#[derive(Debug, Clone, Copy)]
pub struct TestCard {
    /// The name after `pm_card_` / `tok_` (`visa`, `chargeDeclined`, ...).
    pub name: &'static str,
    /// The full card number (the emulator only ever shows `last4`).
    pub number: &'static str,
    /// Lower-case brand.
    pub brand: &'static str,
    /// `credit`, `debit` or `prepaid`.
    pub funding: &'static str,
    /// Issuing country.
    pub country: &'static str,
    /// What it does.
    pub behaviour: Behaviour,
}

const fn card(
    name: &'static str,
    number: &'static str,
    brand: &'static str,
    funding: &'static str,
    behaviour: Behaviour,
) -> TestCard {
    TestCard {
        name,
        number,
        brand,
        funding,
        country: "US",
        behaviour,
    }
}

const fn decline(
    code: &'static str,
    decline_code: &'static str,
    message: &'static str,
) -> Behaviour {
    Behaviour::Decline(Decline {
        code,
        decline_code,
        message,
    })
}

use Behaviour::*;

/// Every test card the emulator knows.
pub const TEST_CARDS: &[TestCard] = &[
    card("visa", "4242424242424242", "visa", "credit", Succeed),
    card("visa_debit", "4000056655665556", "visa", "debit", Succeed),
    card(
        "mastercard",
        "5555555555554444",
        "mastercard",
        "credit",
        Succeed,
    ),
    card(
        "mastercard_debit",
        "5200828282828210",
        "mastercard",
        "debit",
        Succeed,
    ),
    card(
        "mastercard_prepaid",
        "5105105105105100",
        "mastercard",
        "prepaid",
        Succeed,
    ),
    card("amex", "378282246310005", "amex", "credit", Succeed),
    card(
        "discover",
        "6011111111111117",
        "discover",
        "credit",
        Succeed,
    ),
    card("diners", "3056930009020004", "diners", "credit", Succeed),
    card("jcb", "3566002020360505", "jcb", "credit", Succeed),
    card(
        "unionpay",
        "6200000000000005",
        "unionpay",
        "credit",
        Succeed,
    ),
    card(
        "chargeDeclined",
        "4000000000000002",
        "visa",
        "credit",
        decline("card_declined", "generic_decline", DECLINED),
    ),
    card(
        "chargeDeclinedInsufficientFunds",
        "4000000000009995",
        "visa",
        "credit",
        decline(
            "card_declined",
            "insufficient_funds",
            "Your card has insufficient funds.",
        ),
    ),
    card(
        "chargeDeclinedLostCard",
        "4000000000009987",
        "visa",
        "credit",
        decline("card_declined", "lost_card", DECLINED),
    ),
    card(
        "chargeDeclinedStolenCard",
        "4000000000009979",
        "visa",
        "credit",
        decline("card_declined", "stolen_card", DECLINED),
    ),
    card(
        "chargeDeclinedExpiredCard",
        "4000000000000069",
        "visa",
        "credit",
        decline("expired_card", "expired_card", "Your card has expired."),
    ),
    card(
        "chargeDeclinedIncorrectCvc",
        "4000000000000127",
        "visa",
        "credit",
        decline(
            "incorrect_cvc",
            "incorrect_cvc",
            "Your card's security code is incorrect.",
        ),
    ),
    card(
        "chargeDeclinedProcessingError",
        "4000000000000119",
        "visa",
        "credit",
        decline(
            "processing_error",
            "processing_error",
            "An error occurred while processing your card. Try again in a little bit.",
        ),
    ),
    card(
        "chargeDeclinedFraudulent",
        "4100000000000019",
        "visa",
        "credit",
        decline("card_declined", "fraudulent", DECLINED),
    ),
    card(
        "chargeCustomerFail",
        "4000000000000341",
        "visa",
        "credit",
        ChargeCustomerFail,
    ),
    card(
        "authenticationRequired",
        "4000002760003184",
        "visa",
        "credit",
        AuthenticationAlways,
    ),
    card(
        "threeDSecure2Required",
        "4000000000003220",
        "visa",
        "credit",
        AuthenticationAlways,
    ),
    card(
        "authenticationRequiredOnSetup",
        "4000002500003155",
        "visa",
        "credit",
        AuthenticationUnlessSetUp,
    ),
    card(
        "authenticationRequiredSetupForOffSession",
        "4000003800000446",
        "visa",
        "credit",
        AuthenticationOnSession,
    ),
    card(
        "createDispute",
        "4000000000000259",
        "visa",
        "credit",
        Dispute {
            reason: "fraudulent",
            inquiry: false,
        },
    ),
    card(
        "createDisputeProductNotReceived",
        "4000000000002685",
        "visa",
        "credit",
        Dispute {
            reason: "product_not_received",
            inquiry: false,
        },
    ),
    card(
        "createDisputeInquiry",
        "4000000000001976",
        "visa",
        "credit",
        Dispute {
            reason: "fraudulent",
            inquiry: true,
        },
    ),
    card(
        "bypassPending",
        "4000000000000077",
        "visa",
        "credit",
        BypassPending,
    ),
];

/// The card behind a test value: `pm_card_<name>`, `tok_<name>` (and `tok_visa_<name>` spellings
/// such as `tok_visa_chargeDeclined`), or a test card number.
pub fn lookup(value: &str) -> Option<&'static TestCard> {
    let name = value
        .strip_prefix("pm_card_")
        .or_else(|| value.strip_prefix("tok_"));
    match name {
        Some(name) => TEST_CARDS.iter().find(|c| c.name == name).or_else(|| {
            let rest = name.strip_prefix("visa_")?;
            TEST_CARDS.iter().find(|c| c.name == rest)
        }),
        None => TEST_CARDS.iter().find(|c| c.number == value),
    }
}

/// The index of a card in [`TEST_CARDS`] (stored with each payment method).
pub fn index_of(card: &TestCard) -> usize {
    TEST_CARDS
        .iter()
        .position(|c| c.number == card.number)
        .unwrap_or(0)
}
