"""The weekly strategy proposal: statistics per step from the facts, and the changes they argue for,
each explained with its evidence; the draft keeps the champion and adds the changes as a challenger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from arrears.domain.proposals import MIN_CONTACTS, StepStats, propose, step_stats, wilson
from arrears.domain.strategies import parse_strategy

ROOT = Path(__file__).resolve().parents[2]
CN = yaml.safe_load((ROOT / "layers/arrears/arrears/strategies/cn-default.yaml").read_text())
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def stats(
    step: str, channel: str, contacts: int, paid: int, blocked: dict | None = None, cost: float = 0.01
) -> StepStats:
    return StepStats(
        "cn-default", "champion", step, channel, contacts, paid, paid / max(contacts, 1) / 2, cost, blocked or {}
    )


def test_a_step_that_pays_clearly_worse_than_the_best_of_its_segment_takes_its_channel():
    got = [stats("m1-sms", "sms", 400, 120), stats("m1-wechat", "wechat", 300, 30), stats("m1-call", "voice", 200, 20)]
    draft, changes = propose(CN, got, None, "2026-03-30")
    assert [(c.step, c.what) for c in changes] == [("m1-wechat", "switch_channel"), ("m1-call", "switch_channel")]
    assert "wechat paid within 7 days after 10.0% of 300 contacts" in changes[0].why
    assert changes[0].evidence["best"]["step"] == "m1-sms" and changes[0].evidence["rate_ci95"][1] < 0.3
    strategy = parse_strategy({**draft, "version": 2})  # a valid strategy
    assert strategy.champion.segments == parse_strategy(CN).champion.segments  # the champion as it was
    (arm,) = strategy.variants[1:]
    assert (arm.name, arm.share) == ("proposal-2026-03-30", 0.2)
    m1 = next(s for s in arm.segments if s.name == "m1-reminders")
    assert {st.id: st.channel for st in m1.steps} == {
        "m1-sms": "sms",
        "m1-wechat": "sms",
        "m1-call": "sms",
        "m1-sms-second": "sms",
    }


def test_a_step_the_guard_cannot_pass_or_that_never_pays_is_dropped():
    blocked = stats("m1-wechat", "wechat", 5, 1, {"channel_not_used": 60})
    dead = stats("m2-letter", "letter", 200, 0, cost=0.02)
    draft, changes = propose(CN, [blocked, dead], None, "w")
    assert {(c.step, c.what) for c in changes} == {("m1-wechat", "drop"), ("m2-letter", "drop")}
    assert "60 of 65 of its contacts were refused by the guard (channel_not_used)" in changes[0].why
    arm = parse_strategy({**draft, "version": 2}).variants[1]
    assert not {"m1-wechat", "m2-letter"} & {st.id for seg in arm.segments for st in seg.steps}


def test_too_few_contacts_or_no_clear_difference_proposes_nothing():
    assert propose(CN, [stats("m1-sms", "sms", MIN_CONTACTS - 1, 0)], None, "w") == (None, [])
    close = [stats("m1-sms", "sms", 100, 20), stats("m1-wechat", "wechat", 100, 15)]  # intervals overlap
    assert propose(CN, close, None, "w") == (None, [])


def test_a_challenger_that_beat_the_champion_is_proposed_as_the_champion():
    challenged = yaml.safe_load(
        (ROOT / "layers/arrears/arrears/strategies/examples/cn-call-early-challenger.yaml").read_text()
    )
    arms = {
        "champion": {"loans": 300},
        "call-early": {"loans": 120, "difference_vs_champion": {"recovery_rate": 0.08, "ci95": [0.02, 0.14]}},
    }
    draft, changes = propose(challenged, [], arms, "w")
    assert [c.what for c in changes] == ["promote_challenger"] and "+8.0%" in changes[0].why
    promoted = parse_strategy({**draft, "version": 3})
    assert [s.name for s in promoted.champion.segments][0] == "m1-call-early" and len(promoted.variants) == 1
    arms["call-early"]["difference_vs_champion"]["ci95"] = [-0.01, 0.14]  # not clear: nothing
    assert propose(challenged, [], arms, "w") == (None, [])


def test_step_stats_credit_each_payment_to_the_last_contact_within_7_days():
    rows = []

    def add(kind: str, at: datetime, **kw: object) -> None:
        rows.append(
            {
                "fact_id": f"f{len(rows)}",
                "fact_type": kind,
                "occurred_at": at.isoformat().replace("+00:00", "Z"),
                "loan_id": "L1",
                "currency": "CNY",
                **kw,
            }
        )

    step = {"strategy": "cn-default", "variant": "champion", "channel": "sms"}
    add("action_sent", T0, action_id="A1", step="m1-sms", amount_minor=10_000, cost_micros=50_000, **step)
    add(
        "action_sent",
        T0 + timedelta(days=2),
        action_id="A2",
        step="m1-wechat",
        amount_minor=10_000,
        cost_micros=10_000,
        **{**step, "channel": "wechat"},
    )
    add("repayment_applied", T0 + timedelta(days=3), amount_minor=4_000, from_bucket="M1")  # last touch: A2
    add("repayment_applied", T0 + timedelta(days=8), amount_minor=1_000, from_bucket="M1")  # > 7 days after A1
    add(
        "action_blocked",
        T0,
        step="m1-call",
        reason="opt_out: borrower opted out of voice",
        **{**step, "channel": "voice"},
    )
    rows.append(dict(rows[0]))  # written twice: counted once
    got = {s.step: s for s in step_stats(rows, T0 - timedelta(days=1), T0 + timedelta(days=10))}
    assert (got["m1-sms"].contacts, got["m1-sms"].paid_7d, got["m1-sms"].recovered) == (1, 1, 0.0)
    assert (got["m1-wechat"].paid_7d, got["m1-wechat"].recovered) == (
        1,
        0.5,
    )  # 40 + 10 of the 100 CNY overdue: both within 7 days of A2
    assert got["m1-wechat"].cost_share == 0.01 / 100 and got["m1-call"].blocked == {"opt_out": 1}
    assert wilson(0, 0) == (0.0, 1.0) and wilson(50, 100)[0] < 0.5 < wilson(50, 100)[1]


def test_a_step_the_bandit_chooses_for_is_left_to_the_bandit():
    doc = {
        **CN,
        "segments": [
            {
                **CN["segments"][0],
                "steps": [
                    CN["segments"][0]["steps"][0],
                    {**CN["segments"][0]["steps"][1], "hours": [9, 18]},
                ],
            }
        ],
    }
    got = [stats("m1-sms", "sms", 400, 120), stats("m1-wechat", "wechat", 300, 30)]
    assert propose(doc, got, None, "w") == (None, [])
