"""The daily report, from the outcomes facts of one business date, written next to them in S3."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from ..adapters.clients import client
from ..adapters.facts_sink import read_day
from ..config import Settings
from ..domain.report import daily_report

REPORT_PREFIX = "reports"


def report_key(day: date) -> str:
    return f"{REPORT_PREFIX}/dt={day.isoformat()}/daily-report.json"


def build_report(settings: Settings, day: date) -> dict[str, Any]:
    rows = read_day(settings.outcomes_bucket, day.isoformat())
    report = daily_report(day, rows, settings.buckets.names)
    client("s3").put_object(
        Bucket=settings.outcomes_bucket,
        Key=report_key(day),
        Body=json.dumps(report, indent=1).encode(),
        ContentType="application/json",
    )
    return report
