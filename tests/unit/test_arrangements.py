"""Unit: payment plans and settlements (domain/arrangements.py): the terms an operator asks for, the
limits per role, where an accepted arrangement stands as payments come in, the signed link and the
identity check."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D

import pytest

from arrears.domain.arrangements import (
    DEFAULT_LIMITS,
    Arrangement,
    Due,
    Limits,
    LinkError,
    OfferError,
    ProductLimits,
    Terms,
    approval,
    birth_date_of,
    breaches,
    identity_matches,
    open_link,
    sign_link,
    standing,
    terms_of,
)

TODAY = date(2026, 3, 10)


def test_a_plan_splits_what_is_overdue_with_the_rounding_on_the_last_installment():
    t = terms_of({"kind": "plan", "installments": 3}, D("100.00"), D("315.00"), TODAY, 2)
    assert [d.amount for d in t.schedule] == [D("33.34"), D("33.33"), D("33.33")]
    assert t.total == D("100.00") and t.basis == "overdue" and t.forgiven == 0
    assert [d.due_on for d in t.schedule] == [TODAY, TODAY + timedelta(days=30), TODAY + timedelta(days=60)]
    whole = terms_of(
        {"kind": "plan", "installments": 4, "basis": "balance", "first_payment": "100", "every_days": 14},
        D("100"),
        D("315.00"),
        TODAY,
        2,
    )
    assert [d.amount for d in whole.schedule] == [D("100"), D("71.66"), D("71.66"), D("71.68")]
    assert whole.total == D("315.00")
    yen = terms_of({"kind": "plan", "installments": 3}, D("1000"), D("1000"), TODAY, 0)
    assert yen.total == D("1000") and all(d.amount == d.amount.to_integral() for d in yen.schedule)


def test_a_settlement_is_a_discounted_lump_sum_and_the_rest_is_forgiven():
    t = terms_of({"kind": "settlement", "discount_pct": "30", "pay_by": "2026-03-20"}, D("50"), D("315.00"), TODAY, 2)
    assert t.schedule == (Due(date(2026, 3, 20), D("220.50")),) and t.forgiven == D("94.50")


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"kind": "loan"}, "kind"),
        ({"kind": "plan", "installments": 1}, "installments"),
        ({"kind": "plan", "installments": True}, "installments"),
        ({"kind": "plan", "installments": 3, "every_days": 3}, "every_days"),
        ({"kind": "plan", "installments": 3, "first_due": "2026-03-09"}, "first_due"),
        ({"kind": "plan", "installments": 3, "first_due": "20260310"}, "first_due"),
        ({"kind": "plan", "installments": 3, "first_payment": "100.00"}, "first_payment"),
        ({"kind": "plan", "installments": 3, "first_payment": "1.001"}, "first_payment"),
        ({"kind": "plan", "installments": 3, "discount_pct": "10"}, "discount_pct"),
        ({"kind": "plan", "installments": 3, "basis": "everything"}, "basis"),
        ({"kind": "settlement", "discount_pct": "100", "pay_by": "2026-03-20"}, "discount_pct"),
        ({"kind": "settlement", "discount_pct": "NaN", "pay_by": "2026-03-20"}, "discount_pct"),
        ({"kind": "settlement", "discount_pct": "10", "pay_by": "2026-03-01"}, "pay_by"),
        ({"kind": "settlement", "discount_pct": "10", "pay_by": "2026-03-20", "installments": 2}, "installments"),
    ],
)
def test_bad_terms_are_refused_naming_the_field(row, field):
    with pytest.raises(OfferError) as e:
        terms_of(row, D("100.00"), D("315.00"), TODAY, 2)
    assert e.value.field == field


def test_an_agent_within_limits_offers_beyond_them_waits_for_a_supervisor_and_beyond_a_supervisors_is_refused():
    limits = ProductLimits(Limits(3, D("20"), D("10"), 90), Limits(6, D("10"), D("30"), 180))
    plan = lambda n: terms_of({"kind": "plan", "installments": n}, D("120"), D("120"), TODAY, 2)  # noqa: E731
    assert approval(plan(3), limits, "agent", TODAY) == "offered"
    assert approval(plan(5), limits, "agent", TODAY) == "pending_approval"
    assert approval(plan(5), limits, "supervisor", TODAY) == "offered"
    with pytest.raises(OfferError, match="7 installments"):
        approval(plan(7), limits, "admin", TODAY)
    small_first = terms_of({"kind": "plan", "installments": 3, "first_payment": "12"}, D("120"), D("120"), TODAY, 2)
    assert breaches(small_first, limits.agent, TODAY) == ["a first payment of 10.0% (at least 20%)"]

    def settle(pct: str) -> Terms:
        row = {"kind": "settlement", "discount_pct": pct, "pay_by": "2026-03-20"}
        return terms_of(row, D("0"), D("100"), TODAY, 2)

    assert approval(settle("10"), limits, "agent", TODAY) == "offered"
    assert approval(settle("20"), limits, "agent", TODAY) == "pending_approval"
    with pytest.raises(OfferError, match="discount of 40.00%"):
        approval(settle("40"), limits, "supervisor", TODAY)


def test_limits_parse_and_a_supervisors_must_reach_an_agents():
    raw = DEFAULT_LIMITS.to_json()
    assert ProductLimits.parse(raw) == DEFAULT_LIMITS
    with pytest.raises(OfferError) as e:
        ProductLimits.parse({**raw, "supervisor": {**raw["supervisor"], "max_discount_pct": "1"}})
    assert e.value.field == "supervisor"
    with pytest.raises(OfferError) as e:
        ProductLimits.parse({**raw, "agent": {**raw["agent"], "max_installments": "0"}})
    assert e.value.field == "agent.max_installments"


def _plan(regular=()) -> Arrangement:
    terms = Terms(
        "plan",
        "overdue",
        D("90"),
        (Due(TODAY, D("30")), Due(TODAY + timedelta(days=14), D("30")), Due(TODAY + timedelta(days=28), D("30"))),
        D("0"),
    )
    return Arrangement("of-1", terms, TODAY, D("10"), tuple(regular))


def test_a_plan_stands_active_while_paid_to_date_breaks_when_a_due_is_missed_beyond_grace_and_completes_when_paid():
    arr = _plan()
    assert standing(arr, D("10"), TODAY, 0).status == "active"  # its first due is today: not late yet
    late = standing(arr, D("10"), TODAY + timedelta(days=1), 0)
    assert (late.status, late.missed, late.overdue) == ("broken", TODAY, D("30"))
    assert standing(arr, D("10"), TODAY + timedelta(days=2), 3).status == "active"  # within 3 grace days
    paid_first = standing(arr, D("40"), TODAY + timedelta(days=5), 0)
    assert (paid_first.status, paid_first.next_due, paid_first.dpd) == ("active", TODAY + timedelta(days=14), 0)
    assert standing(arr, D("70"), TODAY + timedelta(days=20), 0).status == "active"
    assert standing(arr, D("100"), TODAY + timedelta(days=20), 0).status == "completed"


def test_under_a_plan_on_the_overdue_the_platforms_later_installments_still_fall_due():
    arr = _plan(regular=(Due(TODAY + timedelta(days=20), D("105")),))
    assert standing(arr, D("70"), TODAY + timedelta(days=21), 0).status == "broken"  # the 105 not paid
    assert standing(arr, D("175"), TODAY + timedelta(days=21), 0).status == "active"
    assert standing(arr, D("205"), TODAY + timedelta(days=30), 0).status == "completed"


def test_a_plan_accepted_after_its_first_date_moves_whole_and_a_settlement_past_its_date_lapses():
    t = _plan().terms
    moved = t.accepted_on(TODAY + timedelta(days=2))
    assert [d.due_on for d in moved.schedule] == [TODAY + timedelta(days=2 + 14 * i) for i in range(3)]
    assert t.accepted_on(TODAY) == t
    settle = Terms("settlement", "balance", D("100"), (Due(TODAY, D("70")),), D("30"))
    with pytest.raises(OfferError):
        settle.accepted_on(TODAY + timedelta(days=1))


def test_an_arrangement_round_trips_through_json():
    arr = _plan(regular=(Due(TODAY, D("1.5")),))._replace(status="broken")
    assert Arrangement.from_json(arr.to_json()) == arr


def test_a_link_is_signed_expires_and_a_rotated_secret_still_opens_it():
    token = sign_link("s3cret", "L1", "of-1", 2000)
    assert open_link(token, ["s3cret"], 1999) == ("L1", "of-1", 2000)
    assert open_link(token, ["new", "s3cret"], 1000)[1] == "of-1"
    with pytest.raises(LinkError, match="expired"):
        open_link(token, ["s3cret"], 2000)
    for bad in (token + "x", token.replace("v1.", "v2."), "v1.e30.AAAA", "nonsense", "v1..", "v1.%%%.abc"):
        with pytest.raises(LinkError, match="not valid"):
            open_link(bad, ["s3cret"], 1000)
    with pytest.raises(LinkError):
        open_link(token, ["other"], 1000)


def test_only_the_borrower_passes_the_identity_check():
    id_number = "11010119900307123X"
    assert birth_date_of(id_number) == date(1990, 3, 7)
    assert identity_matches("123x", id_number) and identity_matches(" 1990-03-07 ", id_number)
    assert not identity_matches("1234", id_number) and not identity_matches("1990-03-08", id_number)
    assert not identity_matches("", id_number) and not identity_matches("1234", None)
    assert birth_date_of("110101199013071234") is None  # month 13: no birth date, the last four still work
    assert identity_matches("A123", "P-9A123") and not identity_matches("2026-01-01", "P-9A123")


def test_the_daily_report_counts_arrangements_what_settlements_forgave_and_blocks_by_rule():
    from datetime import UTC, datetime

    from arrears.domain.facts import Fact
    from arrears.domain.report import daily_report

    at = datetime(2026, 3, 10, 3, tzinfo=UTC)

    def f(kind: str, loan: str, **kw) -> dict:
        return Fact(kind, at, at.date(), loan, "test", currency="CNY", key=f"{kind}|{loan}", **kw).row()

    rows = [
        f("offer_accepted", "L1"),
        f("arrangement_started", "L1"),
        f("offer_accepted", "L2"),
        f("arrangement_started", "L2"),
        f("arrangement_completed", "L2", reason="settled"),
        f("settlement_written_down", "L2", amount_minor=9450),
        f("case_closed", "L2", reason="settled"),
        f("case_closed", "L3", reason="cured"),
        f("arrangement_broken", "L1"),
        f("action_blocked", "L4", reason="quiet_hours: 22:00-08:00"),
        f("action_blocked", "L5", reason="quiet_hours: 22:00-08:00"),
        f("action_blocked", "L6", reason="opt_out: borrower opted out of sms"),
    ]
    r = daily_report(at.date(), rows, ["M1"])
    assert r["arrangements"] == {
        "accepted": 2,
        "started": 2,
        "broken": 1,
        "completed": 1,
        "settled": 1,
        "amount_forgiven": {"CNY": "94.50"},
    }
    assert r["cured"] == 1  # a settled case is no cure
    assert r["actions"]["blocked_by_rule"] == {"opt_out": 1, "quiet_hours": 2}


def test_only_an_offer_sends_the_link_template():
    from arrears.domain.templates import problem

    assert "only an offer" in str(problem("sms", "zh-CN/offer_link"))
    assert problem("sms", "zh-CN/m1_reminder") is None
