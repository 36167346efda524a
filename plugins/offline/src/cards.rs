//! The test cards: Stripe's test tokens and how each behaves when charged.

use omnicrm_gateway_sdk::exports::omnicrm::payments::charging::PaymentStatus;
use omnicrm_gateway_sdk::exports::omnicrm::payments::tokens::CardFunding;

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
    /// The issuer wants the customer to authenticate: impossible off-session.
    AuthenticationRequired,
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

impl TestCard {
    /// Whether a payment with this card can be in `status`.
    pub fn could_reach(&self, status: PaymentStatus) -> bool {
        match status {
            PaymentStatus::Succeeded | PaymentStatus::RequiresCapture => {
                matches!(self.behaviour, Behaviour::Succeed)
            }
            PaymentStatus::Failed => matches!(self.behaviour, Behaviour::Decline { .. }),
            PaymentStatus::RequiresAction => {
                matches!(self.behaviour, Behaviour::AuthenticationRequired)
            }
            PaymentStatus::Canceled => true,
            PaymentStatus::Processing => false,
        }
    }
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

use Behaviour::{AuthenticationRequired as AUTH, Succeed as OK};
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
