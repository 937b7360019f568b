"""Re-evaluate loans whose ledger changed (new loan, schedule, repayment): the DynamoDB stream path.

Most changes are applied incrementally to the loan's stored balance (a new repayment continues the
oldest-first waterfall; an installment on a loan with nothing paid is appended), which is exactly
what a full recomputation gives. Anything else (a changed or removed entry, an installment after
payments) recomputes the loan from its whole ledger.
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
from ..domain.delinquency import assess
from ..domain.ledger import ZERO, Installment, add_installment, allocate, apply_payment
from ..domain.money import to_minor
from ..domain.promises import Promise
from ..domain.restrictions import Restrictions
from ..domain.timeutil import iso
from ..observability import logger
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


def _incremental(loan: LoanModel, changes: list[LedgerChange]) -> tuple[bool, list[LedgerChange]]:
    """Apply changes to the stored balance. Returns (done, new repayments); done False means the
    loan needs a full recomputation."""
    unpaid = store.unpaid_of(loan)
    credit = loan.credit or ZERO
    paid_total = loan.paid_total or ZERO
    applied = set(loan.payment_ids or ())
    repayments: list[LedgerChange] = []
    for c in changes:
        if c.unchanged or c.entry == "LOAN" or c.entry.startswith(("EVAL#", "PLAN#", "PTP#", "HOLD#")):
            continue
        if c.event != "INSERT" or c.new is None:
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
            unpaid, credit = apply_payment(unpaid, credit, Decimal(c.new["amount"]))
            paid_total += Decimal(c.new["amount"])
            applied.add(pid)
            repayments.append(c)
    _store_balance(loan, unpaid, credit, paid_total, applied)
    return True, repayments


def _apply_holds(loan: LoanModel, changes: list[LedgerChange]) -> None:
    """The holds in force: the platform's (on its LOAN entry) and each other source's (``HOLD#`` entries,
    placed and lifted by operators); each source changes only its own."""
    sources = Restrictions.from_json(loan.hold_sources)
    if not loan.hold_sources and loan.holds:  # a loan stored before holds had sources: the platform's
        sources = sources.with_source("holds", "platform", loan.holds)
    before = sources
    for c in changes:
        if c.entry == "LOAN" and c.new is not None:
            sources = sources.with_source("holds", "platform", c.new.get("holds") or ())
        elif c.entry.startswith("HOLD#"):
            _, hold, source = c.entry.split("#", 2)
            sources = sources.with_entry("holds", hold, source, c.event != "REMOVE")
    if sources != before or loan.hold_sources is None:
        loan.hold_sources = sources.to_json() if sources.names("holds") else None
        loan.holds = set(sources.names("holds")) or None


def _store_balance(loan: LoanModel, unpaid: tuple, credit: Decimal, paid_total: Decimal, applied: set[str]) -> None:
    store.set_unpaid(loan, unpaid, loan.due_shard or "")
    loan.credit, loan.paid_total, loan.payment_ids = credit, paid_total, applied or None


def _recompute(loan: LoanModel, changes: list[LedgerChange]) -> list[LedgerChange]:
    _, installments, repayments = store.ledger(loan.loan_id)
    balance = allocate(installments, repayments)
    known = set(loan.payment_ids or ())
    _store_balance(loan, balance.unpaid, balance.credit, balance.paid_total, {r.payment_id for r in repayments})
    return [
        c
        for c in changes
        if c.entry.startswith("PAY#")
        and c.new
        and not c.unchanged
        and (c.event == "MODIFY" or str(c.new["payment_id"]) not in known)
    ]


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
    loan.due_shard = store.shard_of(loan_id, settings.shard_count)
    _apply_holds(loan, changes)
    from_bucket = loan.bucket
    done, repaid = _incremental(loan, changes)
    if not done:
        repaid = _recompute(loan, changes)
    at = max(c.at for c in changes)
    a = assess(store.unpaid_of(loan), loan.tz, at, settings.grace_days, settings.buckets)
    settled = resolve_promise(settings, loan, a, SOURCE)
    out = apply(settings, loan, a, SOURCE)
    out.merge(settled)
    promises = [
        Promise.from_json(c.new["promise"]) for c in changes if c.entry.startswith("PTP#") and c.new and not c.unchanged
    ]
    if promises:
        out.merge(open_promises(settings, loan, promises, SOURCE))
    plans = [json.loads(c.new["plan"]) for c in changes if c.entry.startswith("PLAN#") and c.new and not c.unchanged]
    if plans:
        out.merge(apply_plans(settings, loan, plans, SOURCE))
    for c in repaid:
        new = c.new or {}
        amount = Decimal(new["amount"]) - (c.old_amount or Decimal(0))  # a corrected repayment: the difference
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
                key=f"{new.get('payment_id')}|{new['amount']}",
            )
        )
    out.items.append(loan)
    return out
