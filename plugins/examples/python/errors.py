"""The contract's errors, and the checks every operation makes on its input.

A function of the contract that returns ``result<T, gateway-error>`` answers an error by
*raising* ``componentize_py_types.Err(<a gateway-error case>)``; the bindings turn it into the
result's error. Any other exception escaping an export traps the instance: the host reports a
trap, which it must treat as "money may have moved" (it reconciles). So every expected failure
is an ``Err``, never a bare exception.
"""

import re
from collections.abc import Sequence

from componentize_py_types import Err
from wit_world.imports.omnicrm_payments_types import (
    GatewayError_InvalidInput,
    GatewayError_NotFound,
    GatewayError_Unsupported,
    InvalidInput,
    Money,
    NotFound,
)

CURRENCIES: list[str] = ["EUR", "GBP", "USD"]
"""The currencies this gateway charges in."""

MAX_AMOUNT = 99_999_999
"""The largest amount of a charge, in minor units."""

_KEY = re.compile(r"[A-Za-z0-9._:-]{1,200}")


def invalid(field: str, message: str) -> Err:
    """``gateway-error::invalid-input`` on ``field``, to raise."""
    return Err(GatewayError_InvalidInput(InvalidInput(field, message, None)))


def not_found(kind: str, id: str) -> Err:
    """``gateway-error::not-found`` of a ``kind`` object, to raise."""
    return Err(GatewayError_NotFound(NotFound(kind, id)))


def unsupported(message: str) -> Err:
    """``gateway-error::unsupported``, to raise."""
    return Err(GatewayError_Unsupported(message))


def check_key(key: str) -> None:
    """An idempotency key is 1 to 200 characters of ``[A-Za-z0-9._:-]``."""
    if not _KEY.fullmatch(key):
        raise invalid("idempotency-key", "must be 1 to 200 characters of [A-Za-z0-9._:-]")


def check_charge_amount(amount: Money) -> None:
    """A charge's amount is 1 to ``MAX_AMOUNT`` minor units of a currency this gateway takes."""
    if not 1 <= amount.amount <= MAX_AMOUNT:
        raise invalid("amount", f"must be between 1 and {MAX_AMOUNT} minor units")
    if amount.currency not in CURRENCIES:
        raise invalid("currency", f"{amount.currency!r} is not one of {', '.join(CURRENCIES)}")


def check_in_payment_currency(amount: Money, currency: str) -> None:
    """A capture or refund is in the payment's currency."""
    if amount.currency != currency:
        raise invalid("amount", f"must be in the payment's currency {currency}")


def check_metadata(metadata: Sequence[tuple[str, str]]) -> None:
    """At most 50 unique keys of 1 to 40 characters, values of at most 500."""
    if len(metadata) > 50:
        raise invalid("metadata", "at most 50 keys")
    seen: set[str] = set()
    for key, value in metadata:
        if not 1 <= len(key) <= 40:
            raise invalid("metadata", f"key {key!r} must have 1 to 40 characters")
        if len(value) > 500:
            raise invalid("metadata", f"the value of {key!r} is longer than 500 characters")
        if key in seen:
            raise invalid("metadata", f"key {key!r} appears twice")
        seen.add(key)
