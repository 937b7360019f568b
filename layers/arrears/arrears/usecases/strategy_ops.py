"""Strategies in the operations API: list, read and diff versions (admin, supervisor, analyst); save a
draft, publish it, activate a version, roll back (admin, supervisor). One lifecycle: a draft (one a
strategy, saved over), published versions (immutable, numbered by the store, not planned with) and
the active version (what the next daily run plans with). Every change is audited as every operator
write is (``operations.write_once``)."""

from __future__ import annotations

import difflib
import json
from datetime import datetime
from typing import Any

from ..adapters import strategy_store
from ..domain import access
from ..domain.api import ApiError
from ..domain.strategies import StrategyError, never_matching, parse_strategy
from .operations import Incoming, OpsSettings, Write, body_of, write_once
from .webhook import Answer

MAX_DOCUMENT_BYTES = 200_000


def list_strategies(p: access.Principal) -> Answer:
    return Answer(200, json.dumps({"strategies": list(strategy_store.listing().values())}))


def read_version(p: access.Principal, strategy_id: str, version: str) -> Answer:
    """A version's document (``version``: a number or ``draft``), with its state."""
    number = _version(version)
    found = strategy_store.document(strategy_id, number)
    if found is None:
        raise ApiError(
            404, f"strategy {strategy_id[:64]!r} has no {'draft' if number is None else f'version {number}'}"
        )
    doc, item = found
    active, _ = strategy_store.active_state(strategy_id)
    state = "draft" if number is None else ("active" if number == active else "published")
    body = {"id": strategy_id, "version": version, "state": state, "saved_at": item.created_at, "by": item.created_by}
    return Answer(200, json.dumps({**body, "document": doc}, ensure_ascii=False))


def diff(p: access.Principal, strategy_id: str, query: dict[str, str]) -> Answer:
    """A unified diff between two versions (``from``, ``to``: numbers or ``draft``; ``to`` defaults
    to the draft, ``from`` to the active version), of their documents as canonical JSON."""
    active, _ = strategy_store.active_state(strategy_id)
    a_raw = query.get("from") or (str(active) if active else "")
    b_raw = query.get("to") or "draft"
    if not a_raw:
        raise ApiError(400, "from: the strategy has no active version to compare with; name one", "from")
    texts = []
    for name, raw in (("from", a_raw), ("to", b_raw)):
        found = strategy_store.document(strategy_id, _version(raw, name))
        if found is None:
            raise ApiError(404, f"strategy {strategy_id[:64]!r} has no {raw[:20]!r} ({name})")
        doc = {k: v for k, v in found[0].items() if k != "version"}
        texts.append(json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False).splitlines(keepends=True))
    lines = difflib.unified_diff(texts[0], texts[1], f"{strategy_id} {a_raw}", f"{strategy_id} {b_raw}")
    return Answer(200, json.dumps({"id": strategy_id, "from": a_raw, "to": b_raw, "diff": "".join(lines)}))


def save_draft(p: access.Principal, incoming: Incoming, strategy_id: str, s: OpsSettings, now: datetime) -> Answer:
    """The strategy's draft, saved over the one before: a whole document, validated as
    ``arrears strategy-check`` validates one (every problem named), its ``id`` the path's."""

    def build() -> Write:
        if len(incoming.body) > MAX_DOCUMENT_BYTES:
            raise ApiError(413, f"a strategy document is at most {MAX_DOCUMENT_BYTES} bytes")
        doc = body_of(incoming.body, ("document",)).get("document")
        if not isinstance(doc, dict):
            raise ApiError(
                400, "document must be a strategy document (a JSON object, as the YAML files hold)", "document"
            )
        if doc.get("id") != strategy_id:
            raise ApiError(400, f"document.id must be {strategy_id!r}, the strategy in the path", "document.id")
        _validate(doc, s)
        stored = {k: v for k, v in doc.items() if k != "version"}
        before = strategy_store.document(strategy_id, None)
        return Write(
            {"id": strategy_id, "state": "draft", "saved_at": now.isoformat(), "by": p.user},
            [strategy_store.draft_put(s.strategies_table, strategy_id, stored, now, p.user)],
            {"document": stored},
            {"document": before[0]} if before else None,
            target={"strategy_id": strategy_id},
        )

    return write_once(p, incoming, "PUT /v1/ops/strategies/{strategy_id}/draft", s, now, build)


def publish(p: access.Principal, incoming: Incoming, strategy_id: str, s: OpsSettings, now: datetime) -> Answer:
    """The draft becomes the next version, published but not active (activate it to plan with it)."""

    def build() -> Write:
        body_of(incoming.body, (), empty_ok=True)
        found = strategy_store.document(strategy_id, None)
        if found is None:
            raise ApiError(409, f"strategy {strategy_id[:64]!r} has no draft to publish: save one first")
        doc, item = found
        _validate(doc, s)  # the bucket scheme may have changed since it was saved
        number = strategy_store.next_version(strategy_id)
        writes = [
            strategy_store.version_put(s.strategies_table, strategy_id, number, doc, now, p.user),
            strategy_store.draft_delete(s.strategies_table, strategy_id, str(item.created_at)),
        ]
        return Write(
            {"id": strategy_id, "version": number, "state": "published", "by": p.user},
            writes,
            {"version": number},
            refused=lambda _i: ApiError(409, "the draft changed or another version was published meanwhile: retry"),
            target={"strategy_id": strategy_id},
        )

    return write_once(p, incoming, "POST /v1/ops/strategies/{strategy_id}/versions", s, now, build)


def activate(p: access.Principal, incoming: Incoming, strategy_id: str, s: OpsSettings, now: datetime) -> Answer:
    """A published version becomes the active one (from the next daily run); the one before joins
    the history that rollback walks back."""

    def build() -> Write:
        raw = body_of(incoming.body, ("version",)).get("version")
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
            raise ApiError(400, "version must be a published version's number", "version")
        if strategy_store.document(strategy_id, raw) is None:
            raise ApiError(404, f"strategy {strategy_id[:64]!r} has no version {raw}")
        active, history = strategy_store.active_state(strategy_id)
        if active == raw:
            raise ApiError(409, f"version {raw} of {strategy_id} is already active")
        after = history + [active] if active else []
        return Write(
            {"id": strategy_id, "active": raw, "previous": active, "by": p.user},
            [strategy_store.active_put(s.strategies_table, strategy_id, raw, after, active)],
            {"active": raw},
            {"active": active},
            refused=lambda _i: ApiError(409, "the active version changed meanwhile: look again"),
            target={"strategy_id": strategy_id},
        )

    return write_once(p, incoming, "POST /v1/ops/strategies/{strategy_id}/active", s, now, build)


def rollback(p: access.Principal, incoming: Incoming, strategy_id: str, s: OpsSettings, now: datetime) -> Answer:
    """The version active before the current one is active again."""

    def build() -> Write:
        body_of(incoming.body, (), empty_ok=True)
        active, history = strategy_store.active_state(strategy_id)
        if active is None or not history:
            raise ApiError(409, f"strategy {strategy_id[:64]!r} has no earlier version to roll back to")
        previous = history[-1]
        return Write(
            {"id": strategy_id, "active": previous, "previous": active, "by": p.user},
            [strategy_store.active_put(s.strategies_table, strategy_id, previous, history[:-1], active)],
            {"active": previous},
            {"active": active},
            refused=lambda _i: ApiError(409, "the active version changed meanwhile: look again"),
            target={"strategy_id": strategy_id},
        )

    return write_once(p, incoming, "POST /v1/ops/strategies/{strategy_id}/rollback", s, now, build)


def _validate(doc: dict[str, Any], s: OpsSettings) -> None:
    try:
        strategy = parse_strategy({**doc, "version": 1})
    except StrategyError as e:
        raise ApiError(400, "invalid strategy: " + "; ".join(e.problems)[:2000], "document") from None
    problems = never_matching(strategy, s.buckets)
    if problems:
        raise ApiError(400, "invalid strategy: " + "; ".join(problems)[:2000], "document")


def _version(raw: str, name: str = "version") -> int | None:
    if raw == "draft":
        return None
    if not raw.isdigit() or not 0 < int(raw) < 10**6:
        raise ApiError(400, f"{name} must be a version number or 'draft'", name)
    return int(raw)


def start_dry_run(p: access.Principal, incoming: Incoming, strategy_id: str, settings: Any, now: datetime) -> Answer:
    """A version (or the draft) dry-run over the deployed book: a job fanned out over the shards (an
    API request answers within 29 s; the book may take longer); its result at GET .../dry-runs/{job_id}."""
    from .dry_run import start_job

    raw = body_of(incoming.body, ("version",), empty_ok=True).get("version", "draft")
    number = _version(str(raw))
    found = strategy_store.document(strategy_id, number)
    if found is None:
        raise ApiError(
            404, f"strategy {strategy_id[:64]!r} has no {'draft' if number is None else f'version {number}'}"
        )
    doc = {**found[0], "version": number or strategy_store.next_version(strategy_id)}  # a draft: as published next
    job_id = start_job(settings, doc, now, p.user)
    return Answer(
        202, json.dumps({"job_id": job_id, "status": "running", "strategy": strategy_id, "version": str(raw)})
    )


def dry_run_result(p: access.Principal, job_id: str, settings: Any) -> Answer:
    from .dry_run import job_result

    if not job_id.isalnum() or len(job_id) > 64:
        raise ApiError(404, "no such dry run")
    out = job_result(settings.outcomes_bucket, job_id)
    if out is None:
        raise ApiError(404, f"no dry run {job_id[:64]!r}")
    return Answer(200, json.dumps(out))
