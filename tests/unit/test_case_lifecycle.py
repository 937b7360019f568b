"""Case transitions: open on entering M1, history on bucket moves, close on cure; the send-time re-check."""

from datetime import UTC, date, datetime
from decimal import Decimal

from arrears.domain.buckets import CURRENT, DEFAULT_SPEC, BucketScheme
from arrears.domain.delinquency import Assessment, CaseState, ClosedCase, reopens, transition
from arrears.domain.strategy import decide_send

SCHEME = BucketScheme.parse(DEFAULT_SPEC)


def assessment(day: str, dpd: int) -> Assessment:
    d = date.fromisoformat(day)
    return Assessment(
        datetime(d.year, d.month, d.day, 1, tzinfo=UTC), d, dpd, SCHEME.classify(dpd), Decimal("10"), Decimal("30")
    )


def test_entering_m1_opens_a_case():
    state, facts = transition("L1", CaseState(), assessment("2026-03-11", 1))
    assert [f.kind for f in facts] == ["case_opened", "bucket_entered"]
    assert state.case_id == "L1#2026-03-11T01:00:00Z" and state.bucket == "M1"


def test_rolling_to_m2_records_exit_and_entry():
    state, _ = transition("L1", CaseState(), assessment("2026-03-11", 1))
    state2, facts = transition("L1", state, assessment("2026-04-10", 31))
    assert [(f.kind, f.bucket) for f in facts] == [("bucket_left", "M1"), ("bucket_entered", "M2")]
    assert state2.case_id == state.case_id and state2.bucket_since == date(2026, 4, 10)


def test_cure_closes_the_case():
    state, _ = transition("L1", CaseState(), assessment("2026-03-11", 1))
    state2, facts = transition("L1", state, assessment("2026-03-14", 0))
    assert [f.kind for f in facts] == ["bucket_left", "case_closed"]
    assert facts[-1].reason == "cured" and not state2.is_open and state2.bucket == CURRENT
    assert state2.last_closed == ClosedCase("L1#2026-03-11T01:00:00Z", date(2026, 3, 11), date(2026, 3, 14))


def test_same_bucket_is_no_change():
    state, _ = transition("L1", CaseState(), assessment("2026-03-11", 1))
    assert transition("L1", state, assessment("2026-03-20", 10)) == (state, [])
    assert transition("L1", CaseState(), assessment("2026-03-20", 0)) == (CaseState(), [])


def test_send_time_recheck():
    kw = dict(action_case_id="c1", channel="sms", has_address=True)
    assert decide_send(loan_case_id="c1", loan_bucket="M1", **kw).verdict == "send"
    assert decide_send(loan_case_id=None, loan_bucket=CURRENT, **kw).verdict == "cancel"
    assert decide_send(loan_case_id="c2", loan_bucket="M1", **kw).verdict == "cancel"
    blocked = decide_send(loan_case_id="c1", loan_bucket="M1", **{**kw, "has_address": False})
    assert (blocked.verdict, blocked.reason) == ("block", "no sms address on file")


# ------------------------------------------------------------------- reversals: reopening the case


def cured(day: str = "2026-03-14") -> CaseState:
    state, _ = transition("L1", CaseState(), assessment("2026-03-11", 1))
    return transition("L1", state, assessment(day, 0))[0]


def test_a_reversal_within_the_reopen_days_reopens_the_same_case():
    # Given a case closed as cured on 14 March, When a reversal makes the loan 5 DPD on 20 March
    state, facts = transition("L1", cured(), assessment("2026-03-20", 5), reopen_days=30)
    # Then the same case is open again, in M1, as opened on 11 March
    assert [(f.kind, f.case_id) for f in facts] == [
        ("case_reopened", "L1#2026-03-11T01:00:00Z"),
        ("bucket_entered", "L1#2026-03-11T01:00:00Z"),
    ]
    assert facts[0].reason == "payment reversed" and facts[0].bucket == "M1"
    assert (state.case_id, state.opened_on, state.bucket, state.last_closed) == (
        "L1#2026-03-11T01:00:00Z",
        date(2026, 3, 11),
        "M1",
        None,
    )


def test_a_reversal_after_the_reopen_days_opens_a_new_case():
    state, facts = transition("L1", cured(), assessment("2026-04-14", 31), reopen_days=30)
    assert [f.kind for f in facts] == ["case_opened", "bucket_entered"]
    assert state.case_id == "L1#2026-04-14T01:00:00Z" and state.bucket == "M2"


def test_the_reopen_window_counts_local_days_from_the_closing_day():
    closed = cured("2026-03-14")
    assert reopens(closed, date(2026, 3, 14), 0)  # the same day, with CaseReopenDays 0
    assert reopens(closed, date(2026, 4, 13), 30) and not reopens(closed, date(2026, 4, 14), 30)
    assert not reopens(closed, date(2026, 3, 20), None)  # not a reversal
    assert not reopens(CaseState(), date(2026, 3, 20), 30)  # never had a case


def test_a_relapse_without_a_reversal_opens_a_new_case():
    state, facts = transition("L1", cured(), assessment("2026-04-02", 1))
    assert [f.kind for f in facts] == ["case_opened", "bucket_entered"] and state.last_closed is None


def test_a_reversal_on_a_loan_with_an_open_case_moves_its_bucket_only():
    state, _ = transition("L1", CaseState(), assessment("2026-03-11", 1))
    state2, facts = transition("L1", state, assessment("2026-04-12", 32), reopen_days=30)
    assert [f.kind for f in facts] == ["bucket_left", "bucket_entered"] and state2.case_id == state.case_id
