"""``arrears explain``: why an action happened (or why a loan was never worked), from the outcomes
facts, in time order, each time in UTC and in the borrower's local time."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

#: fact type -> the word shown; the order breaks ties between facts of one instant
WHAT = {
    "repayment_applied": "repayment",
    "repayment_reversed": "reversal",
    "bucket_left": "left",
    "case_closed": "case closed",
    "case_opened": "case opened",
    "case_reopened": "case reopened",
    "bucket_entered": "entered",
    "loan_evaluated": "evaluated",
    "case_escalated": "escalated",
    "action_planned": "planned",
    "action_deferred": "deferred",
    "action_sent": "sent",
    "call_outcome": "call result",
    "promise_made": "promise",
    "promise_kept": "promise kept",
    "promise_broken": "promise broken",
    "action_blocked": "blocked",
    "action_cancelled": "cancelled",
}
ACTION_FACTS = (
    "action_planned",
    "action_deferred",
    "action_sent",
    "action_blocked",
    "action_cancelled",
    "call_outcome",
)
ZONES_FILE = "borrower-zones.json"


def facts_in(folder: Path) -> Iterable[dict[str, Any]]:
    """The facts of an outcomes folder as `arrears run` wrote it (``dt=*/*.json``, JSON lines);
    ValueError naming the file and line of one that is not JSON."""
    for path in sorted(folder.glob("dt=*/*.json")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path} line {n}: not JSON ({e.msg})") from None


def zones_in(out: Path) -> dict[str, str]:
    """borrower id -> IANA zone, as ``arrears run`` wrote them (empty when absent)."""
    path = out / ZONES_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def runs_in(out: Path) -> dict[str, dict[str, Any]] | None:
    """run time -> the summary of each daily run that was dispatched (``shards_missing``: the shards
    it was dispatched without); None when not known."""
    folder = out / "runs"
    if not folder.is_dir():
        return None
    summaries = (json.loads(p.read_text(encoding="utf-8")) for p in folder.glob("dt=*/run-*.json"))
    return {str(s["run_at"]): s for s in summaries}


def shard_count_in(out: Path) -> int | None:
    """The stack's ShardCount, as ``out/summary.json`` records it."""
    path = out / "summary.json"
    try:
        return int(json.loads(path.read_text(encoding="utf-8"))["params"]["ShardCount"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


class _Runs:
    """What became of the daily runs, for one loan."""

    def __init__(self, runs: Mapping[str, Mapping[str, Any]] | None, shard: str | None) -> None:
        self.runs, self.shard = runs, shard

    def failure(self, run_at: str) -> str | None:
        """Why the loan's work at this run went nowhere, when a shard or the dispatch failed."""
        if self.runs is None:
            return None
        summary = self.runs.get(run_at)
        if summary is None:
            return "the run was never dispatched (a shard or the dispatcher failed)"
        missing = list(summary.get("shards_missing") or [])
        if missing and (self.shard is None or self.shard in missing):
            which = f"its shard {self.shard}" if self.shard in missing else f"shard(s) {', '.join(missing)}"
            return f"the run was dispatched without {which}, which failed"
        return None

    def missed(self, evaluated: set[str]) -> list[str]:
        """Runs the loan's own shard failed in before evaluating it."""
        if self.runs is None or self.shard is None:
            return []
        return sorted(
            r for r, s in self.runs.items() if self.shard in (s.get("shards_missing") or []) and r not in evaluated
        )


def explain(
    rows: Iterable[dict[str, Any]],
    wanted: str,
    zones: Mapping[str, str] | None = None,
    runs: Mapping[str, Mapping[str, Any]] | None = None,
    shard_count: int | None = None,
) -> list[str]:
    """An action id: its timeline. A loan id: every fact about the loan in time order (cases,
    evaluations and what planning decided, actions, calls, promises, repayments), then why no
    contact was sent when none was."""
    seen: set[str] = set()
    mine = []
    for f in rows:
        if f["fact_type"] in WHAT and wanted in (f.get("action_id"), f.get("loan_id")) and f["fact_id"] not in seen:
            seen.add(f["fact_id"])
            mine.append(f)
    if not mine:
        return []
    mine.sort(key=lambda f: (f["occurred_at"], list(WHAT).index(f["fact_type"]), f.get("action_id") or ""))
    zone = (zones or {}).get(str(mine[0].get("borrower_id")))
    if any(f.get("action_id") == wanted for f in mine):
        return _action(wanted, [f for f in mine if f.get("action_id") == wanted], zone)
    shard = None
    if shard_count:
        from arrears.adapters.store import shard_of

        shard = shard_of(wanted, shard_count)
    return _loan(wanted, mine, zone, _Runs(runs, shard))


def _when(f: Mapping[str, Any], zone: str | None) -> str:
    at = str(f["occurred_at"])
    if not zone:
        return at
    local = datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone(ZoneInfo(zone))
    return f"{at}  {local:%Y-%m-%d %H:%M}"


def _zone_note(zone: str | None) -> str:
    return f"  (times: UTC, then local in {zone})" if zone else "  (times in UTC)"


def _action(action_id: str, steps: list[dict[str, Any]], zone: str | None) -> list[str]:
    head = next((f for f in steps if f.get("strategy")), steps[0])
    lines = [
        f"action {action_id}  loan {head['loan_id']}  case {head.get('case_id')}  channel {head.get('channel') or '-'}"
        f"  strategy {head.get('strategy')} v{head.get('strategy_version')} arm {head.get('variant')}"
        f"  step {head.get('step')}{_zone_note(zone)}"
    ]
    for f in steps:
        lines.append(f"  {_when(f, zone)}  {WHAT[f['fact_type']]:<11} {f.get('reason') or ''}")
    return lines


def _amount(f: Mapping[str, Any]) -> str:
    if f.get("amount_minor") is None:
        return ""
    try:
        from arrears.domain.money import minor_units

        places = minor_units(str(f.get("currency")))
    except (ImportError, KeyError, ValueError):
        places = 2
    return f"{Decimal(int(f['amount_minor'])).scaleb(-places)} {f.get('currency') or ''}".strip()


def _detail(f: Mapping[str, Any], runs: _Runs, worked_at: set[str]) -> str:
    kind, reason = f["fact_type"], f.get("reason") or ""
    if kind in ACTION_FACTS:
        return f"action {f.get('action_id')} {f.get('channel') or ''} {reason}".replace("  ", " ").strip()
    if kind == "loan_evaluated":
        text = (
            f"{f.get('bucket')} DPD {f.get('dpd')}, {_amount(f)} overdue: {reason or 'planning outcome not recorded'}"
        )
        return text + _undelivered(f, runs, worked_at)
    if kind in ("case_opened", "case_closed", "case_reopened"):
        return f"{f.get('case_id')}{': ' + reason if reason else ''}"
    if kind in ("bucket_entered", "bucket_left"):
        return f"{f.get('bucket')} (DPD {f.get('dpd')}){': ' + reason if reason else ''}"
    if kind in ("repayment_applied", "repayment_reversed"):
        text = f"{f.get('payment_id')} {_amount(f)} ({f.get('from_bucket')} -> {f.get('to_bucket')})"
        return text + (f": {reason}" if kind == "repayment_reversed" and reason else "")
    return reason


def _undelivered(f: Mapping[str, Any], runs: _Runs, worked_at: set[str]) -> str:
    """What became of an evaluation's proposals when no action followed at that run."""
    run_at = str(f["occurred_at"])
    if run_at in worked_at:
        return ""
    failure = runs.failure(run_at)
    if failure:
        return f" -- {failure}: see WorkDLQ and lambda.log"
    if str(f.get("reason") or "").startswith("proposed"):
        return " -- but no action followed (the ledger stream may have failed: see lambda.log)"
    return ""


def _loan(loan_id: str, facts: list[dict[str, Any]], zone: str | None, runs: _Runs) -> list[str]:
    worked_at = {str(f["occurred_at"]) for f in facts if f["fact_type"] in ("action_planned", "action_deferred")}
    evaluated = {str(f["occurred_at"]) for f in facts if f["fact_type"] == "loan_evaluated"}
    rows = [(str(f["occurred_at"]), f"{WHAT[f['fact_type']]:<14} {_detail(f, runs, worked_at)}", f) for f in facts]
    for run_at in runs.missed(evaluated):
        if _case_open(facts, run_at):
            note = f"{'not evaluated':<14} its shard {runs.shard} failed in this run: see WorkDLQ and lambda.log"
            rows.append((run_at, note, {"fact_type": "loan_evaluated", "occurred_at": run_at}))
    rows.sort(key=lambda r: (r[0], list(WHAT).index(r[2]["fact_type"])))
    lines = [f"loan {loan_id}  borrower {facts[0].get('borrower_id')}{_zone_note(zone)}"]
    lines += [f"  {_when(f, zone)}  {text}" for _, text, f in rows]
    if not any(f["fact_type"] == "action_sent" for f in facts):
        lines.append(_why_never_contacted(facts, runs, worked_at))
    return lines


def _case_open(facts: list[dict[str, Any]], at: str) -> bool:
    """Whether the loan had an open case at that instant (it was delinquent, so due an evaluation)."""
    state = False
    for f in facts:
        if str(f["occurred_at"]) > at:
            break
        if f["fact_type"] in ("case_opened", "case_closed", "case_reopened"):
            state = f["fact_type"] != "case_closed"
    return state


def _why_never_contacted(facts: list[dict[str, Any]], runs: _Runs, worked_at: set[str]) -> str:
    evaluations = [f for f in facts if f["fact_type"] == "loan_evaluated"]
    causes: Counter[str] = Counter()
    for f in evaluations:
        failure = runs.failure(str(f["occurred_at"]))
        if failure and str(f["occurred_at"]) not in worked_at:
            causes[failure.split(" (", 1)[0].split(", which", 1)[0]] += 1
        elif str(f["occurred_at"]) not in worked_at:
            causes[_short(str(f.get("reason") or "planning outcome not recorded"))] += 1
    missed = [r for r in runs.missed({str(f["occurred_at"]) for f in evaluations}) if _case_open(facts, r)]
    if missed:
        causes[f"not evaluated: its shard {runs.shard} failed"] += len(missed)
    fate: dict[str, dict[str, Any]] = {}
    for f in facts:  # in time order: the last fact of each action is where it stands
        if f["fact_type"] in ACTION_FACTS and f.get("action_id"):
            fate[str(f["action_id"])] = f
    for f in fate.values():
        causes[f"action {WHAT[f['fact_type']]} ({str(f.get('reason') or '').split(':', 1)[0]})"] += 1
    if not evaluations and not missed:
        return "no contact sent: the loan was never delinquent at a daily run"
    days = sorted([str(f["occurred_at"])[:10] for f in evaluations] + [r[:10] for r in missed])
    summary = ", ".join(f"{cause} x{n}" for cause, n in causes.most_common())
    return f"no contact sent: evaluated {len(evaluations)} time(s) from {days[0]} to {days[-1]}: {summary}"


def _short(reason: str) -> str:
    """A planning outcome without its per-day detail (DPD), so equal causes count together."""
    return reason.split(" matches ", 1)[0] if reason.startswith("no segment") else reason
