"""A strategy document dry-run over today's book: what it would propose for every delinquent loan of
its jurisdictions, as counts per arm, segment, step and channel. Reads the due index as the daily run
does; writes and sends nothing."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import datetime
from typing import Any, NamedTuple

from ..adapters import propensity_store, store
from ..adapters.clients import client
from ..config import Settings
from ..domain.buckets import CURRENT
from ..domain.delinquency import assess
from ..domain.experiments import dry_run
from ..domain.strategies import Strategy, parse_strategy
from ..domain.timeutil import iso, parse_instant
from .daily import PAGE_SIZE, candidate, cutoff
from .fanout import enqueue_work


def dry_run_book(settings: Settings, strategy: Strategy, now: datetime) -> dict[str, Any]:
    out = dry_run_shards(settings, strategy, now, [f"{n:04d}" for n in range(settings.shard_count)])
    out["as_of"] = now.isoformat()
    return out


def dry_run_shards(settings: Settings, strategy: Strategy, now: datetime, shards: list[str]) -> dict[str, Any]:
    """The dry run over some shards of the book (one, in a deployed stack's fanned-out job)."""
    mine = {j for j, sid in settings.strategy_for.items() if sid == strategy.id}
    views, days = [], {}
    for shard in shards:
        start = None
        while True:
            page = store.due_loans(shard, cutoff(now, settings.grace_days), start, PAGE_SIZE)
            for loan in page:
                a = assess(store.unpaid_of(loan), loan.tz, now, settings.grace_days, settings.buckets)
                if a.bucket == CURRENT or (mine and (loan.jurisdiction or "").split("-")[0] not in mine):
                    continue
                c = candidate(loan, a)
                views.append(c.view)
                days[c.view.loan_id] = c.today
            start = page.last_evaluated_key
            if not start:
                break
    score, _ = propensity_store.scorer(settings.outcomes_bucket, now)
    out = dry_run(strategy, views, now.date(), now, days, score)
    out["loans"] = len(views)
    return out


# ------------------------------------------------------- the deployed stack's job (operations API)

PREFIX = "dry-runs"


class DryRunShard(NamedTuple):
    """One shard of a dry-run job (a WorkQueue message the shard worker takes)."""

    job_id: str
    shard: str

    def body(self) -> str:
        return json.dumps({"dry_run": self.job_id, "shard": self.shard})


def start_job(settings: Settings, doc: dict[str, Any], now: datetime, by: str) -> str:
    """The job's spec in S3, then one work item a shard: an API request must answer within API
    Gateway's 29 s, so the book is read by the shard workers, in parallel. Returns the job id."""
    job_id = uuid.uuid4().hex
    spec = {"job_id": job_id, "strategy": doc, "as_of": iso(now), "shards": settings.shard_count, "by": by}
    client("s3").put_object(
        Bucket=settings.outcomes_bucket, Key=f"{PREFIX}/{job_id}/job.json", Body=json.dumps(spec).encode()
    )
    shards = [DryRunShard(job_id, f"{n:04d}") for n in range(settings.shard_count)]
    enqueue_work(settings, [w.body() for w in shards], "dry-run shard")
    return job_id


def run_job_shard(settings: Settings, work: DryRunShard) -> None:
    """One shard of a job: its counts, as a part next to the spec (written again on a redelivery)."""
    s3 = client("s3")
    spec = json.loads(
        s3.get_object(Bucket=settings.outcomes_bucket, Key=f"{PREFIX}/{work.job_id}/job.json")["Body"].read()
    )
    strategy = parse_strategy(spec["strategy"])
    part = dry_run_shards(settings, strategy, parse_instant(spec["as_of"]), [work.shard])
    s3.put_object(
        Bucket=settings.outcomes_bucket,
        Key=f"{PREFIX}/{work.job_id}/part-{work.shard}.json",
        Body=json.dumps(part).encode(),
    )


def job_result(bucket: str, job_id: str) -> dict[str, Any] | None:
    """The job's state: running (parts done of shards) or done with the counts merged; None: no such job."""
    s3 = client("s3")
    try:
        spec = json.loads(s3.get_object(Bucket=bucket, Key=f"{PREFIX}/{job_id}/job.json")["Body"].read())
    except s3.exceptions.NoSuchKey:
        return None
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{PREFIX}/{job_id}/part-").get("Contents", [])
    parts = [json.loads(s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()) for o in listed]
    out: dict[str, Any] = {
        "job_id": job_id,
        "strategy": spec["strategy"].get("id"),
        "as_of": spec["as_of"],
        "by": spec.get("by"),
        "shards": spec["shards"],
        "shards_done": len(parts),
        "status": "done" if len(parts) >= spec["shards"] else "running",
    }
    if out["status"] == "done":
        counts: Counter[tuple[str, str, str, str]] = Counter()
        for part in parts:
            for row in part["by_step"]:
                counts[(row["variant"], row["segment"], row["step"], row["channel"])] += row["loans"]
        out["loans"] = sum(part["loans"] for part in parts)
        out["no_action"] = sum(part["no_action"] for part in parts)
        out["by_step"] = [
            {"variant": v, "segment": sg, "step": st, "channel": ch, "loans": n}
            for (v, sg, st, ch), n in sorted(counts.items())
        ]
    return out
