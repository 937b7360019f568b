"""The daily report: computed from one business date's facts (the same rows Athena sees)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any

from .buckets import CURRENT
from .experiments import LoanOutcome, compare_arms
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
    deferred = Counter(str(f["reason"] or "").split(":", 1)[0] for f in facts if f["fact_type"] == "action_deferred")
    blocked = Counter(str(f["reason"] or "").split(":", 1)[0] for f in facts if f["fact_type"] == "action_blocked")
    recovered: dict[str, int] = defaultdict(int)
    repaid: dict[str, int] = defaultdict(int)
    reversed_: dict[str, int] = defaultdict(int)
    for f in facts:
        if f["fact_type"] == "repayment_applied":
            repaid[f["currency"]] += int(f["amount_minor"] or 0)
            if f["from_bucket"] not in (None, CURRENT):
                recovered[f["currency"]] += int(f["amount_minor"] or 0)
        elif f["fact_type"] == "repayment_reversed":  # a negative amount: the figures are net of reversals
            reversed_[f["currency"]] += int(f["amount_minor"] or 0)
            repaid[f["currency"]] += int(f["amount_minor"] or 0)
            if f["bucket"] not in (None, CURRENT):  # it had been recovered (from that bucket)
                recovered[f["currency"]] += int(f["amount_minor"] or 0)
    return {
        "run_date": run_date.isoformat(),
        "loans_by_bucket": dict(loans),
        "delinquent_loans": sum(loans.values()),
        "balance_by_bucket": {b: _money(v) for b, v in balance.items()},
        "overdue_by_bucket": {b: _money(v) for b, v in overdue.items()},
        "newly_overdue": kinds["case_opened"],
        "cured": sum(1 for f in facts if f["fact_type"] == "case_closed" and f["reason"] == "cured"),
        "reopened": kinds["case_reopened"],
        "actions": {
            "planned": kinds["action_planned"],
            "sent": kinds["action_sent"],
            "cancelled": kinds["action_cancelled"],
            "blocked": kinds["action_blocked"],
            "deferred": kinds["action_deferred"],
            "deferred_by_rule": dict(sorted(deferred.items())),
            "blocked_by_rule": dict(sorted(blocked.items())),  # the compliance guard's refusals, by rule
            "sent_by_channel": dict(sorted(sent_by_channel.items())),
        },
        "calls": dict(sorted(Counter(f["reason"] for f in facts if f["fact_type"] == "call_outcome").items())),
        "promises": {k: kinds[f"promise_{k}"] for k in ("made", "kept", "broken")},
        "escalations": dict(
            sorted(Counter(str(f["step"]).split(":")[-1] for f in facts if f["fact_type"] == "case_escalated").items())
        ),
        "amount_recovered": _money(recovered),
        "amount_repaid": _money(repaid),
        "repayments": kinds["repayment_applied"],
        "amount_reversed": _money(reversed_),
        "reversals": kinds["repayment_reversed"],
        "arrangements": _arrangements(facts, kinds),
    }


def _arrangements(facts: list[Mapping[str, Any]], kinds: Counter[str]) -> dict[str, Any]:
    """Plans and settlements: accepted, started, broken, paid as agreed, settled, and what the
    settlements forgave (per currency)."""
    forgiven: dict[str, int] = defaultdict(int)
    for f in facts:
        if f["fact_type"] == "settlement_written_down":
            forgiven[f["currency"]] += int(f["amount_minor"] or 0)
    return {
        "accepted": kinds["offer_accepted"],
        "started": kinds["arrangement_started"],
        "broken": kinds["arrangement_broken"],
        "completed": kinds["arrangement_completed"],
        "settled": sum(1 for f in facts if f["fact_type"] == "case_closed" and f["reason"] == "settled"),
        "amount_forgiven": _money(forgiven),
    }


# --- champion / challenger ------------------------------------------------------------------------

#: how long a case stays in the arm comparison after its first work (days)
ARM_WINDOW_DAYS = 90


def advance_arms(state: Mapping[str, Any], rows: Iterable[Mapping[str, Any]], day: date) -> dict[str, Any]:
    """Carry the arm comparison one business day forward: ``state`` is the previous day's (cases
    by id: arm, overdue when first worked, recovered since, contacts, promises, cured), ``rows`` the
    day's facts. Pure and deterministic: re-running a day gives the same state."""
    cases: dict[str, dict[str, Any]] = {k: dict(v) for k, v in state.get("cases", {}).items()}
    loan_case: dict[str, str] = dict(state.get("loan_case", {}))
    # in time order; at one instant a repayment before the closing it causes (the stream tells both at
    # the payment's instant), so the curing payment counts as recovered
    facts = sorted(
        dedupe(rows),
        key=lambda r: (str(r["occurred_at"]), r["fact_type"] != "repayment_applied", str(r["fact_id"])),
    )
    for f in facts:  # first the day's assignments (a contact can share its plan's instant)
        kind, case_id = f["fact_type"], f.get("case_id")
        if kind in ("action_planned", "case_escalated") and case_id and case_id not in cases and f.get("variant"):
            cases[case_id] = {
                "strategy": f["strategy"],
                "arm": f["variant"],
                "since": str(f["business_date"]),
                "since_at": str(f["occurred_at"]),
                "currency": f["currency"],
                "overdue_minor": int(f.get("amount_minor") or 0),
                "recovered_minor": 0,
                "contacts": 0,
                "promises": 0,
                "cured": False,
            }
            loan_case[str(f["loan_id"])] = case_id
    for f in facts:
        kind, case_id = f["fact_type"], f.get("case_id")
        c = cases.get(case_id or loan_case.get(str(f["loan_id"]), ""))
        if c is None:
            continue
        if kind == "action_sent":
            c["contacts"] += 1
        elif kind == "promise_made":
            c["promises"] += 1
        elif kind == "case_closed" and f.get("reason") == "cured":
            c["cured"] = True
        elif kind == "case_reopened":  # a reversed payment undid the cure
            c["cured"] = False
        elif (
            kind == "repayment_applied"
            and f.get("from_bucket") not in (None, CURRENT)
            and not c["cured"]
            and str(f["occurred_at"]) >= c["since_at"]
        ):
            c["recovered_minor"] += int(f.get("amount_minor") or 0)
        elif kind == "repayment_reversed" and f.get("bucket") not in (None, CURRENT):
            c["recovered_minor"] += int(f.get("amount_minor") or 0)  # negative: what was recovered, taken back
    oldest = (day - timedelta(days=ARM_WINDOW_DAYS)).isoformat()
    kept = {k: v for k, v in cases.items() if v["since"] >= oldest}
    return {
        "day": day.isoformat(),
        "cases": kept,
        "loan_case": {lid: cid for lid, cid in loan_case.items() if cid in kept},
    }


def arm_comparison(state: Mapping[str, Any]) -> dict[str, Any]:
    """Per strategy: loans, contacts, promises, cures, amount recovered per loan and the recovery
    rate of each arm, with the difference to the champion and its 95% confidence interval."""
    by_strategy: dict[str, list[LoanOutcome]] = defaultdict(list)
    for case_id, c in sorted(state.get("cases", {}).items()):
        by_strategy[c["strategy"]].append(
            LoanOutcome(
                case_id,
                c["arm"],
                from_minor(c["overdue_minor"], c["currency"]),
                from_minor(c["recovered_minor"], c["currency"]),
                c["contacts"],
                c["promises"],
                c["cured"],
                c["currency"],
            )
        )
    return {s: compare_arms(outcomes) for s, outcomes in sorted(by_strategy.items())}
