"""The weekly strategy proposal: what the outcomes say about each step of a strategy, and a new version
that changes what they argue against, each change explained with its evidence.

Pure. ``step_stats`` reads the facts (the lake's rows) of the contacts made in a window whose 7-day
outcomes are complete; ``propose`` turns a strategy document and those statistics into a draft: the
strategy as it is (the champion unchanged) with the changes as a challenger arm, so that an operator
can publish and activate it and the arms then measure it. A challenger that has beaten the champion
is proposed as the new champion instead. Nothing here activates anything.

The rules, each needing enough contacts (``MIN_CONTACTS``) to speak (a step that offers the bandit
options or hours is left to the bandit):
- a step most of whose contacts the compliance guard refused for a reason that does not pass (the
  channel not used in that jurisdiction, opt-outs, no address) is dropped;
- a step that pays clearly worse than the best step of its segment (the upper end of its 95% Wilson
  interval for "repaid within 7 days" below the lower end of the best step's) takes the best step's
  channel and template, at its own timing;
- a step that almost never pays (the upper end of its interval below ``FLOOR``) and costs is dropped;
- a challenger whose recovery rate beats the champion's (its 95% interval above zero) becomes the
  champion.
"""

from __future__ import annotations

import copy
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from .buckets import CURRENT
from .money import minor_units

MIN_CONTACTS = 30
FLOOR = 0.02  # a step whose 7-day payment rate is surely below 2% does not earn its contacts
BLOCKED_SHARE = 0.5
#: refusals that another try does not get past: the step's channel cannot reach these borrowers
STUCK_RULES = ("channel_not_used", "opt_out", "no ")  # "no ": no <channel> address on file
CHALLENGER_SHARE = 0.2
WEEK = timedelta(days=7)
Z95 = 1.959964


class StepStats(NamedTuple):
    strategy: str
    variant: str
    step: str
    channel: str
    contacts: int
    paid_7d: int  # contacts followed by a repayment on the loan within 7 days
    recovered: float  # repaid within 7 days of the contact (last touch) over the amount overdue then
    cost_share: float  # the contacts' cost over the amount overdue then
    blocked: Mapping[str, int]  # the guard's refusals of the step, by rule

    @property
    def rate(self) -> float:
        return self.paid_7d / self.contacts if self.contacts else 0.0


def wilson(successes: int, n: int) -> tuple[float, float]:
    """The 95% Wilson score interval of a proportion."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + Z95**2 / n
    centre = (p + Z95**2 / (2 * n)) / denom
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _major(minor: Any, currency: str) -> float:
    return float(minor or 0) / 10 ** minor_units(currency or "CNY")


def _at(row: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(str(row["occurred_at"]).replace("Z", "+00:00"))


def step_stats(rows: Iterable[Mapping[str, Any]], start: datetime, end: datetime) -> list[StepStats]:
    """Per strategy, arm, step and channel: the contacts made in [start, end) and what followed them
    within 7 days (each repayment credited to the last contact before it), and the guard's refusals."""
    facts = {str(r["fact_id"]): r for r in rows}.values()
    sent = [r for r in facts if r["fact_type"] == "action_sent" and r.get("strategy") and start <= _at(r) < end]
    paid_by_loan: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    contacts_by_loan: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in facts:
        if r["fact_type"] == "repayment_applied" and r.get("from_bucket") not in (None, CURRENT):
            paid_by_loan[str(r["loan_id"])].append(r)
    for s in sent:
        contacts_by_loan[str(s["loan_id"])].append(s)
    credited: dict[str, float] = defaultdict(float)
    followed: set[str] = set()
    for loan, payments in paid_by_loan.items():
        contacts = sorted(contacts_by_loan.get(loan, ()), key=lambda s: (_at(s), str(s["action_id"])))
        for p in payments:
            before = [s for s in contacts if _at(s) <= _at(p) < _at(s) + WEEK]
            for s in before:
                followed.add(str(s["fact_id"]))
            if before:
                credited[str(before[-1]["fact_id"])] += _major(p["amount_minor"], str(p["currency"]))
    groups: dict[tuple[str, str, str, str], dict[str, Any]] = defaultdict(
        lambda: {"n": 0, "paid": 0, "overdue": 0.0, "recovered": 0.0, "cost": 0.0, "blocked": defaultdict(int)}
    )
    for s in sent:
        g = groups[(str(s["strategy"]), str(s.get("variant") or "champion"), str(s["step"]), str(s["channel"]))]
        g["n"] += 1
        g["paid"] += str(s["fact_id"]) in followed
        g["overdue"] += _major(s.get("amount_minor"), str(s["currency"]))
        g["recovered"] += credited.get(str(s["fact_id"]), 0.0)
        g["cost"] += float(s.get("cost_micros") or 0) / 1e6
    for r in facts:
        if r["fact_type"] == "action_blocked" and r.get("strategy") and start <= _at(r) < end:
            key = (str(r["strategy"]), str(r.get("variant") or "champion"), str(r["step"]), str(r["channel"]))
            groups[key]["blocked"][str(r.get("reason") or "").split(":", 1)[0]] += 1
    return [
        StepStats(
            k[0],
            k[1],
            k[2],
            k[3],
            g["n"],
            g["paid"],
            g["recovered"] / g["overdue"] if g["overdue"] else 0.0,
            g["cost"] / g["overdue"] if g["overdue"] else 0.0,
            dict(g["blocked"]),
        )
        for k, g in sorted(groups.items())
    ]


class Change(NamedTuple):
    segment: str
    step: str
    what: str  # drop, switch_channel, promote_challenger
    why: str  # in words, with the evidence
    evidence: Mapping[str, Any]


def _evidence(s: StepStats) -> dict[str, Any]:
    low, high = wilson(s.paid_7d, s.contacts)
    return {
        "step": s.step,
        "channel": s.channel,
        "contacts": s.contacts,
        "paid_within_7_days": s.paid_7d,
        "rate": round(s.rate, 4),
        "rate_ci95": [round(low, 4), round(high, 4)],
        "recovered_share_7_days": round(s.recovered, 4),
        "cost_share": round(s.cost_share, 6),
        "blocked": dict(s.blocked),
    }


def _stuck(s: StepStats) -> tuple[str, int] | None:
    stuck = {rule: n for rule, n in s.blocked.items() if any(rule.startswith(r) for r in STUCK_RULES)}
    total = s.contacts + sum(s.blocked.values())
    if not stuck or total < MIN_CONTACTS:
        return None
    rule, n = max(stuck.items(), key=lambda kv: kv[1])
    return (rule, n) if sum(stuck.values()) / total >= BLOCKED_SHARE else None


def propose(
    doc: Mapping[str, Any], stats: Iterable[StepStats], arms: Mapping[str, Any] | None, label: str
) -> tuple[dict[str, Any] | None, list[Change]]:
    """The draft (None: nothing to change) and its changes. ``doc``: the active version's document;
    ``arms``: the daily report's comparison of its arms (``{arm: {"difference_vs_champion": ...}}``);
    ``label``: names the challenger (e.g. the week's date)."""
    by_step = {(s.variant, s.step): s for s in stats if s.strategy == doc.get("id")}
    changes: list[Change] = []
    promoted = _promotion(doc, arms or {})
    if promoted is not None:
        return promoted
    segments = copy.deepcopy(doc.get("segments") or [])
    for seg in segments:
        steps = seg.get("steps") or []
        measured = [by_step[("champion", st["id"])] for st in steps if ("champion", st["id"]) in by_step]
        spoken = [s for s in measured if s.contacts >= MIN_CONTACTS]
        best = max(spoken, key=lambda s: (wilson(s.paid_7d, s.contacts)[0], -s.cost_share), default=None)
        kept = []
        for st in steps:
            s = by_step.get(("champion", st["id"]))
            if s is None or st.get("options") or st.get("hours"):  # a step the bandit chooses for: its own
                kept.append(st)
                continue
            stuck = _stuck(s)
            low, high = wilson(s.paid_7d, s.contacts)
            if stuck is not None:
                rule, n = stuck
                why = (
                    f"{n} of {s.contacts + sum(s.blocked.values())} of its contacts were refused by the guard "
                    f"({rule}): its channel cannot reach these borrowers"
                )
                changes.append(Change(seg["name"], st["id"], "drop", why, _evidence(s)))
                continue
            if s.contacts >= MIN_CONTACTS and high < FLOOR and s.cost_share > 0:
                why = (
                    f"{s.paid_7d} of {s.contacts} contacts were followed by a payment within 7 days "
                    f"(at most {high:.1%} with 95% confidence): it costs without paying"
                )
                changes.append(Change(seg["name"], st["id"], "drop", why, _evidence(s)))
                continue
            if (
                best is not None
                and s.contacts >= MIN_CONTACTS
                and best.step != s.step
                and best.channel != s.channel
                and high < wilson(best.paid_7d, best.contacts)[0]
            ):
                best_step = next(x for x in steps if x["id"] == best.step)
                why = (
                    f"{s.channel} paid within 7 days after {s.rate:.1%} of {s.contacts} contacts (95% CI up to "
                    f"{high:.1%}); {best.channel} in step {best.step} after {best.rate:.1%} of {best.contacts} "
                    f"(at least {wilson(best.paid_7d, best.contacts)[0]:.1%}): the step moves to {best.channel} "
                    "at its own timing"
                )
                changes.append(
                    Change(seg["name"], st["id"], "switch_channel", why, {**_evidence(s), "best": _evidence(best)})
                )
                st = {**st, "channel": best_step["channel"], "template": best_step["template"]}
                if best.channel == "voice" and "reachable" not in (st.get("when") or []):
                    st["when"] = sorted({*(st.get("when") or []), "reachable"})
            kept.append(st)
        seg["steps"] = kept
    segments = [s for s in segments if s.get("steps")]
    if not changes or not segments:
        return None, changes
    others = [c for c in doc.get("challengers") or [] if isinstance(c, dict)]
    share = min(CHALLENGER_SHARE, round(0.9 - sum(float(c.get("share") or 0) for c in others), 2))
    if share <= 0:
        others, share = [], CHALLENGER_SHARE  # no traffic left: the proposal replaces the experiments
    proposal = {"variant": f"proposal-{label}", "share": share, "segments": segments}
    draft = {k: v for k, v in doc.items() if k not in ("version", "challengers")}
    draft["challengers"] = [*others, proposal]
    return draft, changes


def _promotion(doc: Mapping[str, Any], arms: Mapping[str, Any]) -> tuple[dict[str, Any], list[Change]] | None:
    """A challenger that beat the champion (its 95% interval above zero) as the new champion."""
    winners = [
        (name, a["difference_vs_champion"])
        for name, a in arms.items()
        if name != "champion" and a.get("difference_vs_champion") and a["difference_vs_champion"]["ci95"][0] > 0
    ]
    if not winners:
        return None
    name, diff = max(winners, key=lambda w: w[1]["ci95"][0])
    challenger = next((c for c in doc.get("challengers") or [] if c.get("variant") == name), None)
    if challenger is None:
        return None
    why = (
        f"arm {name} recovered {diff['recovery_rate']:+.1%} of the amount overdue against the champion "
        f"(95% CI {diff['ci95'][0]:+.1%} to {diff['ci95'][1]:+.1%}, {arms[name].get('loans')} loans against "
        f"{arms.get('champion', {}).get('loans')}): it becomes the champion"
    )
    draft = {k: v for k, v in doc.items() if k not in ("version", "challengers")}
    draft["segments"] = copy.deepcopy(challenger["segments"])
    draft["challengers"] = [c for c in doc.get("challengers") or [] if c.get("variant") != name]
    evidence = {
        "arm": name,
        **diff,
        "loans": arms[name].get("loans"),
        "champion_loans": arms.get("champion", {}).get("loans"),
    }
    return draft, [Change("*", "*", "promote_challenger", why, evidence)]
