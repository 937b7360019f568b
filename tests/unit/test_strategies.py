"""Strategies as data: the shipped defaults validate, bad documents say where they are wrong, arms
are stable, segments match, steps and escalations are proposed one at a time, work is ranked."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from arrears.domain.strategies import (
    LoanView,
    StrategyError,
    arm_for,
    expected_recovery,
    parse_strategy,
    prioritise,
    probability_of_payment,
    propose,
)

DEFAULTS = Path(__file__).resolve().parents[2] / "layers" / "arrears" / "arrears" / "strategies"
TODAY = date(2026, 4, 10)
NOW = datetime(2026, 4, 10, 1, 0, tzinfo=UTC)


def load(name: str) -> dict:
    return yaml.safe_load((DEFAULTS / name).read_text())


def loan(n: int = 1, **kw) -> LoanView:
    base = dict(
        loan_id=f"L{n}",
        case_id=f"L{n}#c",
        bucket="M1",
        dpd=3,
        outstanding=Decimal("3000"),
        overdue=Decimal("1000"),
        credit_grade="B",
        risk=None,
        product="cash-3m",
        jurisdiction="CN",
        language="zh-CN",
        bucket_since=TODAY - timedelta(days=2),
    )
    return LoanView(**{**base, **kw})


@pytest.mark.parametrize("name", ["cn-default.yaml", "us-default.yaml"])
def test_shipped_defaults_validate(name):
    s = parse_strategy(load(name))
    assert s.version == 1 and s.champion.share == 1.0 and len(s.champion.segments) == 3


def test_errors_name_every_problem_and_its_place():
    doc = load("cn-default.yaml")
    doc["segments"][0]["steps"][1]["channel"] = "fax"
    doc["segments"][1]["match"]["dpd"] = [60, 31]
    doc["segments"][2]["escalations"] = [{"level": "agency", "min_dpd": 121}, {"level": "legal", "min_dpd": 91}]
    doc["challengers"] = [{"variant": "b", "share": 1.5, "segments": []}]
    doc["colour"] = "red"
    with pytest.raises(StrategyError) as e:
        parse_strategy(doc)
    text = str(e.value)
    for where in (
        "segments[0].steps[1].channel: 'fax' is not one of",
        "segments[1].match.dpd: max is below min",
        "segments[2].escalations: levels must go up",
        "challengers[0].share",
        "challengers[0].segments",
        "strategy.colour: unknown field",
    ):
        assert where in text


def with_challenger(share: float = 0.2) -> dict:
    doc = load("cn-default.yaml")
    doc["challengers"] = [
        {
            "variant": "call-first",
            "share": share,
            "segments": [
                {
                    "name": "m1-call-first",
                    "match": {"buckets": ["M1"]},
                    "steps": [
                        {"id": "call", "after_days": 0, "channel": "voice", "template": "flow/zh-CN/m1_soft_call"}
                    ],
                }
            ],
        }
    ]
    return doc


def test_arms_are_deterministic_and_follow_the_shares():
    s = parse_strategy(with_challenger(0.2))
    arms = Counter(arm_for(s, f"L{i}").name for i in range(20_000))
    assert 0.18 < arms["call-first"] / 20_000 < 0.22
    assert all(arm_for(s, f"L{i}") == arm_for(parse_strategy(with_challenger(0.2)), f"L{i}") for i in range(500))


def test_first_matching_segment_applies_and_steps_come_one_a_day():
    s = parse_strategy(load("cn-default.yaml"))
    [p] = propose(s, loan(), TODAY, NOW)
    assert (p.segment, p.step_id, p.channel, p.kind) == ("m1-reminders", "m1-sms", "sms", "contact")
    [p] = propose(s, loan(done_steps=frozenset({"m1-sms"}), bucket_since=TODAY - timedelta(days=4)), TODAY, NOW)
    assert p.step_id == "m1-wechat" and "3 days after bucket entry" in p.why
    assert propose(s, loan(promise_open=True), TODAY, NOW) == []
    assert propose(s, loan(jurisdiction="US", language="en"), TODAY, NOW) == []


def test_cooldown_holds_contacts_back():
    s = parse_strategy(load("cn-default.yaml"))
    recent = NOW - timedelta(hours=5)
    assert propose(s, loan(last_contact_at=recent), TODAY, NOW) == []


def test_escalation_goes_one_level_at_a_time():
    s = parse_strategy(load("cn-default.yaml"))
    far = loan(bucket="M6", dpd=150, bucket_since=TODAY - timedelta(days=5), done_steps=frozenset({"m4-letter"}))
    [x] = [p for p in propose(s, far, TODAY, NOW) if p.kind == "escalate"]
    assert x.step_id == "escalate:high_risk"
    [x] = [p for p in propose(s, far._replace(escalation="high_risk"), TODAY, NOW) if p.kind == "escalate"]
    assert x.step_id == "escalate:legal"


def test_probability_and_expected_recovery_are_monotone_in_the_right_direction():
    assert (
        probability_of_payment(loan(dpd=5))
        > probability_of_payment(loan(dpd=60))
        > probability_of_payment(loan(dpd=150))
    )
    assert probability_of_payment(loan(broken_promises=2)) < probability_of_payment(loan())
    assert probability_of_payment(loan(reachable=False)) < probability_of_payment(loan())
    assert expected_recovery(loan(overdue=Decimal("2000"))) > expected_recovery(loan(overdue=Decimal("1000")))


def test_capacity_is_a_limit_and_ranking_is_deterministic():
    s = parse_strategy(load("cn-default.yaml"))
    proposals = [p for i in range(10) for p in propose(s, loan(i, overdue=Decimal(100 * (i % 3 + 1))), TODAY, NOW)]
    plan = prioritise(proposals, {"sms": 4})
    assert len(plan.work) == 4 and len(plan.deferred) == 6
    assert all(w.expected_recovery >= d.expected_recovery for w in plan.work for d in plan.deferred)
    assert prioritise(list(reversed(proposals)), {"sms": 4}) == plan  # ties broken by loan id, not input order


def test_strategy_check_command(tmp_path, capsys):
    from arrears_local.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\nversion: 1\nsegments: [{name: s, steps: [{id: a, channel: fax, template: t}]}]\n")
    assert main(["strategy-check", str(DEFAULTS / "cn-default.yaml")]) == 0
    assert main(["strategy-check", str(bad)]) == 1
    assert "segments[0].steps[0].channel: 'fax'" in capsys.readouterr().out


def test_a_step_id_is_unique_across_the_segments_of_an_arm():
    """Steps are done once per case by id: a shared id would silently skip the second segment's step."""
    doc = load("cn-default.yaml")
    doc["segments"][1]["steps"][0]["id"] = "m1-sms"
    with pytest.raises(StrategyError, match="step id 'm1-sms' is used by segments 'm1-reminders' and 'm2-m3-firm'"):
        parse_strategy(doc)
