"""The what-if's arithmetic: means and Student's t intervals over seeds, figures a run never met
counted as zero where zero is the truth (a currency, a guard rule) and left out where it is not."""

from __future__ import annotations

import json
import math
from pathlib import Path

from arrears_local.whatif import figures, summarise, table


def test_means_and_intervals_over_seeds():
    runs = [
        {"cures": 10, "recovered": {"CNY": 100.0}, "contacts_per_cure": 2.0, "guard_by_rule": {"deferred:capacity": 3}},
        {"cures": 14, "recovered": {"CNY": 300.0, "USD": 5.0}, "contacts_per_cure": None, "guard_by_rule": {}},
        {"cures": 12, "recovered": {"CNY": 200.0}, "contacts_per_cure": 3.0, "guard_by_rule": {}},
    ]
    s = summarise(runs)
    assert s["cures"]["mean"] == 12
    half = 4.303 * 2.0 / math.sqrt(3)  # t(2 df) x sd / sqrt(n); sd of 10, 14, 12 is 2
    assert s["cures"]["ci95"] == [12 - half, 12 + half]
    assert s["recovered.USD"]["mean"] == 5.0 / 3  # a currency a run never recovered: 0 there
    assert s["guard_by_rule.deferred:capacity"]["mean"] == 1.0
    assert s["contacts_per_cure"] == {"mean": None, "ci95": None}  # no cures in a run: no figure
    assert summarise(runs[:1])["cures"] == {"mean": 10.0, "ci95": None}


def _write(out: Path, cases: dict, facts: list[dict], world: dict | None) -> None:
    (out / "reports" / "dt=2026-04-01").mkdir(parents=True)
    (out / "reports" / "dt=2026-04-01" / "arms-state.json").write_text(json.dumps({"cases": cases}))
    (out / "outcomes" / "facts" / "dt=2026-04-01").mkdir(parents=True)
    lines = "\n".join(json.dumps(f) for f in facts + facts[:1])  # one fact written twice
    (out / "outcomes" / "facts" / "dt=2026-04-01" / "a.json").write_text(lines)
    if world is not None:
        (out / "world.json").write_text(json.dumps(world))


def test_a_runs_figures_from_what_it_wrote(tmp_path):
    case = {"currency": "CNY", "overdue_minor": 10000, "recovered_minor": 5000, "cured": False}
    cases = {"a": case, "b": {**case, "recovered_minor": 10000, "cured": True}, "c": {**case, "currency": "JPY", "overdue_minor": 100, "recovered_minor": 100, "cured": True}}
    facts = [
        {"fact_id": "1", "fact_type": "action_sent", "channel": "sms", "reason": None},
        {"fact_id": "2", "fact_type": "action_sent", "channel": "voice", "reason": None},
        {"fact_id": "3", "fact_type": "action_blocked", "channel": "sms", "reason": "opt_out: borrower opted out of sms"},
        {"fact_id": "4", "fact_type": "action_deferred", "channel": "sms", "reason": "contact_hours: outside 08:00-22:00"},
    ]
    _write(tmp_path, cases, facts, {"reactions": {"complaint": 2, "optout": 1}})
    f = figures(tmp_path, {"sms": 0.5, "voice": 2.0})
    assert f["recovered"] == {"CNY": 150.0, "JPY": 100.0}  # minor units by currency (the yen has none)
    assert math.isclose(f["recovery_rate"], (0.5 + 1.0 + 1.0) / 3)
    assert f["cures"] == 2 and f["contacts"] == 2 and f["contacts_per_cure"] == 1.0  # fact 1 counted once
    assert f["cost"] == 2.5 and f["cost_by_channel"]["voice"] == 2.0
    assert f["guard_by_rule"] == {"blocked:opt_out": 1, "deferred:contact_hours": 1}
    assert (f["complaints"], f["opt_outs"]) == (2, 1)
    text = table({"strategies": {"x": summarise([f]), "y": summarise([f])}})
    assert "recovered JPY" in text and "guard deferred:contact_hours" in text
