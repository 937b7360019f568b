"""Re-evaluate loans whose ledger changed (new loan, schedule, repayment, reversal): the DynamoDB
stream path.

Most changes are applied incrementally to the loan's stored balance (a new repayment continues the
oldest-first waterfall; an installment on a loan with nothing paid is appended), which is exactly
what a full recomputation gives. Anything else (a changed or removed entry, an installment after
payments, a reversal) recomputes the loan from its whole ledger. A reversal (``REV#<payment_id>``)
takes its payment back out: the installments it paid are unpaid again with their own due dates, so a
loan it had cured is delinquent again with its DPD from the original due date, and its case reopens
(within CaseReopenDays of the closing; else a new case opens).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from ..adapters import store
from ..adapters.facts_sink import FactSink
from ..adapters.models import LoanModel
from ..config import Settings
from ..domain import DATA_ERRORS
from ..domain.buckets import CURRENT
from ..domain.delinquency import assess
from ..domain.facts import PLATFORM_FILE, restriction_facts
from ..domain.ledger import (
    ZERO,
    Installment,
    add_installment,
    allocate,
    apply_payment,
    days_late,
    earliest_due_before,
)
from ..domain.money import to_minor
from ..domain.promises import Promise
from ..domain.restrictions import Restrictions
from ..domain.timeutil import iso, parse_instant
from ..observability import logger
from .arranging import apply_arrangement
from .collect import Outcome, apply, apply_plans, finish, open_promises, resolve_promise
from .recording import LoanLike, fact

SOURCE = "ledger-events"


class LedgerChange(NamedTuple):
    loan_id: str
    entry: str
    event: str  # INSERT | MODIFY | REMOVE
    at: datetime
    new: dict[str, Any] | None  # the entry's new image as plain values
    unchanged: bool = False  # a MODIFY whose image did not change (an idempotent re-import)
    old_amount: Decimal | None = None  # a re-imported repayment's amount before the change


def _new_state(loan_id: str, change: LedgerChange, borrowers: dict[str, Any]) -> LoanModel | None:
    new = change.new or {}
    b = borrowers.get(str(new.get("borrower_id", "")))
    if b is None:
        logger.warning("loan has no known borrower; skipped", extra={"loan_id": loan_id})
        return None
    return LoanModel(
        loan_id,
        borrower_id=b.borrower_id,
        product=new.get("product", ""),
        currency=new.get("currency", ""),
        tz=b.timezone,
        jurisdiction=b.jurisdiction,
        language=b.language,
        credit_grade=b.credit_grade,
    )


def _incremental(
    loan: LoanModel, changes: list[LedgerChange], earliest: dict[str, date | None]
) -> tuple[bool, list[LedgerChange]]:
    """Apply changes to the stored balance. Returns (done, new repayments); done False means the
    loan needs a full recomputation. ``earliest`` gets each new repayment's earliest unpaid due date
    before it (for its ``days_late``)."""
    unpaid = store.unpaid_of(loan)
    credit = loan.credit or ZERO
    paid_total = loan.paid_total or ZERO
    applied = set(loan.payment_ids or ())
    repayments: list[LedgerChange] = []
    for c in changes:
        if c.unchanged or c.entry == "LOAN" or c.entry.startswith(("EVAL#", "PLAN#", "PTP#", "HOLD#", "ARR#")):
            continue
        if c.entry.startswith("REV#") and c.event == "INSERT" and c.entry[4:] in (loan.reversed_ids or ()):
            continue  # a redelivered reversal, applied already
        if c.event != "INSERT" or c.new is None or c.entry.startswith("REV#"):
            return False, []
        if c.entry.startswith("INST#"):
            if paid_total > ZERO or any(u.seq == int(c.new["seq"]) for u in unpaid):
                return False, []
            unpaid = add_installment(
                unpaid,
                Installment(
                    int(c.new["seq"]),
                    date.fromisoformat(c.new["due_date"]),
                    Decimal(c.new["principal_due"]),
                    Decimal(c.new["interest_due"]),
                    Decimal(c.new["fee_due"]),
                ),
            )
        elif c.entry.startswith("PAY#"):
            pid = str(c.new["payment_id"])
            if pid in applied:
                continue
            earliest[pid] = min((u.due_date for u in unpaid), default=None)
            unpaid, credit = apply_payment(unpaid, credit, Decimal(c.new["amount"]))
            paid_total += Decimal(c.new["amount"])
            applied.add(pid)
            repayments.append(c)
    _store_balance(loan, unpaid, credit, paid_total, applied)
    return True, repayments


def _apply_holds(settings: Settings, loan: LoanModel, changes: list[LedgerChange]) -> list[Any]:
    """The holds in force: the platform's (on its LOAN entry) and each other source's (``HOLD#`` entries,
    placed and lifted by operators); each source changes only its own. Returns a ``hold_placed`` or
    ``hold_lifted`` fact for each change, naming its source (``platform/file``, ``platform/api``, as the
    LOAN entry says how it came; or the HOLD# entry's source)."""
    sources = Restrictions.from_json(loan.hold_sources)
    if not loan.hold_sources and loan.holds:  # a loan stored before holds had sources: the platform's
        sources = sources.with_source("holds", "platform", loan.holds)
    before = sources
    facts: list[Any] = []
    for c in changes:
        if c.entry == "LOAN" and c.new is not None:
            was = sources.names("holds")
            was_platform = frozenset(h for h in was if "platform" in sources.sources("holds", h))
            sources = sources.with_source("holds", "platform", c.new.get("holds") or ())
            now_platform = frozenset(h for h in sources.names("holds") if "platform" in sources.sources("holds", h))
            who = str(c.new.get("source") or PLATFORM_FILE)
            facts += _hold_facts(settings, loan, was_platform, now_platform, c, who)
        elif c.entry.startswith("HOLD#"):
            _, hold, source = c.entry.split("#", 2)
            on = c.event != "REMOVE"
            had = source in sources.sources("holds", hold)
            sources = sources.with_entry("holds", hold, source, on)
            if had != on:
                facts += _hold_facts(
                    settings, loan, frozenset([hold] if had else []), frozenset([hold] if on else []), c, source
                )
    if sources != before or loan.hold_sources is None:
        loan.hold_sources = sources.to_json() if sources.names("holds") else None
        loan.holds = set(sources.names("holds")) or None
    return facts


def _hold_facts(
    settings: Settings, loan: LoanModel, before: frozenset[str], after: frozenset[str], c: LedgerChange, who: str
) -> list[Any]:
    return restriction_facts(
        "holds",
        before,
        after,
        c.at,
        settings.business_tz,
        who,
        loan_id=loan.loan_id,
        borrower_id=loan.borrower_id,
        currency=loan.currency,
        key=f"{c.entry}|{iso(c.at)}",
    )


def _store_balance(loan: LoanModel, unpaid: tuple, credit: Decimal, paid_total: Decimal, applied: set[str]) -> None:
    store.set_unpaid(loan, unpaid, loan.due_shard or "")
    loan.credit, loan.paid_total, loan.payment_ids = credit, paid_total, applied or None


def _recompute(
    loan: LoanModel, changes: list[LedgerChange], earliest: dict[str, date | None]
) -> tuple[list[LedgerChange], list[LedgerChange]]:
    """The loan's balance from its whole ledger, reversed payments left out. Returns the changes to
    report: (repayments applied, reversals applied); ``earliest`` as ``_incremental`` fills it."""
    book = store.ledger(loan.loan_id)
    balance = allocate(book.installments, book.repayments, reversed_ids=book.reversed_ids)
    known = set(loan.payment_ids or ())
    known_reversed = set(loan.reversed_ids or ())
    _store_balance(loan, balance.unpaid, balance.credit, balance.paid_total, {r.payment_id for r in book.repayments})
    loan.reversed_ids = set(book.reversed_ids) or None
    fresh = [c for c in changes if c.new and not c.unchanged]
    repaid = [
        c
        for c in fresh
        if c.entry.startswith("PAY#") and (c.event == "MODIFY" or str((c.new or {})["payment_id"]) not in known)
    ]  # a payment and its reversal in one batch: both told (applied, then reversed), netting to nothing
    reversed_now = [
        c for c in fresh if c.entry.startswith("REV#") and c.event == "INSERT" and c.entry[4:] not in known_reversed
    ]
    for c in repaid:
        pid = str((c.new or {})["payment_id"])
        earliest[pid] = earliest_due_before(book.installments, book.repayments, pid, book.reversed_ids)
    return repaid, reversed_now


def reevaluate(settings: Settings, by_loan: dict[str, list[LedgerChange]], sink: FactSink) -> set[str]:
    """Re-evaluate each changed loan once, as of its latest change. A loan that cannot be evaluated
    (e.g. a ledger entry that does not parse) is left out and returned, so its records are reported
    as failures and retried; the other loans are saved."""
    states = store.loans(sorted(by_loan))
    fresh = {
        lid: next(c for c in cs if c.entry == "LOAN" and c.new)
        for lid, cs in by_loan.items()
        if lid not in states and any(c.entry == "LOAN" and c.new for c in cs)
    }
    borrowers = store.borrowers(str((c.new or {}).get("borrower_id", "")) for c in fresh.values())
    out = Outcome()
    failed: set[str] = set()
    for loan_id, changes in by_loan.items():
        try:
            one = _evaluate(settings, loan_id, changes, states, fresh, borrowers)
        except DATA_ERRORS as e:  # the loan's own data: retrying cannot help; recorded, the others go on
            reason = f"{type(e).__name__}: {e}"[:300]
            logger.warning("loan not re-evaluated: its data", extra={"loan_id": loan_id, "reason": reason})
            out.facts.append(_failed_fact(settings, loan_id, changes, states, reason))
            continue
        except Exception:
            logger.exception("loan not re-evaluated; its records will be retried", extra={"loan_id": loan_id})
            failed.add(loan_id)
            continue
        if one is not None:
            out.merge(one)
    finish(settings, out, sink)
    return failed


def _failed_fact(
    settings: Settings, loan_id: str, changes: list[LedgerChange], states: dict[str, LoanModel], reason: str
) -> Any:
    at = max(c.at for c in changes)
    loan = states.get(loan_id)
    who: LoanLike = loan if loan is not None else _Unknown(loan_id)
    return fact(settings, "loan_failed", at, who, SOURCE, reason=reason, key=f"{iso(at)}|{len(changes)}")


def _latest_payment(loan: LoanModel, new: dict[str, Any], arrived: datetime) -> None:
    """Keep the latest ``paid_at`` of the loan's repayments (a step ``send_at: payment_hour`` goes at
    its local hour)."""
    paid_at = parse_instant(str(new["paid_at"])) if new.get("paid_at") else arrived
    if loan.last_paid_at is None or paid_at > parse_instant(loan.last_paid_at):
        loan.last_paid_at = iso(paid_at)


def _days_late(earliest_due: date | None, new: dict[str, Any], arrived: datetime, tz: str) -> int | None:
    paid_at = parse_instant(str(new["paid_at"])) if new.get("paid_at") else arrived
    return days_late(earliest_due, paid_at, tz)


class _Unknown(NamedTuple):
    """A loan the stream has no state of yet (its first entries failed)."""

    loan_id: str
    borrower_id: str = ""
    currency: str = ""


def _evaluate(
    settings: Settings,
    loan_id: str,
    changes: list[LedgerChange],
    states: dict[str, LoanModel],
    fresh: dict[str, LedgerChange],
    borrowers: dict[str, Any],
) -> Outcome | None:
    loan = states.get(loan_id)
    if loan is None and loan_id in fresh:
        loan = _new_state(loan_id, fresh[loan_id], borrowers)
    if loan is None:
        logger.warning("ledger entries for an unknown loan; skipped", extra={"loan_id": loan_id})
        return None
    for c in changes:  # the platform may correct it; a loan stored before it was kept gets it here
        if c.entry == "LOAN" and c.new and c.new.get("disbursed_on"):
            loan.disbursed_on = str(c.new["disbursed_on"])
    loan.due_shard = store.shard_of(loan_id, settings.shard_count)
    loan.jurisdiction_shard = store.jurisdiction_shard(loan)
    hold_facts = _apply_holds(settings, loan, changes)
    from_bucket = loan.bucket
    earliest: dict[str, date | None] = {}
    done, repaid = _incremental(loan, changes, earliest)
    reversed_now: list[LedgerChange] = []
    if not done:
        earliest.clear()
        repaid, reversed_now = _recompute(loan, changes, earliest)
    at = max(c.at for c in changes)
    a = assess(store.unpaid_of(loan), loan.tz, at, settings.grace_days, settings.buckets)
    arranged = apply_arrangement(settings, loan, changes, a, SOURCE)
    a = arranged.assessment
    settled = resolve_promise(settings, loan, a, SOURCE)
    out = apply(settings, loan, a, SOURCE, reversal=bool(reversed_now), closing=arranged.closing)
    out.merge(settled)
    out.facts += hold_facts + arranged.facts
    out.callbacks += arranged.callbacks
    promises = [
        Promise.from_json(c.new["promise"]) for c in changes if c.entry.startswith("PTP#") and c.new and not c.unchanged
    ]
    if promises:
        out.merge(open_promises(settings, loan, promises, SOURCE))
    plans = [json.loads(c.new["plan"]) for c in changes if c.entry.startswith("PLAN#") and c.new and not c.unchanged]
    if plans:
        out.merge(apply_plans(settings, loan, plans, SOURCE))
    recovered = json.loads(loan.recovered_from) if loan.recovered_from else {}
    for c in repaid:
        new = c.new or {}
        _latest_payment(loan, new, c.at)
        amount = Decimal(new["amount"]) - (c.old_amount or Decimal(0))  # a corrected repayment: the difference
        if from_bucket != CURRENT:
            recovered[str(new.get("payment_id"))] = from_bucket
        out.facts.append(
            fact(
                settings,
                "repayment_applied",
                c.at,
                loan,
                SOURCE,
                payment_id=new.get("payment_id"),
                amount_minor=to_minor(amount, loan.currency),
                from_bucket=from_bucket,
                to_bucket=loan.bucket,
                bucket=from_bucket,
                dpd=a.dpd,
                outstanding_minor=to_minor(a.outstanding, loan.currency),
                days_late=_days_late(earliest.get(str(new.get("payment_id"))), new, c.at, loan.tz),
                key=f"{new.get('payment_id')}|{new['amount']}",
            )
        )
    for c in reversed_now:
        new = c.new or {}
        pid = str(new.get("payment_id"))
        out.facts.append(
            fact(
                settings,
                "repayment_reversed",
                c.at,
                loan,
                SOURCE,
                payment_id=pid,
                amount_minor=-to_minor(Decimal(new.get("amount") or 0), loan.currency),
                from_bucket=from_bucket,
                to_bucket=loan.bucket,
                bucket=recovered.pop(pid, CURRENT),  # the bucket it had been recovered from; M0: not a recovery
                case_id=loan.case_id,
                dpd=a.dpd,
                outstanding_minor=to_minor(a.outstanding, loan.currency),
                reason=new.get("reason"),
                key=pid,
            )
        )
    loan.recovered_from = json.dumps(recovered, separators=(",", ":"), sort_keys=True) if recovered else None
    out.items.append(loan)
    return out
