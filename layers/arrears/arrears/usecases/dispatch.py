"""The dispatcher: once every shard has planned, rank the whole run's proposals by expected recovery
under each channel's daily capacity. The work that fits is written to the loans' ledgers as PLAN
entries (the ledger stream, the loans' single writer, creates the actions and queues them); the rest
is recorded as deferred by capacity and comes back in tomorrow's plan. The run's summary (work per
channel, deferred, held at planning, loans without a strategy) goes to the run's item and to S3."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from ..adapters import campaign_store, runs, store
from ..adapters.clients import client
from ..adapters.facts_sink import FactSink
from ..adapters.models import LedgerModel
from ..config import Settings
from ..domain.campaigns import DEFERRED_WHY, campaign_of, rank
from ..domain.facts import business_date
from ..domain.money import to_minor
from ..domain.planning import Work
from ..domain.timeutil import iso
from ..observability import logger, metrics
from .fanout import Dispatch, watch
from .recording import fact
from .reporting import RUNS_PREFIX

SOURCE = "dispatcher"


class LoanRef(NamedTuple):
    loan_id: str
    borrower_id: str
    currency: str


def summary_key(settings: Settings, run_at: datetime) -> str:
    day = business_date(run_at, settings.business_tz).isoformat()
    return f"{RUNS_PREFIX}/dt={day}/run-{iso(run_at).replace(':', '')}.json"


def watch_run(settings: Settings, run: Dispatch, now: datetime) -> str:
    """The fan-out's watch on a run: nothing once it is dispatched; the dispatch itself if every shard
    has planned (the last shard's request was lost); another look later while shards are still at work;
    past the deadline (``DispatchDeadlineMinutes`` after the run), the dispatch of what arrived, with
    the missing shards named in the summary, logged as an error and counted in the ShardsMissing
    metric (an alarm watches it). The missing shards' loans are proposed again by the next run."""
    summary, done = runs.state_of(run.run_at)
    if summary is not None:
        return "dispatched"
    missing = sorted({f"{n:04d}" for n in range(settings.shard_count)} - done)
    if missing and now < run.run_at + timedelta(minutes=settings.dispatch_deadline_minutes):
        watch(settings, run)
        return "waiting"
    dispatch(settings, run.run_at, missing)
    return "dispatched late" if missing else "dispatched"


def dispatch(settings: Settings, run_at: datetime, missing: list[str] | None = None) -> dict[str, Any]:
    """Returns the run's summary. Every write is idempotent (PLAN entries keyed by the deterministic
    action id, facts by their fact id, the summary overwritten), so a redelivered or repeated dispatch
    request redoes the same writes and changes nothing; once a run's summary exists it is skipped."""
    done = runs.summary_of(run_at)
    if done is not None:
        logger.info("run already dispatched", extra={"run_at": iso(run_at)})
        return done
    rows, stats = runs.read_parts(settings.outcomes_bucket, run_at)
    live = {c.campaign_id: c for c in campaign_store.running() if c.live(run_at)}
    work = {
        (w.proposal.loan_id, w.proposal.step_id): w
        for w in map(Work.from_row, rows)
        if campaign_of(w.proposal) is None or campaign_of(w.proposal) in live  # paused since it was planned: dropped
    }
    day = business_date(run_at, settings.business_tz).isoformat()
    used = campaign_store.usage(day)  # campaigns started earlier today took some capacity already
    capacity = {ch: max(0, cap - used.get(ch, 0)) for ch, cap in settings.capacity.items()}
    caps = {cid: c.daily_cap - n for cid, n in campaign_store.day_used(live, day).items() for c in [live[cid]]}
    plan = rank([w.proposal for w in work.values()], capacity, {cid: c.priority for cid, c in live.items()}, caps)
    entries = []
    for p in plan.work:
        w = work[(p.loan_id, p.step_id)]
        entries.append(
            LedgerModel(p.loan_id, f"PLAN#{w.action_id}", run_at=iso(run_at), plan=json.dumps(w.row(), sort_keys=True))
        )
    sink = FactSink(settings.outcomes_bucket, SOURCE)
    for p, rule in plan.deferred:
        w = work[(p.loan_id, p.step_id)]
        cap = settings.capacity.get(p.channel or "", 0)
        why = (
            f"capacity: {p.channel} capacity of {cap} a day taken by work of higher expected recovery "
            f"(this: {p.expected_recovery} {w.currency}); proposed again tomorrow"
            if rule == "capacity"
            else f"{rule}: {DEFERRED_WHY[rule]}"
        )
        sink.add(
            fact(
                settings,
                "action_deferred",
                run_at,
                LoanRef(p.loan_id, w.borrower_id, w.currency),
                SOURCE,
                case_id=p.case_id,
                action_id=w.action_id,
                channel=p.channel,
                bucket=w.bucket,
                dpd=w.dpd,
                amount_minor=to_minor(w.overdue, w.currency),
                strategy=p.strategy,
                strategy_version=p.version,
                variant=p.variant,
                step=p.step_id,
                reason=why,
                key=f"{w.action_id}|{rule}|{iso(run_at)}",
            )
        )
    sink.flush()
    for cid, n in Counter(str(campaign_of(p)) for p, _ in plan.deferred if campaign_of(p)).items():
        campaign_store.count(cid, "deferred", n)  # one write a campaign, however much it deferred
    store.save_all(entries)  # the stream creates and queues the actions (idempotent on action id)
    campaign_store.add_usage(
        day,
        dict(Counter(p.channel for p in plan.work if p.channel)),
        dict(Counter(str(campaign_of(p)) for p in plan.work if campaign_of(p))),
    )
    totals: Counter[str] = Counter()
    for s in stats:
        totals.update(s)
    summary = {
        "run_at": iso(run_at),
        "delinquent_loans": totals.pop("delinquent", 0),
        "proposed": len(work),
        "dispatched": len(plan.work),
        "dispatched_by_channel": _count(p.channel or "escalation" for p in plan.work),
        "deferred_by_capacity": _count(p.channel or "" for p, rule in plan.deferred if rule == "capacity"),
        "deferred_by_rule": _count(rule for _, rule in plan.deferred),
        "campaigns": _count(str(campaign_of(p)) for p in plan.work if campaign_of(p)),
        "capacity": dict(settings.capacity),
        "held_at_planning": {k.split(":", 1)[1]: n for k, n in sorted(totals.items()) if k.startswith("gated:")},
        "without_strategy": {k.split(":", 1)[1]: n for k, n in sorted(totals.items()) if k.startswith("unassigned:")},
        "without_segment": totals.get("no_segment", 0),
        "ranked_by": {k.split(":", 1)[1]: n for k, n in sorted(totals.items()) if k.startswith("ranked_by:")},
        "by_arm": _count(f"{p.strategy} v{p.version} {p.variant}" for p in plan.work),
        "shards_missing": missing or [],
    }
    _save_queue(settings, run_at, [work[(p.loan_id, p.step_id)] for p in plan.work])
    runs.save_summary(run_at, summary)
    client("s3").put_object(
        Bucket=settings.outcomes_bucket,
        Key=summary_key(settings, run_at),
        Body=json.dumps(summary, indent=1).encode(),
        ContentType="application/json",
    )
    metrics.add_metric(name="WorkDispatched", unit="Count", value=len(plan.work))
    metrics.add_metric(name="WorkDeferredByCapacity", unit="Count", value=len(plan.deferred))
    metrics.add_metric(name="ShardsMissing", unit="Count", value=len(missing or []))
    if missing:
        logger.error("run dispatched without every shard", extra={"run_at": iso(run_at), "missing": missing})
    logger.info("run dispatched", extra={k: v for k, v in summary.items() if not isinstance(v, dict)})
    return summary


QUEUE_SIZE = 5000  # the agents' work queue: the day's most valuable cases


def queue_key(day: str) -> str:
    return f"queues/dt={day}/queue.json"


def _save_queue(settings: Settings, run_at: datetime, work: list[Work]) -> None:
    """The agents' work queue for the day: the dispatched cases by expected recovery (one a loan),
    with what the strategy does on them today (the operations API filters and pages it)."""
    contacts = [w for w in work if w.proposal.channel is not None]  # one a loan (rank's rule)
    ranked = sorted(contacts, key=lambda w: (-w.proposal.expected_recovery, w.proposal.loan_id))[:QUEUE_SIZE]
    rows = [
        {
            "loan_id": w.proposal.loan_id,
            "case_id": w.proposal.case_id,
            "bucket": w.bucket,
            "dpd": w.dpd,
            "segment": w.proposal.segment,
            "strategy": w.proposal.strategy,
            "variant": w.proposal.variant,
            "step": w.proposal.step_id,
            "channel": w.proposal.channel,
            "expected_recovery": str(w.proposal.expected_recovery),
            "overdue": str(w.overdue),
            "currency": w.currency,
        }
        for w in ranked
    ]
    day = business_date(run_at, settings.business_tz).isoformat()
    body = {"run_at": iso(run_at), "cases": rows}
    client("s3").put_object(
        Bucket=settings.outcomes_bucket,
        Key=queue_key(day),
        Body=json.dumps(body).encode(),
        ContentType="application/json",
    )


def _count(keys: Any) -> dict[str, int]:
    return dict(sorted(Counter(keys).items()))
