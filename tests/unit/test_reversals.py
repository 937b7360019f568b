"""Reversals without AWS: a reversed payment is taken back out of the balance (DPD from the original
due date again), reversals rows are validated as the other kinds are, restriction changes become facts,
and the daily report nets reversals."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.domain.buckets import DEFAULT_SPEC, BucketScheme
from arrears.domain.delinquency import assess
from arrears.domain.facts import FACT_TYPES, PLATFORM_API, Fact, restriction_facts
from arrears.domain.importing import (
    COLUMNS,
    KINDS,
    Limits,
    RecordedPayment,
    ReversalRow,
    parse_file,
    parse_row,
    with_payment,
)
from arrears.domain.ledger import ZERO, Installment, Repayment, allocate
from arrears.domain.report import advance_arms, daily_report

SCHEME = BucketScheme.parse(DEFAULT_SPEC)
NOW = datetime(2026, 3, 20, 4, tzinfo=UTC)
SCHEDULE = [
    Installment(1, date(2026, 3, 1), Decimal("100.00"), Decimal("5.00"), ZERO),
    Installment(2, date(2026, 4, 1), Decimal("100.00"), Decimal("5.00"), ZERO),
]
CURE = Repayment("P1", datetime(2026, 3, 10, 2, tzinfo=UTC), Decimal("105.00"))


# ------------------------------------------------------------------------------------ the ledger


def test_a_reversed_payment_leaves_the_loan_as_if_it_was_never_paid():
    # Given a loan whose first installment was paid late (it was delinquent, then cured)
    cured = allocate(SCHEDULE, [CURE])
    assert assess(cured.unpaid, "Asia/Shanghai", NOW, 0, SCHEME).dpd == 0
    # When the payment is reversed
    back = allocate(SCHEDULE, [CURE], reversed_ids={"P1"})
    # Then the installment is unpaid again and DPD counts from its original due date (1 March)
    a = assess(back.unpaid, "Asia/Shanghai", NOW, 0, SCHEME)
    assert (a.dpd, a.bucket, a.overdue, back.paid_total) == (19, "M1", Decimal("105.00"), ZERO)
    assert back == allocate(SCHEDULE, [])


def test_reversing_one_payment_keeps_the_others():
    other = Repayment("P2", datetime(2026, 3, 12, tzinfo=UTC), Decimal("50.00"))
    back = allocate(SCHEDULE, [CURE, other], reversed_ids={"P1"})
    assert back.paid_total == Decimal("50.00") and back.unpaid[0].remaining == Decimal("55.00")


money = st.integers(min_value=1, max_value=300_00).map(lambda c: Decimal(c) / 100)


@settings(max_examples=200, deadline=None)
@given(st.lists(money, min_size=1, max_size=8), st.data())
def test_reversing_payments_equals_allocating_without_them(amounts, data):
    payments = [
        Repayment(f"p{n}", datetime(2026, 3, 1, tzinfo=UTC) + timedelta(hours=n), a) for n, a in enumerate(amounts)
    ]
    gone = data.draw(st.sets(st.sampled_from([p.payment_id for p in payments])))
    kept = [p for p in payments if p.payment_id not in gone]
    assert allocate(SCHEDULE, payments, reversed_ids=gone) == allocate(SCHEDULE, kept)


# ----------------------------------------------------------------------------- the reversals rows

LIMITS = Limits(NOW)
RECORDED = {"P1": RecordedPayment("L1", Decimal("105"), "2026-03-10T02:00:00Z")}


def test_reversals_are_an_import_kind_with_their_columns():
    assert "reversals" in KINDS and COLUMNS["reversals"] == ("payment_id", "reversed_at", "reason")


def test_a_reversal_row_takes_its_loan_and_amount_from_the_recorded_payment():
    rec = parse_row("reversals", {"payment_id": "P1", "reversed_at": "2026-03-15T10:00:00+08:00"}, LIMITS)
    assert isinstance(rec, ReversalRow) and rec.reason is None
    full = with_payment(rec, RECORDED)
    assert (full.loan_id, full.amount, full.reversed_at) == (
        "L1",
        Decimal("105"),
        datetime(2026, 3, 15, 2, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({"payment_id": "P9", "reversed_at": "2026-03-15T10:00:00Z"}, "unknown payment 'P9'"),
        ({"payment_id": "P1", "reversed_at": "2026-03-10T01:59:59Z"}, "is before the payment's paid_at"),
    ],
)
def test_a_reversal_needs_a_recorded_payment_and_a_time_after_it(row, reason):
    with pytest.raises(ValueError, match=reason):
        with_payment(parse_row("reversals", row, LIMITS), RECORDED)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({"payment_id": "P1"}, "reversed_at"),
        ({"payment_id": "P1", "reversed_at": "2026-03-15T10:00:00"}, "reversed_at"),
        ({"payment_id": "P1", "reversed_at": "2026-03-25T10:00:00Z"}, "in the future"),
        ({"payment_id": "-P", "reversed_at": "2026-03-15T10:00:00Z"}, "payment_id"),
        ({"payment_id": "P1", "reversed_at": "2026-03-15T10:00:00Z", "reason": "a\u202eb"}, "not printable"),
    ],
)
def test_bad_reversal_rows_are_rejected_with_the_importers_wording(row, reason):
    with pytest.raises(ValueError, match=reason):
        parse_row("reversals", row, LIMITS)


def test_a_reversals_file_rejects_unknown_payments_and_skips_those_reversed_already():
    body = (
        b"payment_id,reversed_at,reason\n"
        b"P1,2026-03-15T10:00:00+08:00,chargeback\n"
        b"P9,2026-03-15T10:00:00+08:00,\n"
        b"P2,2026-03-15T10:00:00+08:00,failed_debit\n"
    )
    known = {
        **RECORDED,
        "P2": RecordedPayment("L2", Decimal("5"), "2026-03-11T00:00:00Z", reversed_at="2026-03-12T00:00:00Z"),
    }
    parsed = parse_file("reversals/r.csv", body, None, LIMITS, lambda ids: {i: known[i] for i in ids if i in known})
    assert [(r.row, r.reason) for r in parsed.rejects] == [(2, "unknown payment 'P9'")]
    assert [(n, rec.loan_id, rec.reason) for n, rec in parsed.records] == [
        (1, "L1", "chargeback"),
        (3, "L2", "failed_debit"),
    ]
    assert parsed.recorded == {3}  # reversed already: accepted, nothing written


# ------------------------------------------------------------------------------------------- facts


def test_restriction_changes_become_placed_and_lifted_facts_naming_the_source():
    facts = restriction_facts(
        "opt_out",
        frozenset({"sms", "email"}),
        frozenset({"email", "voice"}),
        NOW,
        "Asia/Shanghai",
        PLATFORM_API,
        borrower_id="B1",
        key="msg_1",
    )
    assert [(f.fact_type, f.channel, f.source, f.borrower_id, f.loan_id) for f in facts] == [
        ("opt_out_placed", "voice", "platform/api", "B1", None),
        ("opt_out_lifted", "sms", "platform/api", "B1", None),
    ]
    holds = restriction_facts("holds", frozenset(), frozenset({"attorney"}), NOW, "Asia/Shanghai", "platform/file")
    assert [(f.fact_type, f.reason) for f in holds] == [("hold_placed", "attorney")]
    for f in facts + holds:
        assert f.row()["fact_type"] in FACT_TYPES and f.row()["fact_id"]


# ------------------------------------------------------------------------------------------ report


def _fact(kind: str, loan: str, amount: int, **kw) -> dict:
    f = Fact(kind, NOW, NOW.date(), loan, "ledger-events", currency="CNY", amount_minor=amount, key=loan, **kw)
    return f.row()


def test_the_daily_report_nets_reversals_out_of_repaid_and_recovered():
    rows = [
        _fact("repayment_applied", "L1", 10500, from_bucket="M1", bucket="M1", payment_id="P1"),
        _fact("repayment_applied", "L2", 5000, from_bucket="M0", bucket="M0", payment_id="P2"),
        _fact("repayment_reversed", "L1", -10500, bucket="M1", from_bucket="M0", to_bucket="M1", payment_id="P1"),
        _fact("repayment_reversed", "L2", -5000, bucket="M0", from_bucket="M0", to_bucket="M0", payment_id="P2"),
        _fact("case_reopened", "L1", 10500, case_id="C1"),
    ]
    report = daily_report(NOW.date(), rows, SCHEME.names)
    assert report["amount_repaid"] == {"CNY": "0.00"} and report["amount_recovered"] == {"CNY": "0.00"}
    assert report["amount_reversed"] == {"CNY": "-155.00"} and report["reversals"] == 2
    assert report["reopened"] == 1 and report["repayments"] == 2


def test_the_arm_comparison_takes_a_reversed_recovery_back():
    day = NOW.date()
    plan = Fact(
        "action_planned",
        NOW - timedelta(hours=1),
        day,
        "L1",
        "x",
        case_id="C1",
        currency="CNY",
        amount_minor=10500,
        strategy="s",
        variant="A",
        key="a",
    ).row()
    paid = _fact("repayment_applied", "L1", 10500, from_bucket="M1", case_id="C1")
    closed = {**_fact("case_closed", "L1", 0, case_id="C1", reason="cured"), "fact_id": "c"}
    state = advance_arms({}, [plan, paid, closed], day)
    assert state["cases"]["C1"]["recovered_minor"] == 10500 and state["cases"]["C1"]["cured"]
    back = [
        _fact("repayment_reversed", "L1", -10500, bucket="M1", case_id="C1"),
        {**_fact("case_reopened", "L1", 0, case_id="C1"), "fact_id": "r"},
    ]
    state = advance_arms(state, back, day)
    assert state["cases"]["C1"]["recovered_minor"] == 0 and not state["cases"]["C1"]["cured"]


def test_arrears_explain_tells_the_reversal_and_the_reopened_case():
    from arrears_local.explain import explain

    later = NOW + timedelta(hours=1)
    rows = [
        _fact("repayment_applied", "L1", 10500, payment_id="P1", from_bucket="M1", to_bucket="M0"),
        {**_fact("case_closed", "L1", 0, case_id="C1", reason="cured"), "fact_id": "c"},
        {
            **_fact("repayment_reversed", "L1", -10500, payment_id="P1", from_bucket="M0", to_bucket="M1"),
            "reason": "chargeback",
            "occurred_at": "2026-03-20T05:00:00Z",
        },
        {**_fact("case_reopened", "L1", 0, case_id="C1", reason="payment reversed"), "occurred_at": later.isoformat()},
    ]
    lines = explain(rows, "L1")
    assert any("reversal" in line and "P1 -105.00 CNY (M0 -> M1): chargeback" in line for line in lines)
    assert any("case reopened  C1: payment reversed" in line for line in lines)
