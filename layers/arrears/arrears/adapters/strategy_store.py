"""Strategy versions in DynamoDB, in one lifecycle: a **draft** (``DRAFT``: one a strategy, saved
over), **published** versions (``v000001``...: immutable, numbered by the store) and the **active**
one (``ACTIVE``: the version the daily run plans with, and the history of those active before).
``publish`` (the CLI's) makes a new version and activates it at once; the operations API publishes a
draft without activating it, then activates a version of the operator's choice. Rolling back is one
conditional write that re-activates the version before.

The ``*_put`` builders give TransactWriteItems entries, so that the operations API writes a change
and its audit record in one transaction."""

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
DRAFT = "DRAFT"


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


# ----------------------------------------------------------------------- the lifecycle, for the API


def listing() -> dict[str, dict[str, Any]]:
    """Every strategy: its versions (number, when, by whom), the active one and its history, its draft.
    The table holds a few items a version: read whole."""
    out: dict[str, dict[str, Any]] = {}
    for m in StrategyModel.scan(
        attributes_to_get=["strategy_id", "sk", "version", "history", "created_at", "created_by"]
    ):
        entry = out.setdefault(
            m.strategy_id, {"id": m.strategy_id, "versions": [], "active": None, "history": [], "draft": None}
        )
        if m.sk == ACTIVE:
            entry["active"], entry["history"] = int(m.version or 0) or None, json.loads(m.history or "[]")
        elif m.sk == DRAFT:
            entry["draft"] = {"saved_at": m.created_at, "by": m.created_by}
        elif m.sk.startswith("v"):
            entry["versions"].append({"version": int(m.sk[1:]), "created_at": m.created_at, "by": m.created_by})
    for entry in out.values():
        entry["versions"].sort(key=lambda v: v["version"])
    return dict(sorted(out.items()))


def document(strategy_id: str, version: int | None) -> tuple[dict[str, Any], StrategyModel] | None:
    """A version's document (``None``: the draft's) and its item, or None when there is none."""
    try:
        item = StrategyModel.get(strategy_id, DRAFT if version is None else _key(version), consistent_read=True)
    except StrategyModel.DoesNotExist:
        return None
    return json.loads(item.document or "{}"), item


def active_state(strategy_id: str) -> tuple[int | None, list[int]]:
    """The active version (None: none yet) and the versions active before it, oldest first."""
    current = _active(strategy_id)
    if current is None or not current.version:
        return None, []
    return int(current.version), json.loads(current.history or "[]")


def next_version(strategy_id: str) -> int:
    return max(versions(strategy_id), default=0) + 1


def draft_put(table: str, strategy_id: str, doc: dict[str, Any], now: datetime, by: str) -> dict[str, Any]:
    item = {
        "strategy_id": {"S": strategy_id},
        "sk": {"S": DRAFT},
        "document": {"S": json.dumps(doc, sort_keys=True)},
        "created_at": {"S": iso(now)},
        "created_by": {"S": by},
    }
    return {"Put": {"TableName": table, "Item": item}}


def version_put(
    table: str, strategy_id: str, number: int, doc: dict[str, Any], now: datetime, by: str
) -> dict[str, Any]:
    """A new version, never over another (a concurrent publisher's write makes this one fail)."""
    item = {
        "strategy_id": {"S": strategy_id},
        "sk": {"S": _key(number)},
        "document": {"S": json.dumps({**doc, "version": number}, sort_keys=True)},
        "created_at": {"S": iso(now)},
        "created_by": {"S": by},
    }
    return {"Put": {"TableName": table, "Item": item, "ConditionExpression": "attribute_not_exists(sk)"}}


def draft_delete(table: str, strategy_id: str, saved_at: str) -> dict[str, Any]:
    """The draft gone once published, if nobody saved over it meanwhile."""
    return {
        "Delete": {
            "TableName": table,
            "Key": {"strategy_id": {"S": strategy_id}, "sk": {"S": DRAFT}},
            "ConditionExpression": "created_at = :s",
            "ExpressionAttributeValues": {":s": {"S": saved_at}},
        }
    }


def active_put(table: str, strategy_id: str, number: int, history: list[int], expected: int | None) -> dict[str, Any]:
    """``number`` active, ``history`` before it, if the active version is still ``expected``."""
    item = {
        "strategy_id": {"S": strategy_id},
        "sk": {"S": ACTIVE},
        "version": {"N": str(number)},
        "history": {"S": json.dumps(history)},
    }
    put: dict[str, Any] = {"TableName": table, "Item": item}
    if expected is None:
        put["ConditionExpression"] = "attribute_not_exists(sk)"
    else:
        put["ConditionExpression"] = "version = :v"
        put["ExpressionAttributeValues"] = {":v": {"N": str(expected)}}
    return {"Put": put}
