"""Strategy versions in DynamoDB: publishing makes a new immutable version and activates it;
rolling back is one conditional write that re-activates the version before."""

from __future__ import annotations

import functools
import json
from datetime import datetime
from typing import Any

from pynamodb.exceptions import PutError, UpdateError

from ..domain.strategies import Strategy, parse_strategy
from ..domain.timeutil import iso
from .models import StrategyModel

ACTIVE = "ACTIVE"


class StrategyStoreError(RuntimeError):
    pass


def _key(version: int) -> str:
    return f"v{version:06d}"


def _active(strategy_id: str) -> StrategyModel | None:
    try:
        return StrategyModel.get(strategy_id, ACTIVE, consistent_read=True)
    except StrategyModel.DoesNotExist:
        return None


def versions(strategy_id: str) -> list[int]:
    return [int(m.sk[1:]) for m in StrategyModel.query(strategy_id, StrategyModel.sk.startswith("v"))]


def publish(doc: dict[str, Any], now: datetime) -> Strategy:
    """Validate, store as the next version and make it the active one. The document's own
    ``version`` is replaced by the stored number, so two publishers can never share one."""
    parse_strategy({**doc, "version": 1})  # fail before writing anything
    sid = str(doc["id"])
    current = _active(sid)
    number = max(versions(sid), default=0) + 1
    stored = {**doc, "version": number}
    strategy = parse_strategy(stored)
    try:
        StrategyModel(sid, _key(number), document=json.dumps(stored, sort_keys=True), created_at=iso(now)).save(
            condition=StrategyModel.sk.does_not_exist()
        )
    except PutError as e:
        raise StrategyStoreError(f"version {number} of {sid} was published concurrently; publish again") from e
    history = json.loads(current.history or "[]") + [int(current.version)] if current and current.version else []
    _activate(sid, number, history, expected=int(current.version) if current and current.version else None)
    return strategy


def _activate(sid: str, number: int, history: list[int], expected: int | None) -> None:
    item = StrategyModel(sid, ACTIVE, version=number, history=json.dumps(history))
    condition = StrategyModel.sk.does_not_exist() if expected is None else StrategyModel.version == expected
    try:
        item.save(condition=condition)
    except (PutError, UpdateError) as e:
        raise StrategyStoreError(f"the active version of {sid} changed meanwhile; try again") from e


def active_version(strategy_id: str) -> int:
    current = _active(strategy_id)
    if current is None or not current.version:
        raise StrategyStoreError(f"strategy {strategy_id} has no active version: publish one (README: Strategies)")
    return int(current.version)


def active(strategy_id: str) -> Strategy:
    return load(strategy_id, active_version(strategy_id))


def load_cached(strategy_id: str, version: int) -> Strategy:
    """Versions never change once stored: safe to keep for the container's life."""
    return _load_cached(StrategyModel.Meta.table_name, strategy_id, version)


@functools.lru_cache(maxsize=64)
def _load_cached(table: str, strategy_id: str, version: int) -> Strategy:
    return load(strategy_id, version)


def load(strategy_id: str, version: int) -> Strategy:
    try:
        item = StrategyModel.get(strategy_id, _key(version))
    except StrategyModel.DoesNotExist:
        raise StrategyStoreError(f"strategy {strategy_id} has no version {version}") from None
    return parse_strategy(json.loads(item.document or "{}"))


def rollback(strategy_id: str) -> int:
    """Re-activate the version that was active before the current one. Returns it."""
    current = _active(strategy_id)
    history = json.loads(current.history or "[]") if current else []
    if current is None or not history:
        raise StrategyStoreError(f"strategy {strategy_id} has no earlier version to roll back to")
    previous = history.pop()
    _activate(strategy_id, previous, history, expected=int(current.version))
    return int(previous)
