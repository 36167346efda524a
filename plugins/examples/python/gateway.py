"""An example payment gateway in Python: the ``gateway`` world of ``omnicrm:payments@0.2.0``.

componentize-py builds this module into a component (see ``README.md`` beside it). Each
interface the world exports is a class named after it (``Info``, ``Tokens``, ``Charging``,
``Webhooks``) implementing the protocol of the generated bindings (``wit_world.exports``).

A stateless, network-free test gateway: customers derived from the CRM id, cards stored from
Stripe's test tokens, charges that succeed, decline (with a category) or wait for the customer,
captures, voids and refunds, and webhooks verified by the host. The host runs every call in a
fresh instance, so the references it returns hold all it needs later (see ``references.py``).
"""

from wit_world import exports
from wit_world.exports.charging import (
    ActionCompletion,
    CaptureRequest,
    ChargeRequest,
    Modification,
    Payment,
    Refund,
    RefundRequest,
    VoidRequest,
)
from wit_world.exports.info import Capabilities, GatewayInfo
from wit_world.exports.tokens import (
    CardSession,
    CardSessionRequest,
    Customer,
    CustomerRequest,
    StoreCardRequest,
    StoredCard,
)
from wit_world.exports.webhooks import WebhookOutcome, WebhookRequest

import cards
import charges
import events
from references import CardRef, customer_ref, digest, parse_customer
from errors import CURRENCIES, check_key, check_metadata, invalid, unsupported

VERSION = "0.1.0"


class Info(exports.Info):
    def describe(self) -> GatewayInfo:
        # Declares only what it does: no lookup of payments (a reference cannot say where a
        # payment stands now), no card sessions, no fees, no disputes.
        return GatewayInfo(
            name="python-example",
            display_name="Python example gateway",
            version=VERSION,
            currencies=CURRENCIES,
            capabilities=Capabilities.PARTIAL_CAPTURE
            | Capabilities.REFUND_LOOKUP
            | Capabilities.CUSTOMER_ACTIONS,
        )


class Tokens(exports.Tokens):
    def ensure_customer(self, request: CustomerRequest, idempotency_key: str) -> Customer:
        check_key(idempotency_key)
        if not request.crm_customer_id:
            raise invalid("crm-customer-id", "must not be empty")
        check_metadata(request.metadata)
        # Derived from the CRM id, so "created" by the first call with this CRM customer's key.
        return Customer(
            id=customer_ref(request.crm_customer_id),
            crm_customer_id=request.crm_customer_id,
            default_card=None,
            created=True,
        )

    def store_card(self, request: StoreCardRequest) -> StoredCard:
        check_key(request.idempotency_key)
        customer = parse_customer(request.customer)
        card = cards.by_token(request.token)
        if card is None:
            raise invalid("token", "not a test token: use tok_<name> or pm_card_<name>, such as tok_visa")
        return stored_card(CardRef(card, customer), request.make_default)

    def start_card_session(self, request: CardSessionRequest) -> CardSession:
        raise unsupported("card sessions: store a test token with store-card")

    def list_cards(self, customer: str) -> list[StoredCard]:
        parse_customer(customer)
        return []  # Nothing is kept: the host's ledger lists the cards.

    def set_default_card(self, customer: str, card: str) -> None:
        CardRef.parse(card, parse_customer(customer))

    def remove_card(self, customer: str, card: str) -> None:
        CardRef.parse(card, parse_customer(customer))


class Charging(exports.Charging):
    def charge(self, request: ChargeRequest) -> Payment:
        return charges.charge(request)

    def capture_payment(self, request: CaptureRequest) -> Modification:
        return charges.capture_payment(request)

    def void_payment(self, request: VoidRequest) -> Modification:
        return charges.void_payment(request)

    def refund_payment(self, request: RefundRequest) -> Refund:
        return charges.refund_payment(request)

    def complete_action(self, request: ActionCompletion) -> Payment:
        return charges.complete_action(request)

    def get_payment(self, payment: str) -> Payment:
        raise unsupported("payment lookup: a reference says how a payment began, not where it stands")

    def get_refund(self, refund: str) -> Refund:
        return charges.get_refund(refund)


class Webhooks(exports.Webhooks):
    def handle_webhook(self, request: WebhookRequest) -> WebhookOutcome:
        return events.handle_webhook(request)


def stored_card(card: CardRef, is_default: bool) -> StoredCard:
    """The stored card a reference describes."""
    return StoredCard(
        id=card.encode(),
        customer=card.customer_ref,
        brand=card.card.brand,
        last4=card.card.last4,
        exp_month=cards.EXP_MONTH,
        exp_year=cards.EXP_YEAR,
        fingerprint="fp_" + digest(card.card.kind, length=16),
        funding=card.card.funding,
        country="US",
        is_default=is_default,
        network_transaction_id=None,
    )
