"""Case transitions: open on entering M1, history on bucket moves, close on cure; the send-time re-check."""

from datetime import UTC, date, datetime
from decimal import Decimal

from arrears.domain.buckets import CURRENT, DEFAULT_SPEC, BucketScheme
from arrears.domain.delinquency import Assessment, CaseState, transition
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
    assert facts[-1].reason == "cured" and state2 == CaseState()


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
