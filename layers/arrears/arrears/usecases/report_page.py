"""The readable report's queries: which named query fills which section of the page, over which
dates, for one business date (the daily report) or a whole run (``arrears run``'s ``report.html``).
The same named queries analysts run; an engine (``adapters/analytics.py``) runs them."""

from __future__ import annotations

from datetime import date, timedelta

from ..adapters import analytics
from ..domain.report_html import render
from ..observability import logger, metrics

Plan = dict[str, tuple[str, dict[str, str]]]


def plan(first: date, last: date, violations: bool = False) -> Plan:
    """Each section's named query and parameters for the page of ``last`` (a daily page: the history it
    draws starts at ``first``); with ``violations``, the count of the violations query over the last 7
    days too (the run's page shows it; a daily page leaves that heavier query to the analysts)."""

    def d(day: date) -> str:
        return day.isoformat()

    week = max(first, last - timedelta(days=6))
    return {
        "overview": ("daily_overview", {"from_date": d(max(first, last - timedelta(days=1))), "to_date": d(last)}),
        "recovered": ("recovered_by_day", {"from_date": d(max(first, last - timedelta(days=1))), "to_date": d(last)}),
        "buckets": ("buckets_by_day", {"from_date": d(first), "to_date": d(last)}),
        "roll": ("roll_rates", {"from_date": d(min(first, last - timedelta(days=70))), "to_date": d(last)}),
        "recovery": (
            "recovery_curve",
            {"from_date": d(min(first, last - timedelta(days=90))), "to_date": d(last), "days": "30"},
        ),
        "channels": ("channel_effectiveness", {"from_date": d(week), "to_date": d(last)}),
        "arms": ("arms", {"to_date": d(last)}),
        "compliance": ("deferred_and_blocked_by_rule", {"from_date": d(week), "to_date": d(last)}),
        "imports": ("imports_by_day", {"from_date": d(last), "to_date": d(last)}),
    } | ({"violations": ("violations", {"from_date": d(week), "to_date": d(last)})} if violations else {})


def sections(engine: analytics.Engine, queries: Plan) -> dict[str, analytics.Rows | str]:
    """Each section's rows; a query that fails leaves its section saying why, and the others go on."""
    out: dict[str, analytics.Rows | str] = {}
    for key, (name, params) in queries.items():
        try:
            out[key] = analytics.run_named(engine, name, params)
        except Exception as e:  # a query's failure must not cost the page (nor the day's JSON report)
            logger.warning("report query failed", extra={"query": name, "error": str(e)[:300]})
            metrics.add_metric(name="ReportQueriesFailed", unit="Count", value=1)
            out[key] = f"{name}: {type(e).__name__}: {str(e)[:200]}"
    return out


def daily_page(engine: analytics.Engine, day: date, history_days: int = 30) -> tuple[str, list[str]]:
    """The day's page, and the sections whose query failed."""
    got = sections(engine, plan(day - timedelta(days=history_days - 1), day))
    page = render(f"arrears daily report, {day.isoformat()}", f"arrears 催收日报 {day.isoformat()}", got)
    return page, sorted(k for k, v in got.items() if isinstance(v, str))
