"""The test cards: which tokens this gateway stores, and what happens when each is charged.

The tokens are Stripe's test names (``tok_visa`` or ``pm_card_visa``), so that a CRM set up for
Stripe's test mode works with this gateway unchanged. A card's *kind* (lower-case letters only)
names it inside references.
"""

from dataclasses import dataclass

from wit_world.exports.tokens import CardFunding
from wit_world.imports.omnicrm_payments_types import DeclineCategory


@dataclass(frozen=True)
class Decline:
    """How a declining card is declined."""

    code: str
    reason: str | None
    category: DeclineCategory
    message: str


@dataclass(frozen=True)
class TestCard:
    """A card the gateway stores from a test token. Charging it succeeds, unless it declines or
    needs the customer to authenticate."""

    name: str
    kind: str
    brand: str
    last4: str
    funding: CardFunding = CardFunding.CREDIT
    decline: Decline | None = None
    needs_authentication: bool = False

    @property
    def takes_money(self) -> bool:
        """Whether a charge of this card succeeds without the customer."""
        return self.decline is None and not self.needs_authentication


_DECLINED = "Your card was declined."

CARDS: tuple[TestCard, ...] = (
    TestCard("visa", "visa", "visa", "4242"),
    TestCard("visa_debit", "visadebit", "visa", "5556", funding=CardFunding.DEBIT),
    TestCard("mastercard", "mastercard", "mastercard", "4444"),
    TestCard(
        "chargeDeclined", "declined", "visa", "0002",
        decline=Decline("card_declined", "generic_decline", DeclineCategory.DO_NOT_HONOR, _DECLINED),
    ),
    TestCard(
        "chargeDeclinedInsufficientFunds", "insufficientfunds", "visa", "9995",
        decline=Decline(
            "card_declined", "insufficient_funds", DeclineCategory.INSUFFICIENT_FUNDS,
            "Your card has insufficient funds.",
        ),
    ),
    TestCard(
        "chargeDeclinedExpiredCard", "expiredcard", "visa", "0069",
        decline=Decline("expired_card", None, DeclineCategory.EXPIRED_CARD, "Your card has expired."),
    ),
    TestCard(
        "chargeDeclinedFraudulent", "fraudulent", "visa", "0019",
        decline=Decline("card_declined", "fraudulent", DeclineCategory.SUSPECTED_FRAUD, _DECLINED),
    ),
    TestCard(
        "chargeDeclinedProcessingError", "processingerror", "visa", "0119",
        decline=Decline(
            "processing_error", None, DeclineCategory.TRY_AGAIN_LATER,
            "An error occurred while processing your card. Try again in a little bit.",
        ),
    ),
    TestCard("threeDSecure2Required", "threedsecure", "visa", "3220", needs_authentication=True),
)

EXP_MONTH = 12
"""Expiry month of every test card."""
EXP_YEAR = 2034
"""Expiry year of every test card."""


def by_token(token: str) -> TestCard | None:
    """The card of a token: ``tok_<name>`` or ``pm_card_<name>``."""
    for prefix in ("tok_", "pm_card_"):
        if token.startswith(prefix):
            name = token.removeprefix(prefix)
            return next((card for card in CARDS if card.name == name), None)
    return None


def by_kind(kind: str) -> TestCard | None:
    """The card of a kind, as references spell it."""
    return next((card for card in CARDS if card.kind == kind), None)
