"""Unit: campaigns' parsing, targeting and ranking beside the strategies' work (arrears.domain.campaigns)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from arrears.domain.campaigns import (
    Campaign,
    CampaignError,
    Target,
    campaign_of,
    dpd_window,
    from_json,
    matches,
    parse_campaign,
    proposal,
    rank,
)
from arrears.domain.strategies import LoanView, Proposal

NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
BUCKETS = ["M1", "M2", "M3", "M4", "M5", "M6", "M6+"]
RANGES = {"M1": (1, 30), "M2": (31, 60), "M3": (61, 90), "M6+": (181, None)}


def view(loan_id="L1", bucket="M1", dpd=5, overdue="100", product="cash", jurisdiction="CN") -> LoanView:
    return LoanView(
        loan_id, f"{loan_id}#c", bucket, dpd, Decimal(overdue) * 3, Decimal(overdue), None, None, product,
        jurisdiction, "zh-CN", date(2026, 3, 1),
    )  # fmt: skip


def body(**kw) -> dict:
    return {
        "campaign_id": "m1-drive",
        "name": "M1 drive",
        "target": {"buckets": ["M1"]},
        "channel": "sms",
        "template": "t",
        **kw,
    }


def test_a_campaign_parses_with_defaults_and_round_trips():
    c = parse_campaign(body(), BUCKETS, NOW)
    assert (c.status, c.priority, c.daily_cap, c.starts_at, c.ends_at) == (
        "draft",
        "ranked",
        1000,
        NOW,
        NOW + timedelta(days=7),
    )
    assert from_json(c.to_json()) == c


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"campaign_id": "Has Spaces"}, "campaign_id"),
        ({"channel": "fax"}, "channel"),
        ({"target": {}}, "target"),
        ({"target": {"buckets": ["M9"]}}, "target.buckets"),
        ({"target": {"dpd": [0, 5]}}, "target.dpd"),
        ({"target": {"dpd": [10, 5]}}, "target.dpd"),
        ({"target": {"overdue": ["x", None]}}, "target.overdue"),
        ({"target": {"colour": ["red"]}}, "target.colour"),
        ({"starts_at": "2026-03-10"}, "starts_at"),
        ({"ends_at": "2026-03-01T00:00:00Z"}, "ends_at"),
        ({"daily_cap": True}, "daily_cap"),
        ({"priority": "urgent"}, "priority"),
        ({"extra": 1}, "extra"),
    ],
)
def test_a_bad_campaign_names_its_field(change, field):
    with pytest.raises(CampaignError) as e:
        parse_campaign(body(**change), BUCKETS, NOW)
    assert e.value.field == field


def test_the_dpd_window_is_the_targets_range_within_its_buckets():
    assert dpd_window(Target(buckets=frozenset({"M1"})), RANGES) == (1, 30)
    assert dpd_window(Target(buckets=frozenset({"M1", "M2"}), dpd=(10, None)), RANGES) == (10, 60)
    assert dpd_window(Target(dpd=(1, 10)), RANGES) == (1, 10)
    assert dpd_window(Target(buckets=frozenset({"M6+"})), RANGES) == (181, None)
    assert dpd_window(Target(products=frozenset({"cash"})), RANGES) == (1, None)


def test_every_criterion_given_must_hold():
    t = Target(
        buckets=frozenset({"M1"}), dpd=(3, 10), overdue=(Decimal(50), None), segments=frozenset({"m1-reminders"}),
        products=frozenset({"cash"}), jurisdictions=frozenset({"CN"}),
    )  # fmt: skip
    assert matches(t, view(), "m1-reminders")
    assert not matches(t, view(dpd=11), "m1-reminders")
    assert not matches(t, view(overdue="49.99"), "m1-reminders")
    assert not matches(t, view(), "m2-firm")
    assert not matches(t, view(product="bnpl"), "m1-reminders")
    assert not matches(t, view(jurisdiction="US"), "m1-reminders")
    assert matches(Target(loan_ids=frozenset({"L1"})), view(), None)
    assert not matches(Target(loan_ids=frozenset({"L2"})), view(), None)


def strategy_work(loan_id: str, value: str, channel: str = "sms") -> Proposal:
    return Proposal(
        loan_id, f"{loan_id}#c", "cn-default", 1, "champion", "s", "contact", "m1-sms", channel, "t", Decimal(value), ""
    )


def campaign(cid: str, priority: str = "ranked") -> Campaign:
    return parse_campaign(body(campaign_id=cid, priority=priority), BUCKETS, NOW)._replace(status="running")


def test_priorities_order_the_work_and_each_loan_gets_one_contact_a_day():
    before, after = campaign("early", "before_strategy"), campaign("late", "after_strategy")
    day = NOW.date()
    proposals = [
        strategy_work("A", "90"),
        strategy_work("B", "10"),
        proposal(before, view("B"), day, Decimal("1"), daily=True),  # low value, but first
        proposal(after, view("C"), day, Decimal("500"), daily=True),  # high value, but last
        proposal(after, view("A"), day, Decimal("999"), daily=True),  # A has the strategy's contact
    ]
    r = rank(proposals, {"sms": 3}, {"early": "before_strategy", "late": "after_strategy"}, {"early": 9, "late": 9})
    assert [(p.loan_id, campaign_of(p)) for p in r.work] == [("B", "early"), ("A", None), ("C", "late")]
    assert sorted((p.loan_id, campaign_of(p), rule) for p, rule in r.deferred) == [
        ("A", "late", "one_contact_a_day"),
        ("B", None, "one_contact_a_day"),
    ]


def test_capacity_and_the_campaigns_cap_and_todays_contacts_defer_work():
    c = campaign("drive")
    day = NOW.date()
    proposals = [proposal(c, view(f"L{i}"), day, Decimal(100 - i), daily=False) for i in range(5)]
    r = rank(proposals, {"sms": 10}, {"drive": "ranked"}, {"drive": 2}, frozenset({"L0"}))
    assert [p.loan_id for p in r.work] == ["L1", "L2"]
    assert [(p.loan_id, rule) for p, rule in r.deferred] == [
        ("L0", "one_contact_a_day"), ("L3", "campaign_cap"), ("L4", "campaign_cap"),
    ]  # fmt: skip
    r = rank(proposals, {"sms": 1}, {"drive": "ranked"}, {"drive": 9})
    assert [p.loan_id for p in r.work] == ["L0"] and {rule for _, rule in r.deferred} == {"capacity"}


def test_a_campaigns_step_is_new_each_day_and_each_round():
    c = campaign("drive")
    assert c.step_id(date(2026, 3, 10), daily=True) != c.step_id(date(2026, 3, 11), daily=True)
    assert c.step_id(date(2026, 3, 10), daily=False) != c._replace(round=2).step_id(date(2026, 3, 10), daily=False)
    assert not c._replace(status="paused").live(NOW) and c.live(NOW) and not c.live(c.ends_at)


def test_a_target_of_empty_lists_names_nothing_and_is_refused():
    with pytest.raises(CampaignError) as e:
        parse_campaign(body(target={"buckets": [], "products": []}), BUCKETS, NOW)
    assert e.value.field == "target"


def test_targeting_reads_the_local_dates_of_the_targets_jurisdictions_only():
    from datetime import UTC, date, datetime

    from arrears.usecases.campaigns import local_dates

    morning = datetime(2026, 3, 10, 1, tzinfo=UTC)  # 09:00 in Shanghai, 07:00 in Urumqi
    assert local_dates(frozenset({"CN"}), morning) == (date(2026, 3, 10), date(2026, 3, 10))
    late = datetime(2026, 3, 10, 17, tzinfo=UTC)  # 01:00 in Shanghai, 23:00 in Urumqi
    assert local_dates(frozenset({"CN"}), late) == (date(2026, 3, 10), date(2026, 3, 11))
    # US-CA: the country's zones, Honolulu to New York
    assert local_dates(frozenset({"US-CA"}), datetime(2026, 3, 10, 9, tzinfo=UTC)) == (
        date(2026, 3, 9),
        date(2026, 3, 10),
    )
    # no jurisdiction, or one the tz database does not list: every zone on earth (UTC-12 to UTC+14)
    assert local_dates(frozenset(), morning) == (date(2026, 3, 9), date(2026, 3, 10))
    assert local_dates(frozenset({"XK"}), morning) == (date(2026, 3, 9), date(2026, 3, 10))
