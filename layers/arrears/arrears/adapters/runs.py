"""A daily run's planning hand-off: each shard writes its proposals to S3, marks itself done on the
run's item, and the shard that completes the set asks for the dispatch; the dispatcher reads every
shard's proposals and records its summary on the run."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from ..domain.timeutil import iso
from .clients import client
from .models import RunModel

PLANS = "plans"
STATS = "_stats"


def _prefix(run_at: datetime) -> str:
    return f"{PLANS}/run={iso(run_at)}/"


def write_part(bucket: str, run_at: datetime, shard: str, start_key: Any, rows: list[dict], stats: dict) -> str:
    """One object per shard invocation; a redelivered invocation overwrites its own part."""
    part = hashlib.sha256(json.dumps(start_key, sort_keys=True, default=str).encode()).hexdigest()[:12]
    key = f"{_prefix(run_at)}shard={shard}/part-{part}.jsonl"
    lines = [json.dumps(r, separators=(",", ":"), sort_keys=True) for r in rows]
    lines.append(json.dumps({STATS: stats}, separators=(",", ":"), sort_keys=True))
    client("s3").put_object(Bucket=bucket, Key=key, Body=("\n".join(lines) + "\n").encode())
    return key


def read_parts(bucket: str, run_at: datetime) -> tuple[list[dict], list[dict]]:
    """(proposal rows, per-part stats) of every shard of the run."""
    s3 = client("s3")
    rows: list[dict] = []
    stats: list[dict] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=_prefix(run_at)):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode()
            for line in body.splitlines():
                if line.strip():
                    data = json.loads(line)
                    (stats.append(data[STATS]) if STATS in data else rows.append(data))
    return rows, stats


def shard_done(run_at: datetime, shard: str) -> int:
    """Mark a shard's planning complete; returns how many shards of the run are (idempotent)."""
    item = RunModel(iso(run_at))
    item.update(actions=[RunModel.shards_done.add({shard})])  # returns the item as updated
    return len(item.shards_done or ())


def state_of(run_at: datetime) -> tuple[dict | None, set[str]]:
    """The run's summary (None: not dispatched yet) and the shards that have planned, in one read."""
    try:
        item = RunModel.get(iso(run_at), consistent_read=True)
    except RunModel.DoesNotExist:
        return None, set()
    return (json.loads(item.summary) if item.summary else None), set(item.shards_done or ())


def save_summary(run_at: datetime, summary: dict) -> None:
    RunModel(iso(run_at)).update(actions=[RunModel.summary.set(json.dumps(summary, sort_keys=True))])


def summary_of(run_at: datetime) -> dict | None:
    try:
        item = RunModel.get(iso(run_at), consistent_read=True)
    except RunModel.DoesNotExist:
        return None
    return json.loads(item.summary) if item.summary else None
