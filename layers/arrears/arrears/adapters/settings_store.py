"""The admin's settings in CollectionsTable's ``#settings`` partition (no loan id starts with ``#``):
plan limits per product (``plan-limits#<product>``) and the channel costs (``channel-costs``)."""

from __future__ import annotations

import json
import time
from decimal import Decimal

from .models import CollectionModel

SETTINGS_PK = "#settings"
#: how long a sender keeps the channel costs it read (a changed cost applies within this many seconds)
COSTS_TTL_S = 300.0

_cached: dict[str, tuple[float, dict[str, dict[str, Decimal]]]] = {}


def channel_costs() -> tuple[str | None, dict[str, Decimal]]:
    """The admin's cost of one contact per channel and its currency (none set: (None, {}))."""
    try:
        item = CollectionModel.get(SETTINGS_PK, "channel-costs", consistent_read=True)
    except CollectionModel.DoesNotExist:
        return None, {}
    value = json.loads(item.terms or "{}")
    return value.get("currency"), {k: Decimal(v) for k, v in value.get("costs", {}).items()}


def channel_costs_by_currency() -> dict[str, dict[str, Decimal]]:
    """The admin's cost of one contact per channel, for each currency set (each PUT sets one)."""
    out: dict[str, dict[str, Decimal]] = {}
    legacy: tuple[str | None, dict[str, Decimal]] = (None, {})
    for item in CollectionModel.query(SETTINGS_PK, CollectionModel.sk.startswith("channel-costs")):
        value = json.loads(item.terms or "{}")
        costs = {k: Decimal(v) for k, v in value.get("costs", {}).items()}
        if item.sk.startswith("channel-costs#"):
            out[item.sk.split("#", 1)[1]] = costs
        else:
            legacy = (value.get("currency"), costs)
    if legacy[0] and legacy[0] not in out:  # set before costs were kept per currency
        out[legacy[0]] = legacy[1]
    return out


def channel_costs_cached() -> dict[str, dict[str, Decimal]]:
    """``channel_costs_by_currency`` read at most once per ``COSTS_TTL_S`` per table in this container."""
    table = CollectionModel.Meta.table_name
    hit = _cached.get(table)
    if hit is None or time.monotonic() - hit[0] > COSTS_TTL_S:
        hit = (time.monotonic(), channel_costs_by_currency())
        _cached[table] = hit
    return hit[1]
