"""``arrears explain``: why an action happened (or did not), from the outcomes facts."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

WHAT = {
    "action_planned": "planned",
    "action_deferred": "deferred",
    "action_sent": "sent",
    "action_blocked": "blocked",
    "action_cancelled": "cancelled",
    "call_outcome": "call result",
    "case_escalated": "escalated",
}


def facts_in(folder: Path) -> Iterable[dict[str, Any]]:
    for path in sorted(folder.glob("dt=*/*.json")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                yield json.loads(line)


def explain(rows: Iterable[dict[str, Any]], wanted: str) -> list[str]:
    """Timeline of every fact about an action id, or about each action of a loan id."""
    seen: set[str] = set()
    mine = []
    for f in rows:
        if f["fact_type"] in WHAT and wanted in (f.get("action_id"), f.get("loan_id")) and f["fact_id"] not in seen:
            seen.add(f["fact_id"])
            mine.append(f)
    lines = []
    for action_id in sorted({str(f["action_id"]) for f in mine}):
        steps = sorted(
            (f for f in mine if f["action_id"] == action_id),
            key=lambda f: (f["occurred_at"], list(WHAT).index(f["fact_type"])),
        )
        head = steps[0]
        lines.append(
            f"action {action_id}  loan {head['loan_id']}  case {head.get('case_id')}  channel {head.get('channel') or '-'}"
            f"  strategy {head.get('strategy')} v{head.get('strategy_version')} arm {head.get('variant')}"
            f"  step {head.get('step')}"
        )
        for f in steps:
            lines.append(f"  {f['occurred_at']}  {WHAT[f['fact_type']]:<11} {f.get('reason') or ''}")
    return lines
