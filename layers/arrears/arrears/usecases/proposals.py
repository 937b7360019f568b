"""The weekly strategy proposal (run after the weekly training): for each strategy in use, the step
statistics of the contacts whose 7-day outcomes are complete, the arms' comparison of the latest daily
report, and from them a draft version with its changes explained (``domain/proposals.py``).

The draft is saved as the strategy's draft (``DRAFT``, by ``weekly-proposal``) unless an operator's
draft is pending, which is never overwritten; the proposal and its evidence are kept in the outcomes
bucket (``proposals/<strategy>/<date>.json``). Nothing is activated unless the setting says so
(``ProposalAdoption=challenger``): then a proposal that only adds a challenger is published and
activated as the next version. A new champion always waits for an operator."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from ..adapters import propensity_store, strategy_store
from ..adapters.clients import client
from ..config import Settings
from ..domain.proposals import propose, step_stats
from ..domain.strategies import StrategyError, parse_strategy
from ..domain.timeutil import iso
from ..observability import logger, metrics

PROPOSER = "weekly-proposal"
ADOPTIONS = ("draft", "challenger")
#: the contacts judged: made 35 to 7 days ago, so that each one's 7 days have passed
WINDOW = (timedelta(days=35), timedelta(days=7))


def proposal_key(strategy_id: str, now: datetime) -> str:
    return f"proposals/{strategy_id}/{now.date().isoformat()}.json"


def _latest_arms(bucket: str, now: datetime) -> dict[str, Any]:
    s3 = client("s3")
    for back in range(1, 8):  # the latest daily report of the last week
        key = f"reports/dt={(now - timedelta(days=back)).date().isoformat()}/daily-report.json"
        try:
            return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()).get("arms") or {}
        except s3.exceptions.NoSuchKey:
            continue
    return {}


def propose_strategies(
    s: Settings, now: datetime, adopt: str, rows: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    if adopt not in ADOPTIONS:
        raise ValueError(f"adoption {adopt!r} is not one of {', '.join(ADOPTIONS)}")
    rows = propensity_store.read_facts(s.outcomes_bucket) if rows is None else rows
    stats = step_stats(rows, now - WINDOW[0], now - WINDOW[1])
    arms = _latest_arms(s.outcomes_bucket, now)
    out: dict[str, Any] = {}
    for sid in sorted(set(s.strategy_for.values())):
        try:
            out[sid] = _one(s, sid, now, adopt, stats, arms.get(sid))
        except (strategy_store.StrategyStoreError, StrategyError, LookupError) as e:
            logger.warning("no proposal for this strategy", extra={"strategy": sid, "error": str(e)[:300]})
            out[sid] = {"proposed": False, "why": str(e)[:300]}
    return out


def _one(s: Settings, sid: str, now: datetime, adopt: str, stats: Any, arms: dict[str, Any] | None) -> dict[str, Any]:
    version = strategy_store.active_version(sid)
    found = strategy_store.document(sid, version)
    if found is None:
        raise LookupError(f"strategy {sid} v{version} is not stored")
    draft, changes = propose(found[0], stats, arms, now.date().isoformat())
    record: dict[str, Any] = {
        "strategy": sid,
        "based_on": version,
        "at": iso(now),
        "changes": [c._asdict() for c in changes],
        "steps": [st._asdict() for st in stats if st.strategy == sid],
        "draft": draft,
    }
    if draft is None:
        record["outcome"] = "no change: the outcomes argue for none" if not changes else "no change left to propose"
    else:
        parse_strategy({**draft, "version": version + 1})  # what is proposed must be a valid strategy
        new_champion = any(c.what == "promote_challenger" for c in changes)
        if adopt == "challenger" and not new_champion:
            published = strategy_store.publish(draft, now)
            record["outcome"] = f"published and activated as v{published.version} (ProposalAdoption=challenger)"
        elif _saved_as_draft(s, sid, draft, now):
            record["outcome"] = "saved as the draft"
        else:
            pending = strategy_store.document(sid, None)
            who = pending[1].created_by if pending else "an operator"
            record["outcome"] = f"kept as a proposal only: {who}'s draft is pending"
        metrics.add_metric(name="StrategyChangesProposed", unit="Count", value=len(changes))
    client("s3").put_object(
        Bucket=s.outcomes_bucket,
        Key=proposal_key(sid, now),
        Body=json.dumps(record, indent=1, default=str).encode(),
        ContentType="application/json",
    )
    logger.info("strategy proposal", extra={"strategy": sid, "changes": len(changes), "outcome": record["outcome"]})
    return {
        "proposed": draft is not None,
        "changes": len(changes),
        "outcome": record["outcome"],
        "key": proposal_key(sid, now),
    }


def _saved_as_draft(s: Settings, sid: str, draft: dict[str, Any], now: datetime) -> bool:
    """The draft written, unless an operator's draft is there (never overwritten, even one saved a
    moment ago: the write is conditional)."""
    ddb = client("dynamodb")
    put = strategy_store.draft_put(s.strategies_table, sid, draft, now, PROPOSER)["Put"]
    try:
        ddb.put_item(
            **put,
            ConditionExpression="attribute_not_exists(sk) OR created_by = :me",
            ExpressionAttributeValues={":me": {"S": PROPOSER}},
        )
    except ddb.exceptions.ConditionalCheckFailedException:
        return False
    return True
