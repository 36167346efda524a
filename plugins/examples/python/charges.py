"""Charges, captures, voids, refunds and customer actions, answered from the payment reference
and the call's input alone.

Nothing remembers a capture, a void or a refund: each answer says where the payment stands
after *this* operation, and the host's ledger keeps the history. So a second capture, a void
after a capture, or refunds adding up to more than was taken are not detected here; a refund is
checked against the payment's amount.
"""

import time

from componentize_py_types import Err
from wit_world.exports.charging import (
    ActionCompletion,
    CaptureMode,
    CaptureRequest,
    ChargeRequest,
    Modification,
    ModificationStatus,
    Payment,
    PaymentStatus,
    Refund,
    RefundRequest,
    RefundStatus,
    StoredCredentialUse,
    VoidRequest,
)
from wit_world.imports.omnicrm_payments_types import (
    ActionRequired,
    Decline,
    DeclineCategory,
    GatewayError_ActionRequired,
    GatewayError_Declined,
    Money,
    NextAction,
    NextAction_BringCustomerOnSession,
    NextAction_Redirect,
    Redirect,
    RedirectMethod,
)

from references import CardRef, PaymentRef, RefundRef, nonce, parse_customer
from errors import (
    check_charge_amount,
    check_in_payment_currency,
    check_key,
    check_metadata,
    invalid,
)

AUTHENTICATION_PAGE = "https://example.invalid/authenticate/"
"""Where a redirect sends the customer. Nobody serves it: the customer's action is simulated,
and ``complete-action`` completes it."""

FAILED_AUTHENTICATION = ("result", "failed")
"""The key and value in ``action-completion.details`` that make the authentication fail."""


def charge(request: ChargeRequest) -> Payment:
    """Charges (or authorizes) a stored card: the payment, or a decline or an action needed."""
    check_key(request.idempotency_key)
    check_charge_amount(request.amount)
    check_metadata(request.metadata)
    card = CardRef.parse(request.card, parse_customer(request.customer))
    payment = PaymentRef(
        capture=request.capture,
        amount=request.amount.amount,
        currency=request.amount.currency,
        card=card,
        nonce=nonce(
            "charge",
            request.customer,
            request.card,
            str(request.amount.amount),
            request.amount.currency,
            request.capture.name.lower(),
            request.idempotency_key,
        ),
    )
    if (decline := decline_of(payment)) is not None:
        raise Err(GatewayError_Declined(decline))
    if card.card.needs_authentication:
        raise Err(
            GatewayError_ActionRequired(
                ActionRequired(
                    payment=payment.encode(),
                    next_action=_next_action(payment, request.stored_credential),
                    customer_message="Your bank asks you to authenticate this payment.",
                    request_id=None,
                )
            )
        )
    answer = _taken_or_authorized(payment)
    answer.description = request.description
    answer.metadata = request.metadata
    return answer


def capture_payment(request: CaptureRequest) -> Modification:
    """Captures part or all of an authorization; every capture is final."""
    check_key(request.idempotency_key)
    check_metadata(request.metadata)
    payment = PaymentRef.parse(request.payment)
    if payment.capture != CaptureMode.MANUAL:
        raise invalid("payment", "the payment was charged with automatic capture: nothing to capture")
    if payment.card.card.decline is not None:
        raise invalid("payment", "the payment was declined: nothing was authorized")
    check_in_payment_currency(request.amount, payment.currency)
    if not 1 <= request.amount.amount <= payment.amount:
        raise invalid("amount", f"must be between 1 and the authorized {payment.amount}")
    return Modification(
        id=request.payment,
        payment=request.payment,
        status=ModificationStatus.SUCCEEDED,
        amount=request.amount,
        payment_after=_payment(payment, PaymentStatus.SUCCEEDED, request.amount.amount),
        failure_reason=None,
    )


def void_payment(request: VoidRequest) -> Modification:
    """Voids a payment that took no money: an authorization, a decline, one waiting for the
    customer."""
    check_key(request.idempotency_key)
    check_metadata(request.metadata)
    payment = PaymentRef.parse(request.payment)
    if payment.capture == CaptureMode.AUTOMATIC and payment.card.card.takes_money:
        raise invalid("payment", "the payment was captured when it was charged: refund it instead")
    return Modification(
        id=request.payment,
        payment=request.payment,
        status=ModificationStatus.SUCCEEDED,
        amount=None,
        payment_after=_payment(payment, PaymentStatus.CANCELED, 0),
        failure_reason=None,
    )


def refund_payment(request: RefundRequest) -> Refund:
    """Refunds up to the payment's amount; the refund succeeds at once."""
    check_key(request.idempotency_key)
    check_metadata(request.metadata)
    payment = PaymentRef.parse(request.payment)
    if payment.card.card.decline is not None:
        raise invalid("payment", "the payment was declined: nothing was taken")
    check_in_payment_currency(request.amount, payment.currency)
    if not 1 <= request.amount.amount <= payment.amount:
        raise invalid("amount", f"must be between 1 and the payment's {payment.amount}")
    refund = RefundRef(
        amount=request.amount.amount,
        reason=request.reason,
        nonce=nonce("refund", request.payment, str(request.amount.amount), request.idempotency_key),
        payment=payment,
    )
    return refund_of(refund)


def complete_action(request: ActionCompletion) -> Payment:
    """Finishes a payment after the customer's (simulated) authentication: it succeeds unless
    ``details`` holds ``result=failed``. A payment that waited for nothing stands as its charge
    left it."""
    check_key(request.idempotency_key)
    payment = PaymentRef.parse(request.payment)
    if (decline := decline_of(payment)) is not None:
        failed = _payment(payment, PaymentStatus.FAILED, 0)
        failed.last_decline = decline
        return failed
    if payment.card.card.needs_authentication and FAILED_AUTHENTICATION in request.details:
        failed = _payment(payment, PaymentStatus.FAILED, 0)
        failed.last_decline = Decline(
            category=DeclineCategory.AUTHENTICATION_REQUIRED,
            code="authentication_failed",
            decline_reason=None,
            customer_message="We could not authenticate your payment. Please try again.",
            payment=request.payment,
            request_id=None,
        )
        return failed
    return _taken_or_authorized(payment)


def get_refund(reference: str) -> Refund:
    """A refund, from its reference alone."""
    return refund_of(RefundRef.parse(reference))


def refund_of(refund: RefundRef) -> Refund:
    """The refund a reference describes: refunds succeed at once, so it never changes."""
    return Refund(
        id=refund.encode(),
        payment=refund.payment.encode(),
        amount=Money(refund.amount, refund.payment.currency),
        status=RefundStatus.SUCCEEDED,
        reason=refund.reason,
        created=int(time.time()),
        failure_reason=None,
    )


def _taken_or_authorized(payment: PaymentRef) -> Payment:
    """A payment whose card took it: captured in full, or authorized for a later capture."""
    if payment.capture == CaptureMode.AUTOMATIC:
        return _payment(payment, PaymentStatus.SUCCEEDED, payment.amount)
    return _payment(payment, PaymentStatus.REQUIRES_CAPTURE, 0)


def _payment(payment: PaymentRef, status: PaymentStatus, captured: int) -> Payment:
    """The payment in ``status``. ``created`` is the time of this call: nothing kept the time
    of the charge."""
    return Payment(
        id=payment.encode(),
        status=status,
        amount=Money(payment.amount, payment.currency),
        amount_captured=captured,
        amount_refunded=0,
        customer=payment.card.customer_ref,
        card=payment.card.encode(),
        description=None,
        metadata=[],
        created=int(time.time()),
        last_decline=None,
        next_action=None,
        fee=None,
        network_transaction_id=None,
    )


def decline_of(payment: PaymentRef) -> Decline | None:
    """The decline of a payment of a declining card; none for other cards."""
    decline = payment.card.card.decline
    if decline is None:
        return None
    return Decline(
        category=decline.category,
        code=decline.code,
        decline_reason=decline.reason,
        customer_message=decline.message,
        payment=payment.encode(),
        request_id=None,
    )


def _next_action(payment: PaymentRef, use: StoredCredentialUse) -> NextAction:
    """A redirect when the customer is there to follow it; else they must come back."""
    if use != StoredCredentialUse.CUSTOMER_INITIATED:
        return NextAction_BringCustomerOnSession()
    url = AUTHENTICATION_PAGE + payment.encode()
    return NextAction_Redirect(Redirect(url=url, method=RedirectMethod.GET, fields=[]))
