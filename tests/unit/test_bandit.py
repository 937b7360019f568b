"""The bandit: a step's channel and send hour chosen by Thompson sampling over what the strategy
allows, with a configurable share of random choices, learned from contacts and the payments within 7
days after them; deterministic per case, step and day."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from arrears.domain.bandit import Option, choose, chooser, context, learn, merge
from arrears.domain.strategies import LoanView, StrategyError, parse_strategy, propose
from arrears.usecases.collect import send_at

SMS, WECHAT = Option("sms", "zh-CN/m1_reminder", None), Option("wechat", "zh-CN/m1_wechat_reminder", None)
CTX = context("cn-x", "m1", "s1")


def test_thompson_sampling_follows_the_evidence_and_explores_at_the_set_share():
    counts = {CTX: {"sms@": [10, 100], "wechat@": [45, 100]}}
    picks = [choose([SMS, WECHAT], counts, CTX, f"case{n}|s1|2026-03-02", 0.1) for n in range(400)]
    explored = sum(p.explored for p in picks)
    assert 20 <= explored <= 60  # about 10% of 400
    exploited = Counter(p.option.channel for p in picks if not p.explored)
    assert exploited["wechat"] >= 0.97 * sum(exploited.values())  # 45% against 10% over 100 contacts each
    again = choose([SMS, WECHAT], counts, CTX, "case1|s1|2026-03-02", 0.1)
    assert again == picks[1]  # the same case, step and day: the same choice
    fresh = Counter(choose([SMS, WECHAT], {}, CTX, f"c{n}", 0.0).option.channel for n in range(200))
    assert min(fresh.values()) > 60  # nothing learned yet: both tried
    assert "exploration share 10%" in picks[0].why()


def test_learning_counts_each_contact_and_whether_the_loan_paid_within_7_days():
    t0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai

    def sent(n: int, at: datetime, channel: str, loan: str) -> dict:
        return {
            "fact_id": f"s{n}",
            "fact_type": "action_sent",
            "occurred_at": at.isoformat(),
            "loan_id": loan,
            "strategy": "cn-x",
            "segment": "m1",
            "step": "s1",
            "channel": channel,
            "zones": "Asia/Shanghai",
        }

    rows = [
        sent(1, t0, "sms", "L1"),
        sent(2, t0 + timedelta(hours=9), "sms", "L2"),  # 18:00 local
        sent(3, t0, "wechat", "L3"),
        sent(4, t0 + timedelta(days=20), "sms", "L4"),  # its 7 days have not passed: not counted
        {
            "fact_id": "p1",
            "fact_type": "repayment_applied",
            "occurred_at": (t0 + timedelta(days=3)).isoformat(),
            "loan_id": "L1",
        },
        {
            "fact_id": "p3",
            "fact_type": "repayment_applied",
            "occurred_at": (t0 + timedelta(days=8)).isoformat(),
            "loan_id": "L3",
        },
    ]
    got = learn(rows + rows[:1], t0 + timedelta(days=21))
    assert got == {CTX: {"sms@9": [1, 1], "sms@": [1, 2], "sms@18": [0, 1], "wechat@9": [0, 1], "wechat@": [0, 1]}}
    for r in rows:
        r["business_date"] = r["occurred_at"][:10]
    one_day = learn(rows, t0 + timedelta(days=30), "2026-03-02")  # only that day's contacts
    assert one_day == got
    assert merge([got, got]) == {ctx: {k: [2 * a, 2 * b] for k, (a, b) in arms.items()} for ctx, arms in got.items()}


STRATEGY = {
    "id": "cn-x",
    "version": 1,
    "segments": [
        {
            "name": "m1",
            "match": {"buckets": ["M1"]},
            "steps": [
                {
                    "id": "s1",
                    "after_days": 0,
                    "channel": "sms",
                    "template": "zh-CN/m1_reminder",
                    "options": [{"channel": "wechat", "template": "zh-CN/m1_wechat_reminder"}],
                    "hours": [18, 9],
                },
            ],
        }
    ],
}


def test_a_step_offers_options_and_hours_and_the_planner_takes_the_bandits_pick():
    strategy = parse_strategy(STRATEGY)
    (step,) = strategy.champion.segments[0].steps
    assert step.choices() == [
        ("sms", "zh-CN/m1_reminder", 9),
        ("sms", "zh-CN/m1_reminder", 18),
        ("wechat", "zh-CN/m1_wechat_reminder", 9),
        ("wechat", "zh-CN/m1_wechat_reminder", 18),
    ]
    loan = LoanView(
        "L1",
        "C1",
        "M1",
        3,
        Decimal(500),
        Decimal(100),
        None,
        None,
        "p",
        "CN",
        "zh-CN",
        date(2026, 3, 1),
        None,
        False,
        0,
        0,
        True,
        frozenset(),
        None,
    )
    now = datetime(2026, 3, 4, 1, 0, tzinfo=UTC)
    counts = {CTX: {"wechat@18": [60, 100], "sms@9": [5, 100], "sms@18": [5, 100], "wechat@9": [5, 100]}}
    (p,) = propose(strategy, loan, date(2026, 3, 4), now, choose=chooser(counts, 0.0))
    assert (p.channel, p.template, p.send_hour) == ("wechat", "zh-CN/m1_wechat_reminder", 18)
    assert "bandit: wechat at 18:00 local (Thompson sampling, exploration share 0%)" in p.why
    (plain,) = propose(strategy, loan, date(2026, 3, 4), now)
    assert (plain.channel, plain.send_hour) == ("sms", None)  # no chooser: the step's own channel, at dispatch
    assert send_at(now, "Asia/Shanghai", 18) == datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
    assert send_at(now, "Asia/Shanghai", None) is None


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"hours": [25]}, "hours: must be a list of distinct whole hours from 0 to 23"),
        ({"hours": [9, 9]}, "hours: must be a list of distinct whole hours"),
        ({"send_at": "noon"}, "send_at: 'noon' is not one of payment_hour"),
        ({"options": [{"channel": "fax", "template": "x"}]}, "options[0].channel: 'fax' is not one of"),
        (
            {"options": [{"channel": "wechat", "template": "zh-CN/m1_wechat_reminder"}] * 2},
            "a channel is offered twice",
        ),
    ],
)
def test_a_steps_choices_are_checked_with_every_problem_named(change, problem):
    doc = {
        **STRATEGY,
        "segments": [{**STRATEGY["segments"][0], "steps": [{**STRATEGY["segments"][0]["steps"][0], **change}]}],
    }
    with pytest.raises(StrategyError) as e:
        parse_strategy(doc)
    assert problem in str(e.value)


def test_a_step_sent_at_the_payment_hour_goes_at_the_hour_the_borrower_last_paid_at():
    doc = {
        **STRATEGY,
        "segments": [
            {**STRATEGY["segments"][0], "steps": [{**STRATEGY["segments"][0]["steps"][0], "send_at": "payment_hour"}]}
        ],
    }
    strategy = parse_strategy(doc)
    assert strategy.champion.segments[0].steps[0].send_at == "payment_hour"
    loan = LoanView("L1", "C1", "M1", 3, Decimal(500), Decimal(100), None, None, "p", "CN", "zh-CN", date(2026, 3, 1))
    now = datetime(2026, 3, 4, 1, 0, tzinfo=UTC)
    counts = {CTX: {"wechat@18": [60, 100], "sms@9": [5, 100], "sms@18": [5, 100], "wechat@9": [5, 100]}}
    (p,) = propose(strategy, loan._replace(payment_hour=14), date(2026, 3, 4), now, choose=chooser(counts, 0.0))
    assert (p.channel, p.send_hour) == ("wechat", 14)  # the bandit's channel, the borrower's hour
    assert p.why.endswith("sent at 14:00 local, the hour the borrower last paid at")
    (unknown,) = propose(strategy, loan, date(2026, 3, 4), now, choose=chooser(counts, 0.0))
    assert unknown.send_hour == 18  # no payment known yet: the bandit's hour
    (static,) = propose(strategy, loan._replace(payment_hour=7), date(2026, 3, 4), now)
    assert (static.channel, static.send_hour) == ("sms", 7)  # without the bandit: the step's channel at that hour


def test_learning_a_day_at_a_time_counts_what_learning_from_all_the_days_counts():
    import random

    from arrears.domain.bandit import advance, subtract, take

    rng = random.Random(5)
    start = datetime(2026, 3, 1, 16, 0, tzinfo=UTC)  # midnight in Shanghai: day 0 begins
    by_day: dict[str, list[dict]] = {}
    for n in range(400):
        at = start + timedelta(minutes=rng.randrange(20 * 24 * 60))
        day = (at + timedelta(hours=8)).date().isoformat()
        loan = f"L{rng.randrange(12)}"
        if rng.random() < 0.6:
            row = {"fact_id": f"s{n}", "fact_type": "action_sent", "occurred_at": at.isoformat(), "loan_id": loan,
                   "strategy": "cn-x", "segment": "m1", "step": rng.choice(("s1", "s2")),
                   "channel": rng.choice(("sms", "wechat")), "zones": "Asia/Shanghai", "business_date": day}  # fmt: skip
        else:
            row = {"fact_id": f"p{n}", "fact_type": "repayment_applied", "occurred_at": at.isoformat(), "loan_id": loan}
        by_day.setdefault(day, []).append(row)
    days = sorted(by_day)
    pending: list = []
    window: dict = {}
    for i, day in enumerate(days):
        pending = advance(pending, by_day[day] + by_day[day][:3])  # a fact told twice counts once
        if i < 8:
            continue
        learned = days[i - 8]
        until = datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(hours=16)  # the next local midnight
        counts, pending = take(pending, until, learned)
        every = [r for d in days[i - 8 : i + 1] for r in by_day[d]]
        assert counts == learn(every, until, learned)
        window = merge([window, counts])
    assert subtract(window, window) == {} and subtract(window, {}) == window
    assert {c[6] for c in pending} == set(days[-8:])  # the last 8 days still wait for their 7 days
