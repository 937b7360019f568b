"""The daily report, from the outcomes facts of one business date, written next to them in S3.

Besides the day's figures it carries the day's planning summaries (work dispatched per channel,
deferred by capacity, held at planning) and the champion/challenger comparison, which is carried
forward day by day in ``arms-state.json`` (the previous day's state plus this day's facts), so no
report ever re-reads old days.

Reading the day's facts, it also compacts them: the many small objects the writers left become a few
(``facts_sink.compact_day``), so Athena opens a handful of objects per day partition. And it writes the
compliance rules in force (``rules/rules.json``, the lake's ``compliance_rules``)."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from typing import Any

from ..adapters import analytics, bandit_store
from ..adapters.clients import client
from ..adapters.facts_sink import compact_day, read_day, write_rules
from ..config import Settings
from ..domain import bandit
from ..domain.compliance import rules_rows
from ..domain.report import advance_arms, arm_comparison, daily_report
from ..domain.timeutil import zone
from ..observability import logger, metrics
from .report_page import daily_page

REPORT_PREFIX = "reports"
RUNS_PREFIX = "runs"  # the dispatcher's run summaries


def report_key(day: date) -> str:
    return f"{REPORT_PREFIX}/dt={day.isoformat()}/daily-report.json"


def page_key(day: date) -> str:
    return f"{REPORT_PREFIX}/dt={day.isoformat()}/daily-report.html"


def arms_key(day: date) -> str:
    return f"{REPORT_PREFIX}/dt={day.isoformat()}/arms-state.json"


def _get_json(bucket: str, key: str) -> Any:
    s3 = client("s3")
    try:
        return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except s3.exceptions.NoSuchKey:
        return None


def _put_json(bucket: str, key: str, data: Any) -> None:
    client("s3").put_object(
        Bucket=bucket, Key=key, Body=json.dumps(data, indent=1).encode(), ContentType="application/json"
    )


def run_summaries(bucket: str, day: date) -> list[dict[str, Any]]:
    s3 = client("s3")
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{RUNS_PREFIX}/dt={day.isoformat()}/").get("Contents", [])
    return [json.loads(s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()) for o in listed]


def build_report(settings: Settings, day: date) -> dict[str, Any]:
    bucket = settings.outcomes_bucket
    write_rules(bucket, rules_rows())
    rows, merged = compact_day(bucket, day.isoformat())  # the day's facts, read once, left as few objects
    report = daily_report(day, rows, settings.buckets.names)
    report["lake"] = {"objects_merged": merged}
    report["planning"] = run_summaries(bucket, day)
    previous = _get_json(bucket, arms_key(day - timedelta(days=1))) or {}
    arms = advance_arms(previous, rows, day)
    _put_json(bucket, arms_key(day), arms)
    report["arms"] = arm_comparison(arms)
    report["page"] = _page(settings, day)
    report["bandit"] = _learn_bandit(settings, day, rows)
    _put_json(bucket, report_key(day), report)
    return report


def bandit_state_key(day: date) -> str:
    return f"{REPORT_PREFIX}/dt={day.isoformat()}/bandit-state.json"


def _learn_bandit(settings: Settings, day: date, today_rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The bandit learns online: the contacts of the day 8 days back (their 7 days have passed by the
    end of this one) become that day's counts; the counts in use are the sum of the last
    ``bandit.WINDOW_DAYS`` days. Carried a day at a time as the arms are (``bandit-state.json``: the
    contacts still waiting for their 7 days, whether a repayment followed each so far, and the sum in
    use), so a report reads only its own day's facts; the first report, or the first after a gap, reads
    the 8 days it needs once. Never costs the report."""
    bucket = settings.outcomes_bucket
    learned = day - timedelta(days=8)
    first = learned - timedelta(days=bandit.WINDOW_DAYS - 1)
    try:
        until = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone(settings.business_tz))
        state = _get_json(bucket, bandit_state_key(day - timedelta(days=1)))
        if state is None:
            rows = [r for d in range(8) for r in read_day(bucket, (learned + timedelta(days=d)).isoformat())]
            pending = bandit.advance([], rows)
            window = bandit.merge(
                bandit_store.days_between(bucket, first.isoformat(), (learned - timedelta(days=1)).isoformat())
            )
        else:
            pending = state["pending"]
            leaving = bandit_store.day_counts(bucket, (first - timedelta(days=1)).isoformat())
            window = bandit.subtract(state["window"], leaving)
        counts, pending = bandit.take(bandit.advance(pending, today_rows), until, learned.isoformat())
        bandit_store.publish_day(bucket, learned.isoformat(), counts)
        merged = bandit.merge([window, counts])
        state_body = json.dumps({"pending": pending, "window": merged}, separators=(",", ":")).encode()
        client("s3").put_object(
            Bucket=bucket, Key=bandit_state_key(day), Body=state_body, ContentType="application/json"
        )
        bandit_store.publish(bucket, {"learned_through": learned.isoformat(), "counts": merged})
    except Exception as e:
        logger.exception("bandit counts not learned today")
        metrics.add_metric(name="BanditLearningFailed", unit="Count", value=1)
        return {"learned": None, "error": f"{type(e).__name__}: {str(e)[:300]}"}
    contacts = sum(n for arms in counts.values() for key, (_, n) in arms.items() if key.endswith("@"))
    return {"learned": learned.isoformat(), "contacts": contacts}


def _page(settings: Settings, day: date) -> dict[str, Any]:
    """The readable page beside the JSON, from the named queries run in the workgroup (locally: the
    local stack's engine). Whatever goes wrong with it, the day's JSON report is still written."""
    try:
        page, failed = daily_page(analytics.engine(), day)
        client("s3").put_object(
            Bucket=settings.outcomes_bucket,
            Key=page_key(day),
            Body=page.encode(),
            ContentType="text/html; charset=utf-8",
        )
    except Exception as e:
        logger.exception("report page not written")
        metrics.add_metric(name="ReportPageFailed", unit="Count", value=1)
        return {"key": None, "error": f"{type(e).__name__}: {str(e)[:300]}"}
    return {"key": page_key(day), "failed_sections": failed}
