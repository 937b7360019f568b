"""What one contact costs, per channel and currency: the lake's ``cost_micros`` on each contact, the
campaign dry run's estimate, and analysts' recovery per unit of cost.

An admin sets the costs of a currency with ``PUT /v1/ops/settings/channel-costs`` (one currency a
request, each kept); those replace the defaults below for that currency, and a currency not set keeps
its defaults (typical provider
prices: an SMS, an e-mail, a WeChat template message, an outbound call attempt, a posted letter)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal

MICROS = Decimal(1_000_000)

DEFAULT_COSTS: dict[str, dict[str, Decimal]] = {
    "CNY": {
        "sms": Decimal("0.05"),
        "email": Decimal("0.001"),
        "voice": Decimal("1.20"),
        "wechat": Decimal("0.01"),
        "letter": Decimal("1.50"),
    },
    "USD": {
        "sms": Decimal("0.0079"),
        "email": Decimal("0.0001"),
        "voice": Decimal("0.18"),
        "wechat": Decimal("0.002"),
        "letter": Decimal("0.75"),
    },
}


def costs_in(currency: str, set_by_currency: Mapping[str, Mapping[str, Decimal]]) -> dict[str, Decimal]:
    """The cost of one contact per channel in ``currency``: the admin's where set for that currency,
    else the defaults (none for a currency without defaults)."""
    base = dict(DEFAULT_COSTS.get(currency.upper(), {}))
    base.update(set_by_currency.get(currency.upper(), {}))
    return base


def cost_micros(channel: str, currency: str, set_by_currency: Mapping[str, Mapping[str, Decimal]]) -> int | None:
    """One contact's cost in millionths of ``currency``'s unit (1 CNY = 1,000,000: a contact costs
    less than a fen or a cent), None when unknown."""
    cost = costs_in(currency, set_by_currency).get(channel)
    return None if cost is None else int((cost * MICROS).to_integral_value(ROUND_HALF_EVEN))
