"""An accepted plan or settlement, applied by the ledger stream (the only writer of a loan's state).

The borrower's acceptance writes an ``ARR#<offer_id>`` ledger entry; it is never an overwrite of the
platform's schedule. While the arrangement is active:
- the loan carries a ``paused`` hold from the source ``arrangement`` (dunning, campaigns and agents'
  calls stop through the same gates as any hold; neither the platform nor an operator lifts it);
- its case stays open in its bucket, in stage ``plan`` (a re-aged loan is not a cure), and its DPD and
  what it owes follow the arrangement (``domain/arrangements.standing``);
- ``arrangement_check`` (projected into the due index) tells the daily run the date after which a
  missed due breaks it, so the run writes an EVAL marker then.
A missed due (beyond the grace days) breaks it: the hold is lifted and the case follows the original
schedule again. A plan paid closes the case as ``plan_completed``; a settlement paid in full writes the
rest down (the loan's outstanding is zero) and closes the case as ``settled``, recording the amount
forgiven. Each step is a fact and a signed callback to the platform (``usecases/callbacks.py``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, NamedTuple

from ..adapters import store
from ..adapters.models import LoanModel
from ..config import Settings
from ..domain.arrangements import STAGE, Arrangement, standing
from ..domain.delinquency import Assessment, assess
from ..domain.facts import Fact
from ..domain.money import to_minor
from ..domain.restrictions import Restrictions
from ..domain.timeutil import iso
from .recording import fact

SOURCE = "arrangement"  # the hold's source while an arrangement is active
HOLD = "paused"


class Applied(NamedTuple):
    assessment: Assessment  # as the arrangement has it (or the original schedule's)
    closing: str  # why a case that closes now closes: cured, plan_completed, settled
    facts: list[Fact]
    callbacks: list[dict[str, Any]]  # events for the platform (Standard Webhooks payloads)


def apply_arrangement(settings: Settings, loan: LoanModel, changes: list[Any], a: Assessment, source: str) -> Applied:
    """Start an accepted arrangement, and judge the active one against the payments and the date."""
    arr, facts, callbacks = _started(settings, loan, changes, a, source)
    if arr is None:
        return Applied(a, "cured", facts, callbacks)
    was = arr.status
    st = standing(arr, loan.paid_total, a.local_day, settings.grace_days)
    closing = "cured"
    now_status = was
    if was == "active" or (was == "completed" and arr.terms.kind == "settlement"):
        now_status = st.status
    if was == "completed" and arr.terms.kind == "settlement" and st.status != "completed":
        now_status = "broken"  # its payment was reversed: the write-down is undone, the schedule resumes
    if now_status == "completed" and arr.terms.kind == "settlement":
        forgiven = loan.outstanding
        store.set_unpaid(loan, (), loan.due_shard or "")  # the rest written down: nothing more is owed
        a = assess((), loan.tz, a.as_of, settings.grace_days, settings.buckets)
        closing = "settled"
        if was != "completed":
            loan.forgiven = forgiven
            facts.append(_fact(settings, "settlement_written_down", a, loan, source, arr, "settled", amount=forgiven))
    elif now_status == "completed":
        closing = "plan_completed"
    elif now_status == "active":
        a = a._replace(dpd=st.dpd, bucket=loan.bucket if loan.case_id else a.bucket, overdue=st.overdue)
    if now_status != was:
        arr = arr._replace(status=now_status)
        if now_status == "broken":
            why = f"the due of {st.missed} was not paid" if st.missed else "the settlement's payment was reversed"
            facts.append(_fact(settings, "arrangement_broken", a, loan, source, arr, why))
            callbacks.append(_event("arrangement.broken", arr, loan, a))
        elif now_status == "completed":
            facts.append(_fact(settings, "arrangement_completed", a, loan, source, arr, closing))
            callbacks.append(_event("arrangement.completed", arr, loan, a))
    active = arr.status == "active"
    loan.arrangement = arr.to_json()
    loan.stage = STAGE if active else None
    loan.arrangement_check = (
        (st.next_due + timedelta(days=settings.grace_days)).isoformat() if active and st.next_due else None
    )
    facts += _hold(settings, loan, active, a)
    return Applied(a, closing, facts, callbacks)


def _started(
    settings: Settings, loan: LoanModel, changes: list[Any], a: Assessment, source: str
) -> tuple[Arrangement | None, list[Fact], list[dict[str, Any]]]:
    """The loan's arrangement after this batch's accepted offers (one active at a time)."""
    facts: list[Fact] = []
    callbacks: list[dict[str, Any]] = []
    arr = Arrangement.from_json(loan.arrangement) if loan.arrangement else None
    for c in changes:
        if not c.entry.startswith("ARR#") or c.event != "INSERT" or not c.new or c.unchanged:
            continue
        offered = Arrangement.from_json(str(c.new["arrangement"]))
        if arr is not None and arr.offer_id == offered.offer_id:
            continue  # redelivered
        if arr is not None and arr.status == "active":
            facts.append(
                _fact(settings, "arrangement_refused", a, loan, source, offered, "another arrangement is active")
            )
            continue
        arr = offered
        facts.append(_fact(settings, "arrangement_started", a, loan, source, arr, arr.terms.kind))
        callbacks.append(_event("arrangement.started", arr, loan, a))
    return arr, facts, callbacks


def _hold(settings: Settings, loan: LoanModel, on: bool, a: Assessment) -> list[Fact]:
    sources = Restrictions.from_json(loan.hold_sources)
    had = SOURCE in sources.sources("holds", HOLD)
    if had == on:
        return []
    sources = sources.with_entry("holds", HOLD, SOURCE, on)
    loan.hold_sources = sources.to_json() if sources.names("holds") else None
    loan.holds = set(sources.names("holds")) or None
    kind = "hold_placed" if on else "hold_lifted"
    return [fact(settings, kind, a.as_of, loan, "arrangement", reason=HOLD, key=f"{kind}|{HOLD}|{iso(a.as_of)}")]


def _fact(
    settings: Settings,
    kind: str,
    a: Assessment,
    loan: LoanModel,
    source: str,
    arr: Arrangement,
    reason: str,
    amount: Any = None,
) -> Fact:
    return fact(
        settings,
        kind,
        a.as_of,
        loan,
        source,
        case_id=loan.case_id,
        action_id=arr.offer_id,
        bucket=loan.bucket,
        dpd=a.dpd,
        amount_minor=to_minor(amount if amount is not None else arr.terms.total, loan.currency),
        outstanding_minor=to_minor(a.outstanding, loan.currency),
        reason=reason,
        key=f"{arr.offer_id}|{kind}",
    )


def _event(kind: str, arr: Arrangement, loan: LoanModel, a: Assessment) -> dict[str, Any]:
    """A callback's payload: the event id is deterministic, so a redelivered batch sends the same one
    and the platform (Standard Webhooks) deduplicates on it."""
    return {
        "id": f"evt_{arr.offer_id}_{kind.split('.', 1)[1]}",
        "type": kind,
        "timestamp": iso(a.as_of),
        "data": {
            "loan_id": loan.loan_id,
            "offer_id": arr.offer_id,
            "kind": arr.terms.kind,
            "status": arr.status,
            "currency": loan.currency,
            "schedule": [{"due_on": d.due_on.isoformat(), "amount": str(d.amount)} for d in arr.terms.schedule],
            "forgiven": str(loan.forgiven) if kind == "arrangement.completed" and loan.forgiven else None,
            "outstanding": str(loan.outstanding),
        },
    }
