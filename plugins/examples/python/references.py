"""References: everything the gateway needs to know about an object later, since no state
survives a call.

The host runs every call in a fresh instance, so this gateway keeps nothing: a reference says
what never changes about its object (how a payment was created, never where it stands now), and
every answer is computed from the call's input and the references in it.

========  =====================================================================
object    reference
========  =====================================================================
customer  ``py_cus_<customer digest>``
card      ``py_card_<card kind>_<customer digest>``
payment   ``py_pay_<auto|manual>_<amount>_<CURRENCY>_<card kind>_<customer digest>_<nonce>``
refund    ``py_re_<amount>_<reason>_<nonce>_<payment reference>``
========  =====================================================================

The customer digest is 32 hex digits of the SHA-256 of the CRM customer id; a nonce is 16 hex
digits of the SHA-256 of the operation's input and idempotency key, so repeating an operation
with the same key and input gives the same reference. A reference that does not parse, or that
this gateway could not have issued, is ``not-found``.
"""

import hashlib
import re
from dataclasses import dataclass

from wit_world.exports.charging import CaptureMode, RefundReason

import cards
from cards import TestCard
from errors import MAX_AMOUNT, not_found

PREFIX = "py"
"""Starts every reference, so that a reference of another gateway is never mistaken for one."""

_DIGEST = re.compile(r"[0-9a-f]{32}")
_NONCE = re.compile(r"[0-9a-f]{16}")
_AMOUNT = re.compile(r"[1-9][0-9]*")
_CURRENCY = re.compile(r"[A-Z]{3}")

_CAPTURE_WORDS = {CaptureMode.AUTOMATIC: "auto", CaptureMode.MANUAL: "manual"}
_REASON_WORDS = {
    None: "none",
    RefundReason.DUPLICATE: "duplicate",
    RefundReason.FRAUDULENT: "fraudulent",
    RefundReason.REQUESTED_BY_CUSTOMER: "customer",
}


def digest(*parts: str, length: int) -> str:
    """``length`` hex digits of the SHA-256 of ``parts``, one per line."""
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:length]


def nonce(*parts: str) -> str:
    """The nonce of an operation: 16 hex digits of the digest of its input and key."""
    return digest(*parts, length=16)


def _parts(reference: str, kind: str, count: int) -> list[str] | None:
    """The ``count`` fields after ``<prefix>_<kind>_``, or none when there are not exactly so many."""
    head = f"{PREFIX}_{kind}_"
    if not reference.startswith(head):
        return None
    parts = reference.removeprefix(head).split("_")
    return parts if len(parts) == count and all(parts) else None


def _amount(text: str) -> int | None:
    """A positive amount in canonical decimal, at most ``MAX_AMOUNT``."""
    if _AMOUNT.fullmatch(text) and int(text) <= MAX_AMOUNT:
        return int(text)
    return None


def customer_ref(crm_customer_id: str) -> str:
    """The customer of a CRM customer: the same for the same id, every time."""
    return f"{PREFIX}_cus_{digest(crm_customer_id, length=32)}"


def parse_customer(reference: str) -> str:
    """The customer digest of a customer reference; raises ``not-found`` otherwise."""
    parts = _parts(reference, "cus", 1)
    if parts is None or not _DIGEST.fullmatch(parts[0]):
        raise not_found("customer", reference)
    return parts[0]


@dataclass(frozen=True)
class CardRef:
    """A stored card: which test card, and whose."""

    card: TestCard
    customer: str

    def encode(self) -> str:
        return f"{PREFIX}_card_{self.card.kind}_{self.customer}"

    @property
    def customer_ref(self) -> str:
        return f"{PREFIX}_cus_{self.customer}"

    @staticmethod
    def parse(reference: str, customer: str | None = None) -> "CardRef":
        """Parses a card reference (of ``customer``'s, when given); raises ``not-found``."""
        parts = _parts(reference, "card", 2)
        card = cards.by_kind(parts[0]) if parts else None
        if parts is None or card is None or not _DIGEST.fullmatch(parts[1]):
            raise not_found("card", reference)
        if customer is not None and parts[1] != customer:
            raise not_found("card", reference)
        return CardRef(card, parts[1])


@dataclass(frozen=True)
class PaymentRef:
    """A payment, as it was created: never where it stands now."""

    capture: CaptureMode
    amount: int
    currency: str
    card: CardRef
    nonce: str

    def encode(self) -> str:
        return "_".join([
            f"{PREFIX}_pay",
            _CAPTURE_WORDS[self.capture],
            str(self.amount),
            self.currency,
            self.card.card.kind,
            self.card.customer,
            self.nonce,
        ])

    @staticmethod
    def decode(reference: str) -> "PaymentRef | None":
        """The payment a reference names, or none when this gateway could not have issued it."""
        parts = _parts(reference, "pay", 6)
        if parts is None:
            return None
        capture_word, amount_text, currency, kind, customer, nonce_text = parts
        capture = next((c for c, w in _CAPTURE_WORDS.items() if w == capture_word), None)
        amount = _amount(amount_text)
        card = cards.by_kind(kind)
        if (
            capture is None
            or amount is None
            or card is None
            or not _CURRENCY.fullmatch(currency)
            or not _DIGEST.fullmatch(customer)
            or not _NONCE.fullmatch(nonce_text)
        ):
            return None
        return PaymentRef(capture, amount, currency, CardRef(card, customer), nonce_text)

    @staticmethod
    def parse(reference: str) -> "PaymentRef":
        """Parses a payment reference; raises ``not-found``."""
        payment = PaymentRef.decode(reference)
        if payment is None:
            raise not_found("payment", reference)
        return payment


@dataclass(frozen=True)
class RefundRef:
    """A refund: its amount and reason, and the payment refunded (whose reference it embeds)."""

    amount: int
    reason: RefundReason | None
    nonce: str
    payment: PaymentRef

    def encode(self) -> str:
        reason = _REASON_WORDS[self.reason]
        return f"{PREFIX}_re_{self.amount}_{reason}_{self.nonce}_{self.payment.encode()}"

    @staticmethod
    def parse(reference: str) -> "RefundRef":
        """Parses a refund reference; raises ``not-found``."""
        head = f"{PREFIX}_re_"
        fields = reference.removeprefix(head).split("_", 3)
        if reference.startswith(head) and len(fields) == 4:
            amount_text, reason_word, nonce_text, payment_text = fields
            amount = _amount(amount_text)
            reasons = [r for r, w in _REASON_WORDS.items() if w == reason_word]
            payment = PaymentRef.decode(payment_text)
            if (
                amount is not None
                and reasons
                and _NONCE.fullmatch(nonce_text)
                and payment is not None
                and amount <= payment.amount
            ):
                return RefundRef(amount, reasons[0], nonce_text, payment)
        raise not_found("refund", reference)
