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

_cached: dict[str, tuple[float, tuple[str | None, dict[str, Decimal]]]] = {}


def channel_costs() -> tuple[str | None, dict[str, Decimal]]:
    """The admin's cost of one contact per channel and its currency (none set: (None, {}))."""
    try:
        item = CollectionModel.get(SETTINGS_PK, "channel-costs", consistent_read=True)
    except CollectionModel.DoesNotExist:
        return None, {}
    value = json.loads(item.terms or "{}")
    return value.get("currency"), {k: Decimal(v) for k, v in value.get("costs", {}).items()}


def channel_costs_cached() -> tuple[str | None, dict[str, Decimal]]:
    """``channel_costs`` read at most once per ``COSTS_TTL_S`` per table in this container."""
    table = CollectionModel.Meta.table_name
    hit = _cached.get(table)
    if hit is None or time.monotonic() - hit[0] > COSTS_TTL_S:
        hit = (time.monotonic(), channel_costs())
        _cached[table] = hit
    return hit[1]
