"""Days past due and buckets: time zones, month ends, leap days, the due date itself, grace."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from arrears.domain.buckets import CURRENT, DEFAULT_SPEC, BucketScheme
from arrears.domain.delinquency import assess, days_past_due
from arrears.domain.ledger import Installment, Repayment, allocate

SH = "Asia/Shanghai"
NY = "America/New_York"
SCHEME = BucketScheme.parse(DEFAULT_SPEC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def inst(seq: int, due: str, amount: str = "100.00") -> Installment:
    return Installment(seq, date.fromisoformat(due), Decimal(amount), Decimal("0"), Decimal("0"))


def pay(pid: str, when: str, amount: str) -> Repayment:
    return Repayment(pid, at(when), Decimal(amount))


def dpd_at(schedule: list[Installment], payments: list[Repayment], when: str, tz: str = SH, grace: int = 0) -> int:
    instant = at(when)
    balance = allocate(schedule, payments, as_of=instant)
    return days_past_due(balance.earliest_unpaid_due, instant, tz, grace)


def test_not_past_due_on_the_due_date_itself():
    assert dpd_at([inst(1, "2026-03-10")], [], "2026-03-10T23:59:59+08:00") == 0


def test_one_day_past_due_from_local_midnight():
    assert dpd_at([inst(1, "2026-03-10")], [], "2026-03-11T00:00:00+08:00") == 1


def test_same_instant_is_a_different_local_day_in_different_zones():
    instant = "2026-03-11T02:00:00+00:00"  # 10:00 in Shanghai, 22:00 the day before in New York
    assert dpd_at([inst(1, "2026-03-10")], [], instant, SH) == 1
    assert dpd_at([inst(1, "2026-03-10")], [], instant, NY) == 0


def test_payment_on_due_date_at_2359_local_is_on_time():
    schedule = [inst(1, "2026-03-10")]
    paid = [pay("p1", "2026-03-10T23:59:00+08:00", "100.00")]
    assert dpd_at(schedule, paid, "2026-03-11T00:00:30+08:00") == 0


def test_payment_one_minute_after_local_midnight_is_late():
    schedule = [inst(1, "2026-03-10")]
    paid = [pay("p1", "2026-03-11T00:01:00+08:00", "100.00")]
    assert dpd_at(schedule, paid, "2026-03-11T00:00:30+08:00") == 1  # evaluated before it arrived
    assert dpd_at(schedule, paid, "2026-03-11T09:00:00+08:00") == 0  # cured once paid


def test_payment_time_zone_is_the_borrowers_not_the_payers_offset():
    # 15:59 UTC is 23:59 in Shanghai on the due date: on time, whatever offset the platform wrote
    schedule = [inst(1, "2026-03-31")]
    paid = [pay("p1", "2026-03-31T15:59:00+00:00", "100.00")]
    assert dpd_at(schedule, paid, "2026-04-01T09:00:00+08:00") == 0


def test_month_end_due_dates():
    schedule = [inst(1, "2026-01-31"), inst(2, "2026-02-28")]
    assert dpd_at(schedule, [], "2026-03-01T09:00:00+08:00") == 29
    assert dpd_at(schedule, [pay("p", "2026-02-01T10:00:00+08:00", "100")], "2026-03-01T09:00:00+08:00") == 1


def test_leap_day():
    schedule = [inst(1, "2028-02-29")]
    assert dpd_at(schedule, [], "2028-03-01T09:00:00+08:00") == 1
    assert dpd_at(schedule, [], "2028-03-31T09:00:00+08:00") == 31


def test_partial_payment_keeps_the_oldest_installment_unpaid():
    schedule = [inst(1, "2026-03-10"), inst(2, "2026-04-10")]
    paid = [pay("p1", "2026-03-12T10:00:00+08:00", "60.00")]
    balance = allocate(schedule, paid)
    assert balance.unpaid[0].remaining == Decimal("40.00")
    assert dpd_at(schedule, paid, "2026-03-20T09:00:00+08:00") == 10


def test_payment_covering_the_oldest_moves_dpd_to_the_next():
    schedule = [inst(1, "2026-03-10"), inst(2, "2026-03-24")]
    paid = [pay("p1", "2026-03-26T10:00:00+08:00", "100.00")]
    assert dpd_at(schedule, paid, "2026-03-27T09:00:00+08:00") == 3


def test_grace_days():
    schedule = [inst(1, "2026-03-10")]
    assert dpd_at(schedule, [], "2026-03-13T09:00:00+08:00", grace=3) == 0
    assert dpd_at(schedule, [], "2026-03-14T09:00:00+08:00", grace=3) == 1


def test_dst_change_in_a_us_zone_does_not_shift_the_day():
    schedule = [inst(1, "2026-03-07")]  # DST starts 2026-03-08 in New York
    assert dpd_at(schedule, [], "2026-03-08T04:30:00+00:00", NY) == 0  # 23:30 EST on the 7th
    assert dpd_at(schedule, [], "2026-03-09T04:30:00+00:00", NY) == 2  # 00:30 EDT on the 9th


def test_overpayment_is_credit_for_later_installments():
    schedule = [inst(1, "2026-03-10"), inst(2, "2026-04-10")]
    balance = allocate(schedule, [pay("p1", "2026-03-01T10:00:00+08:00", "250.00")])
    assert balance.unpaid == () and balance.credit == Decimal("50.00")


@pytest.mark.parametrize(
    "dpd,bucket",
    [
        (0, CURRENT),
        (1, "M1"),
        (30, "M1"),
        (31, "M2"),
        (60, "M2"),
        (61, "M3"),
        (90, "M3"),
        (91, "M4"),
        (120, "M4"),
        (121, "M5"),
        (150, "M5"),
        (151, "M6"),
        (180, "M6"),
        (181, "M6+"),
        (2000, "M6+"),
    ],
)
def test_default_buckets(dpd, bucket):
    assert SCHEME.classify(dpd) == bucket


def test_configurable_buckets():
    scheme = BucketScheme.parse("early:1-15,late:16-")
    assert [scheme.classify(d) for d in (0, 15, 16, 400)] == [CURRENT, "early", "late", "late"]


@pytest.mark.parametrize(
    "spec,words",
    [
        ("M1:1-30,M2:40-60,M3:61-", "contiguous"),
        ("M1:2-30,M2:31-", "start at 1"),
        ("M1:1-30,M2:31-60", "open-ended"),
        ("M1:1-30,M1:31-", "repeated"),
        ("M1:one-30,M2:31-", "NAME:MIN-MAX"),
        ("", "no buckets"),
    ],
)
def test_bad_bucket_specs_say_what_is_wrong(spec, words):
    with pytest.raises(ValueError, match=words):
        BucketScheme.parse(spec)


def test_assess_reports_overdue_and_outstanding():
    schedule = [inst(1, "2026-03-10"), inst(2, "2026-04-10")]
    balance = allocate(schedule, [])
    a = assess(balance.unpaid, SH, datetime(2026, 3, 15, 1, tzinfo=UTC), 0, SCHEME)
    assert (a.dpd, a.bucket, a.overdue, a.outstanding) == (5, "M1", Decimal("100.00"), Decimal("200.00"))


def test_days_late_counts_local_days_from_the_earliest_unpaid_due_date():
    from arrears.domain.ledger import Installment, Repayment, days_late, earliest_due_before

    sched = [
        Installment(1, date(2026, 3, 1), Decimal(100), Decimal(0), Decimal(0)),
        Installment(2, date(2026, 4, 1), Decimal(100), Decimal(0), Decimal(0)),
    ]
    late = datetime(2026, 3, 2, 16, 30, tzinfo=UTC)  # 00:30 on the 3rd in Shanghai, 20:30 on the 2nd in LA
    assert days_late(date(2026, 3, 1), late, "Asia/Shanghai") == 2
    assert days_late(date(2026, 3, 1), late, "America/Los_Angeles") == 1
    assert days_late(date(2026, 3, 1), datetime(2026, 2, 20, tzinfo=UTC), "UTC") == 0  # early: on time
    assert days_late(None, late, "UTC") is None  # nothing was unpaid
    pays = [
        Repayment("A", datetime(2026, 3, 5, tzinfo=UTC), Decimal(100)),
        Repayment("B", datetime(2026, 3, 6, tzinfo=UTC), Decimal(50)),
        Repayment("C", datetime(2026, 3, 4, tzinfo=UTC), Decimal(10)),
    ]
    assert earliest_due_before(sched, pays, "C") == date(2026, 3, 1)
    assert earliest_due_before(sched, pays, "B") == date(2026, 4, 1)  # A and C paid the first (and 10 on)
    assert earliest_due_before(sched, pays, "B", reversed_ids={"A"}) == date(2026, 3, 1)  # A taken back
    assert earliest_due_before(sched, pays, "nope") is None


def test_a_contact_costs_the_admins_price_in_its_currency_else_the_defaults():
    from arrears.domain.costs import cost_micros

    assert cost_micros("sms", "CNY", {}) == 50_000
    assert cost_micros("sms", "USD", {}) == 7_900
    admin = {"CNY": {"sms": Decimal("0.035")}, "USD": {"voice": Decimal("0.25")}}
    assert cost_micros("sms", "CNY", admin) == 35_000
    assert cost_micros("sms", "USD", admin) == 7_900  # USD's SMS not set: its default
    assert cost_micros("voice", "USD", admin) == 250_000
    assert cost_micros("sms", "EUR", {}) is None  # no default in that currency
