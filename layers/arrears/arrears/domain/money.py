"""Exact money: Decimal only, never float."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_PLAIN = re.compile(r"^[0-9]+(\.[0-9]+)?$")

#: ISO 4217 minor-unit exponents that differ from the default of 2.
_MINOR_UNITS = {"JPY": 0, "KRW": 0, "VND": 0, "IDR": 2, "BHD": 3, "KWD": 3}


MAX_MINOR_UNITS = max(_MINOR_UNITS.values())


def minor_units(currency: str) -> int:
    return _MINOR_UNITS.get(currency.upper(), 2)


def parse_money(raw: object, *, places: int = 2, allow_zero: bool = True, quantize: bool = True) -> Decimal:
    """Parse an amount exactly. Rejects floats' artefacts (more decimals than the currency has),
    exponents, negatives and non-numbers with a reason naming what is wrong."""
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        raise ValueError("amount is missing")
    if isinstance(raw, bool):
        raise ValueError(f"amount {raw!r} is not a number")
    text = str(raw).strip()
    if text.startswith("-") and _PLAIN.match(text[1:]):
        raise ValueError(f"amount {text!r} is negative")
    if not _PLAIN.match(text):
        raise ValueError(f"amount {text!r} is not a plain decimal number (digits, optionally a point and decimals)")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"amount {text!r} is not a number") from None
    if not allow_zero and value == 0:
        raise ValueError(f"amount {text!r} must be greater than zero")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise ValueError(f"amount {text!r} has more than {places} decimal places")
    return value.quantize(Decimal(1).scaleb(-places)) if quantize else value


def to_minor(amount: Decimal, currency: str) -> int:
    return int((amount * (Decimal(10) ** minor_units(currency))).to_integral_exact())


def from_minor(minor: int, currency: str) -> Decimal:
    places = minor_units(currency)
    return (Decimal(minor) / (Decimal(10) ** places)).quantize(Decimal(1).scaleb(-places))
