"""The daily report: computed from one business date's facts (the same rows Athena sees)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from .buckets import CURRENT
from .money import from_minor


def dedupe(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Redelivered work may write a fact twice; its fact_id is deterministic, so keep one."""
    seen: dict[str, Mapping[str, Any]] = {}
    for row in rows:
        seen.setdefault(str(row["fact_id"]), row)
    return list(seen.values())


def _money(by_currency: Mapping[str, int]) -> dict[str, str]:
    return {cur: str(from_minor(v, cur)) for cur, v in sorted(by_currency.items())}


def daily_report(run_date: date, rows: Iterable[Mapping[str, Any]], bucket_names: list[str]) -> dict[str, Any]:
    facts = dedupe(rows)
    latest_eval: dict[str, Mapping[str, Any]] = {}
    for f in facts:
        if f["fact_type"] == "loan_evaluated":
            prev = latest_eval.get(f["loan_id"])
            if prev is None or str(f["occurred_at"]) > str(prev["occurred_at"]):
                latest_eval[f["loan_id"]] = f
    loans = Counter({name: 0 for name in bucket_names})
    balance: dict[str, dict[str, int]] = {name: defaultdict(int) for name in bucket_names}
    overdue: dict[str, dict[str, int]] = {name: defaultdict(int) for name in bucket_names}
    for f in latest_eval.values():
        if f["bucket"] == CURRENT:
            continue
        loans[f["bucket"]] += 1
        balance[f["bucket"]][f["currency"]] += int(f["outstanding_minor"] or 0)
        overdue[f["bucket"]][f["currency"]] += int(f["amount_minor"] or 0)
    kinds = Counter(f["fact_type"] for f in facts)
    sent_by_channel = Counter(f["channel"] for f in facts if f["fact_type"] == "action_sent")
    recovered: dict[str, int] = defaultdict(int)
    repaid: dict[str, int] = defaultdict(int)
    for f in facts:
        if f["fact_type"] == "repayment_applied":
            repaid[f["currency"]] += int(f["amount_minor"] or 0)
            if f["from_bucket"] not in (None, CURRENT):
                recovered[f["currency"]] += int(f["amount_minor"] or 0)
    return {
        "run_date": run_date.isoformat(),
        "loans_by_bucket": dict(loans),
        "delinquent_loans": sum(loans.values()),
        "balance_by_bucket": {b: _money(v) for b, v in balance.items()},
        "overdue_by_bucket": {b: _money(v) for b, v in overdue.items()},
        "newly_overdue": kinds["case_opened"],
        "cured": sum(1 for f in facts if f["fact_type"] == "case_closed" and f["reason"] == "cured"),
        "actions": {
            "planned": kinds["action_planned"],
            "sent": kinds["action_sent"],
            "cancelled": kinds["action_cancelled"],
            "blocked": kinds["action_blocked"],
            "deferred": kinds["action_deferred"],
            "sent_by_channel": dict(sorted(sent_by_channel.items())),
        },
        "amount_recovered": _money(recovered),
        "amount_repaid": _money(repaid),
        "repayments": kinds["repayment_applied"],
    }
