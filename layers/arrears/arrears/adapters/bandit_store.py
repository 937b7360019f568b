"""The bandit's learned counts in the outcomes bucket: each day's (``models/bandit/days/<date>.json``,
written by the daily report) and their sum over the window (``models/bandit/current.json``), which the
shard workers read at most once an hour of event time."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..observability import logger, metrics
from .clients import client

KEY = "models/bandit/current.json"
REFRESH = timedelta(hours=1)
_cache: dict[str, tuple[datetime, dict[str, Any]]] = {}


DAYS = "models/bandit/days/"


def publish(bucket: str, doc: dict[str, Any]) -> None:
    client("s3").put_object(Bucket=bucket, Key=KEY, Body=json.dumps(doc, sort_keys=True).encode())


def publish_day(bucket: str, day: str, counts: dict[str, Any]) -> None:
    client("s3").put_object(Bucket=bucket, Key=f"{DAYS}{day}.json", Body=json.dumps(counts, sort_keys=True).encode())


def days_between(bucket: str, first: str, last: str) -> list[dict[str, Any]]:
    """Each day's counts from ``first`` to ``last`` (business dates)."""
    s3 = client("s3")
    out = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=DAYS, StartAfter=f"{DAYS}{first}"):
        for o in page.get("Contents", []):
            if first <= o["Key"][len(DAYS) : -len(".json")] <= last:
                out.append(json.loads(s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()))
    return out


def day_counts(bucket: str, day: str) -> dict[str, Any]:
    """One day's counts ({} when that day learned nothing or is not kept)."""
    s3 = client("s3")
    try:
        return json.loads(s3.get_object(Bucket=bucket, Key=f"{DAYS}{day}.json")["Body"].read())  # type: ignore[no-any-return]
    except s3.exceptions.NoSuchKey:
        return {}


def counts(bucket: str, now: datetime) -> dict[str, Any]:
    """The counts in use ({} before the first training, or when unreadable and none read before: every
    option then draws from Beta(1, 1), which explores)."""
    cached = _cache.get(bucket)
    if cached is not None and abs(now - cached[0]) < REFRESH:
        return cached[1]
    try:
        got = json.loads(client("s3").get_object(Bucket=bucket, Key=KEY)["Body"].read()).get("counts") or {}
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404"):
            return _unreadable(bucket, now, f"ClientError: {e}", cached)
        got = {}
    except (BotoCoreError, ValueError, TypeError) as e:
        return _unreadable(bucket, now, f"{type(e).__name__}: {e}", cached)
    _cache[bucket] = (now, got)
    return got


def _unreadable(bucket: str, now: datetime, why: str, cached: tuple[datetime, dict[str, Any]] | None) -> dict[str, Any]:
    logger.warning("bandit counts unreadable; the ones read before (or none) are used", extra={"error": why[:300]})
    metrics.add_metric(name="BanditCountsUnreadable", unit="Count", value=1)
    return cached[1] if cached is not None else {}
