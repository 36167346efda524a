"""Webhooks: the signature checked by the host (``credentials.verify-mac``), then the event read.

A request carries ``example-signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]``, where a ``v1``
is the hex HMAC-SHA256, keyed with the secret ``webhook-secret``, of ``<t>.<raw body>``. The
plugin never holds the secret: it hands the signed bytes and the signature to the host, which
compares in constant time. The body is read only once the signature holds::

    {"id": "evt_1", "created": 1700000000, "type": "payment.succeeded",
     "data": {"payment": "<payment reference>", "metadata": {"crm_transaction_id": "42"}}}

``payment.succeeded``, ``payment.authorized``, ``payment.failed`` and ``payment.canceled`` are
payment updates: the amount (and a declining card's decline) comes from the reference, the
captured amount from ``data.amount_captured`` (default: all of a succeeded payment, else 0).
``refund.succeeded`` (``data.refund``: a refund reference) is a modification update. Other types
are ``other(<type>)``.
"""

import json
import time
from typing import Any, TypeVar

from componentize_py_types import Err
from wit_world.exports.charging import ModificationStatus, PaymentStatus
from wit_world.exports.webhooks import (
    EventKind,
    EventKind_Modification,
    EventKind_Other,
    EventKind_Payment,
    GatewayEvent,
    ModificationKind,
    ModificationUpdate,
    PaymentUpdate,
    Rejection_BadSignature,
    Rejection_Malformed,
    Rejection_MissingSignature,
    Rejection_NotConfigured,
    Rejection_OutsideTolerance,
    WebhookOutcome,
    WebhookRequest,
    WebhookResponse,
)
from wit_world.imports import config, credentials
from wit_world.imports import logging as host_log
from wit_world.imports.credentials import CredentialError_TooLarge
from wit_world.imports.omnicrm_payments_types import Money

from charges import decline_of
from references import PaymentRef, RefundRef

SIGNATURE_HEADER = "example-signature"
WEBHOOK_SECRET = credentials.MacKey(secret="webhook-secret", encoding=credentials.KeyEncoding.RAW)
DEFAULT_TOLERANCE_SECS = 300
"""How far the signed time may be from now; the setting ``webhook-tolerance-secs`` (0: no check)
overrides it."""

_T = TypeVar("_T")

_PAYMENT_STATUSES = {
    "payment.succeeded": PaymentStatus.SUCCEEDED,
    "payment.authorized": PaymentStatus.REQUIRES_CAPTURE,
    "payment.failed": PaymentStatus.FAILED,
    "payment.canceled": PaymentStatus.CANCELED,
}


def handle_webhook(request: WebhookRequest) -> WebhookOutcome:
    """Verifies a request, then reads its event; raises ``Err(<rejection>)`` otherwise."""
    try:
        event = _verified_event(request)
    except Err as rejection:
        host_log.log(host_log.Level.WARN, f"webhook rejected: {type(rejection.value).__name__}")
        raise
    return WebhookOutcome(
        events=[event],
        response=WebhookResponse(200, "application/json", b'{"received":true}'),
    )


def _verified_event(request: WebhookRequest) -> GatewayEvent:
    if request.method != "POST":
        raise _malformed(f"expected a POST, not a {request.method}")
    headers = [value for name, value in request.headers if name == SIGNATURE_HEADER]
    if not headers:
        raise Err(Rejection_MissingSignature())
    signed_at = next((t for t in (_verify(h, request.body) for h in headers) if t is not None), None)
    if signed_at is None:
        raise Err(Rejection_BadSignature())
    tolerance = _tolerance()
    if tolerance and abs(time.time() - signed_at) > tolerance:
        raise Err(Rejection_OutsideTolerance())
    return _parse_event(request.body)


def _verify(header: bytes, body: bytes) -> int | None:
    """The signed time of a header one of whose signatures the host verifies, else none."""
    signed = _parse_header(header)
    if signed is None:
        return None
    timestamp, signatures = signed
    message = f"{timestamp}.".encode() + body
    for signature in signatures:
        try:
            if credentials.verify_mac(WEBHOOK_SECRET, credentials.MacAlgorithm.HMAC_SHA256, message, signature):
                return timestamp
        except Err as error:
            if isinstance(error.value, CredentialError_TooLarge):
                raise _malformed("the body is too large to verify")
            raise Err(Rejection_NotConfigured("the webhook secret is not configured or not usable"))
    return None


def _parse_header(header: bytes) -> tuple[int, list[bytes]] | None:
    """``t=<seconds>,v1=<hex>...``: the time and the signatures, or none."""
    try:
        items = [item.strip().partition("=") for item in header.decode("ascii").split(",")]
        timestamp = next(int(value) for key, _, value in items if key == "t")
        signatures = [bytes.fromhex(value) for key, _, value in items if key == "v1"]
    except (UnicodeDecodeError, ValueError, StopIteration):
        return None
    return (timestamp, signatures[:8]) if signatures else None


def _tolerance() -> int:
    text = config.get("webhook-tolerance-secs")
    if text is None:
        return DEFAULT_TOLERANCE_SECS
    if not text.isdigit():
        raise Err(Rejection_NotConfigured("webhook-tolerance-secs is not a whole number of seconds"))
    return int(text)


def _malformed(message: str) -> Err:
    return Err(Rejection_Malformed(message))


def _parse_event(body: bytes) -> GatewayEvent:
    try:
        event = json.loads(body)
    except (UnicodeDecodeError, ValueError) as error:
        raise _malformed(f"not JSON: {error}")
    if not isinstance(event, dict):
        raise _malformed("the event must be a JSON object")
    event_id = _field(event, "id", str, "")
    if not event_id:
        raise _malformed("id must not be empty")
    created = _field(event, "created", int, "")
    event_type = _field(event, "type", str, "")
    return GatewayEvent(id=event_id, created=created, gateway_type=event_type, kind=_kind(event_type, event))


def _kind(event_type: str, event: dict[str, Any]) -> EventKind:
    if event_type in _PAYMENT_STATUSES:
        data = _field(event, "data", dict, "")
        reference = _field(data, "payment", str, "data.")
        payment = PaymentRef.decode(reference)
        if payment is None:
            raise _malformed(f"data.payment {reference!r} is not a payment of this gateway")
        status = _PAYMENT_STATUSES[event_type]
        captured = payment.amount if status == PaymentStatus.SUCCEEDED else 0
        if "amount_captured" in data:
            captured = _field(data, "amount_captured", int, "data.")
        metadata = data.get("metadata") or {}
        if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
            raise _malformed("data.metadata must be an object of strings")
        return EventKind_Payment(
            PaymentUpdate(
                payment=reference,
                status=status,
                amount=Money(payment.amount, payment.currency),
                amount_captured=captured,
                decline=decline_of(payment) if status == PaymentStatus.FAILED else None,
                metadata=list(metadata.items()),
                fee=None,
                network_transaction_id=None,
            )
        )
    if event_type == "refund.succeeded":
        data = _field(event, "data", dict, "")
        reference = _field(data, "refund", str, "data.")
        try:
            refund = RefundRef.parse(reference)
        except Err:
            raise _malformed(f"data.refund {reference!r} is not a refund of this gateway")
        return EventKind_Modification(
            ModificationUpdate(
                modification=reference,
                kind=ModificationKind.REFUND,
                payment=refund.payment.encode(),
                status=ModificationStatus.SUCCEEDED,
                amount=Money(refund.amount, refund.payment.currency),
                reason=None,
            )
        )
    return EventKind_Other(event_type)


def _field(object: dict[str, Any], name: str, kind: type[_T], path: str) -> _T:
    """``object[name]`` of type ``kind``, or a ``malformed`` rejection naming it."""
    value = object.get(name)
    # JSON's true and false are Python ints too: never take them for numbers.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _malformed(f"{path}{name} must be a {kind.__name__}" if value is not None else f"{path}{name} is missing")
    return value
