"""The operations dashboard (``GET /v1/ops/dashboard``, every role): the book by bucket and its trend
from the daily reports the stack already writes (one S3 read a day shown, never the facts), and the
depth of every queue and dead-letter queue (what waits, what failed for good)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from ..adapters.clients import client
from ..domain.api import ApiError
from .reporting import report_key
from .webhook import Answer

MAX_DAYS = 60


def queues_of(raw: str) -> dict[str, str]:
    """``OPS_QUEUES``: ``name=url,...`` (the template lists the stack's queues and DLQs)."""
    out = {}
    for part in (p.strip() for p in raw.split(",") if p.strip()):
        name, sep, url = part.partition("=")
        if sep and name.strip() and url.strip():
            out[name.strip()] = url.strip()
    return out


def dashboard(bucket: str, queues: Mapping[str, str], today: date, query: Mapping[str, str]) -> Answer:
    raw = query.get("days", "14")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_DAYS:
        raise ApiError(400, f"days must be a whole number from 1 to {MAX_DAYS}", "days")
    days = int(raw)
    s3 = client("s3")
    trend: list[dict[str, Any]] = []
    latest: dict[str, Any] | None = None
    for back in range(days - 1, -1, -1):  # oldest first; the report of a day is written the next morning
        day = today - timedelta(days=back + 1)
        try:
            report = json.loads(s3.get_object(Bucket=bucket, Key=report_key(day))["Body"].read())
        except s3.exceptions.NoSuchKey:
            continue
        latest = report
        trend.append(
            {
                "day": day.isoformat(),
                "delinquent_loans": report.get("delinquent_loans", 0),
                "loans_by_bucket": report.get("loans_by_bucket", {}),
                "newly_overdue": report.get("newly_overdue", 0),
                "cured": report.get("cured", 0),
            }
        )
    sqs = client("sqs")
    depths = []
    for name, url in sorted(queues.items()):
        attrs = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        depths.append(
            {
                "queue": name,
                "dead_letter": name.endswith("-dlq"),
                "waiting": int(attrs.get("ApproximateNumberOfMessages", 0)),
                "in_flight": int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
            }
        )
    body = {
        "as_of": today.isoformat(),
        "latest": {k: v for k, v in (latest or {}).items() if k not in ("planning", "arms")},
        "trend": trend,
        "queues": depths,
    }
    return Answer(200, json.dumps(body, ensure_ascii=False, default=str))
