"""Exact money: Decimal only, never float."""

from __future__ import annotations

import re
from decimal import Decimal

from .iso4217 import MINOR_UNITS

_PLAIN = re.compile(r"^([0-9]+)(?:\.([0-9]+))?$")

#: the most minor digits any ISO 4217 currency has (CLF, UYW: 4)
MAX_MINOR_UNITS = max(MINOR_UNITS.values())
#: digits an amount may be written with at all (before any configured maximum): far beyond any loan,
#: and well inside Decimal's 28-digit context, so arithmetic on an accepted amount is always exact
MAX_DIGITS = 24
_STEPS = {n: Decimal(1).scaleb(-n) for n in range(MAX_MINOR_UNITS + 1)}


def is_currency(code: str) -> bool:
    return code in MINOR_UNITS


def minor_units(currency: str) -> int:
    return MINOR_UNITS.get(currency.upper(), 2)


def parse_money(
    raw: object,
    *,
    places: int = 2,
    allow_zero: bool = True,
    quantize: bool = True,
    maximum: Decimal | None = None,
) -> Decimal:
    """Parse an amount exactly. Rejects floats' artefacts (more decimals than the currency has),
    exponents, negatives, absurdly long numbers and non-numbers with a reason naming what is wrong."""
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        raise ValueError("amount is missing")
    if isinstance(raw, bool) or not isinstance(raw, str | int | Decimal):
        raise ValueError(f"amount {raw!r} is not a number")
    text = raw.strip() if isinstance(raw, str) else str(raw)
    m = _PLAIN.match(text)
    if m is None:
        if text.startswith("-") and _PLAIN.match(text[1:]):
            raise ValueError(f"amount {text[:40]!r} is negative")
        raise ValueError(f"amount {text[:40]!r} is not a plain decimal number (digits, optionally a point and decimals)")
    whole, decimals = m.group(1), m.group(2) or ""
    if len(whole) + len(decimals) > MAX_DIGITS and len(whole.lstrip("0")) + len(decimals) > MAX_DIGITS:
        raise ValueError(f"amount {text[:40]!r}... has more than {MAX_DIGITS} digits")
    value = Decimal(text)
    if not allow_zero and not value:
        raise ValueError(f"amount {text!r} must be greater than zero")
    if maximum is not None and value > maximum:
        raise ValueError(f"amount {text!r} is above the maximum of {maximum} (setting MaxAmount)")
    if len(decimals) > places:
        raise ValueError(f"amount {text!r} has more than {places} decimal places")
    return value.quantize(_STEPS[places]) if quantize else value


def to_minor(amount: Decimal, currency: str) -> int:
    return int((amount * (Decimal(10) ** minor_units(currency))).to_integral_exact())


def from_minor(minor: int, currency: str) -> Decimal:
    places = minor_units(currency)
    return (Decimal(minor) / (Decimal(10) ** places)).quantize(Decimal(1).scaleb(-places))
