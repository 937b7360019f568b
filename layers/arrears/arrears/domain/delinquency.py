"""Days past due, buckets, and the case lifecycle that follows from them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import NamedTuple

from .buckets import CURRENT, BucketScheme
from .ledger import ZERO, Unpaid
from .timeutil import iso, local_date


def days_past_due(earliest_unpaid_due: date | None, as_of: datetime, tz: str, grace_days: int = 0) -> int:
    """Whole days since the earliest unpaid installment's due date, in the borrower's zone, after grace.

    A payment made on the due date (local time) is on time: the installment is then not unpaid.
    With grace days g, a loan is 0 DPD for g days after the due date and g+1 days late counts 1.
    """
    if earliest_unpaid_due is None:
        return 0
    late = (local_date(as_of, tz) - earliest_unpaid_due).days
    return max(0, late - grace_days)


class Assessment(NamedTuple):
    as_of: datetime
    local_day: date
    dpd: int
    bucket: str
    overdue: Decimal
    outstanding: Decimal


def assess(
    unpaid: tuple[Unpaid, ...] | list[Unpaid], tz: str, as_of: datetime, grace_days: int, scheme: BucketScheme
) -> Assessment:
    earliest = min((u.due_date for u in unpaid), default=None)
    dpd = days_past_due(earliest, as_of, tz, grace_days)
    day = local_date(as_of, tz)
    return Assessment(
        as_of=as_of,
        local_day=day,
        dpd=dpd,
        bucket=scheme.classify(dpd),
        overdue=sum((u.remaining for u in unpaid if u.due_date < day), ZERO),
        outstanding=sum((u.remaining for u in unpaid), ZERO),
    )


class ClosedCase(NamedTuple):
    """The loan's last closed case: a reversal soon after can reopen it."""

    case_id: str
    opened_on: date | None
    closed_on: date


class CaseState(NamedTuple):
    """The collection state kept on a loan: no case (current) or one open case in one bucket, and
    the case closed last (while no other is open)."""

    bucket: str = CURRENT
    bucket_since: date | None = None
    case_id: str | None = None
    opened_on: date | None = None
    last_closed: ClosedCase | None = None

    @property
    def is_open(self) -> bool:
        return self.case_id is not None


def reopens(state: CaseState, day: date, reopen_days: int | None) -> bool:
    """Whether a loan becoming delinquent again on ``day`` reopens its last case rather than opening a
    new one: only when a reversal made it so (``reopen_days`` given) within ``reopen_days`` days of that
    case's closing (local days; the closing day is day 0)."""
    last = state.last_closed
    return (
        reopen_days is not None
        and not state.is_open
        and last is not None
        and 0 <= (day - last.closed_on).days <= reopen_days
    )


class Transition(NamedTuple):
    """One fact about a case: kind is case_opened, case_reopened, bucket_entered, bucket_left or
    case_closed."""

    kind: str
    case_id: str
    bucket: str
    from_bucket: str | None
    to_bucket: str | None
    day: date
    reason: str | None = None


def transition(
    loan_id: str, state: CaseState, a: Assessment, reopen_days: int | None = None, closing: str = "cured"
) -> tuple[CaseState, list[Transition]]:
    """Move a loan's case to match an assessment. Returns the new state and what happened.

    ``closing`` is why a case that closes now closes: ``cured``, or an arrangement's ``plan_completed``
    or ``settled`` (which cure figures do not count). ``reopen_days`` is given when a reversal moved the loan: a loan delinquent again within that many
    days of its last case's closing reopens that case (``case_reopened``) instead of opening a new one.
    """
    if a.bucket == state.bucket:
        return state, []
    facts: list[Transition] = []
    new = state
    if not state.is_open and a.bucket != CURRENT:
        last = state.last_closed
        if reopens(state, a.local_day, reopen_days) and last is not None:
            new = CaseState(bucket=CURRENT, case_id=last.case_id, opened_on=last.opened_on)
            facts.append(
                Transition("case_reopened", last.case_id, a.bucket, None, a.bucket, a.local_day, "payment reversed")
            )
        else:
            case_id = f"{loan_id}#{iso(a.as_of)}"  # the instant: a loan can cure and relapse in one day
            new = CaseState(bucket=CURRENT, bucket_since=None, case_id=case_id, opened_on=a.local_day)
            facts.append(Transition("case_opened", case_id, a.bucket, None, a.bucket, a.local_day))
    assert new.case_id is not None
    if state.bucket != CURRENT:
        facts.append(Transition("bucket_left", new.case_id, state.bucket, state.bucket, a.bucket, a.local_day))
    if a.bucket == CURRENT:
        facts.append(Transition("case_closed", new.case_id, state.bucket, state.bucket, CURRENT, a.local_day, closing))
        return CaseState(last_closed=ClosedCase(new.case_id, new.opened_on, a.local_day)), facts
    facts.append(Transition("bucket_entered", new.case_id, a.bucket, state.bucket, a.bucket, a.local_day))
    return new._replace(bucket=a.bucket, bucket_since=a.local_day), facts
