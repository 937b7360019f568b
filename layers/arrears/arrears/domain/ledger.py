"""A loan's ledger: the repayment schedule and the repayments, and what is still unpaid.

Repayments are applied to the oldest unpaid installment first (within an installment: fee, then
interest, then principal). Overpayment is kept as credit and applied to later installments. A
reversed repayment (a chargeback, a failed debit) is taken back out: the loan's balance is what it
would be had the payment never been made, so the installments it paid are unpaid again with their
own due dates.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime
from decimal import Decimal
from typing import NamedTuple

from .timeutil import local_date

ZERO = Decimal("0")


class Installment(NamedTuple):
    seq: int
    due_date: date
    principal_due: Decimal
    interest_due: Decimal
    fee_due: Decimal

    @property
    def amount_due(self) -> Decimal:
        return self.principal_due + self.interest_due + self.fee_due


class Repayment(NamedTuple):
    payment_id: str
    paid_at: datetime
    amount: Decimal


class Unpaid(NamedTuple):
    """What is left of one installment."""

    seq: int
    due_date: date
    remaining: Decimal


class Balance(NamedTuple):
    unpaid: tuple[Unpaid, ...]
    paid_total: Decimal
    credit: Decimal  # paid beyond the whole schedule

    @property
    def outstanding(self) -> Decimal:
        return sum((u.remaining for u in self.unpaid), ZERO)

    @property
    def earliest_unpaid_due(self) -> date | None:
        return self.unpaid[0].due_date if self.unpaid else None

    def overdue_on(self, local_day: date) -> Decimal:
        """Amount of installments whose due date has passed on this local day."""
        return sum((u.remaining for u in self.unpaid if u.due_date < local_day), ZERO)


def allocate(
    installments: list[Installment],
    repayments: list[Repayment],
    as_of: datetime | None = None,
    reversed_ids: Collection[str] = (),
) -> Balance:
    """Apply the repayments made up to ``as_of`` (all when None), except those reversed, to the
    schedule, oldest first."""
    schedule = sorted(installments, key=lambda i: (i.due_date, i.seq))
    paid = sorted(
        (r for r in repayments if (as_of is None or r.paid_at <= as_of) and r.payment_id not in reversed_ids),
        key=lambda r: (r.paid_at, r.payment_id),
    )
    pool = sum((r.amount for r in paid), ZERO)
    paid_total = pool
    unpaid: list[Unpaid] = []
    for inst in schedule:
        due = inst.amount_due
        applied = min(due, pool)
        pool -= applied
        if due - applied > ZERO:
            unpaid.append(Unpaid(inst.seq, inst.due_date, due - applied))
    return Balance(tuple(unpaid), paid_total, pool)


def apply_payment(unpaid: tuple[Unpaid, ...], credit: Decimal, amount: Decimal) -> tuple[tuple[Unpaid, ...], Decimal]:
    """Apply one more repayment to what is unpaid, oldest first. Because the waterfall only depends on
    the total paid, this equals ``allocate`` over all repayments (a property test checks it)."""
    pool = amount
    out: list[Unpaid] = []
    for u in sorted(unpaid, key=lambda u: (u.due_date, u.seq)):
        applied = min(u.remaining, pool)
        pool -= applied
        if u.remaining - applied > ZERO:
            out.append(Unpaid(u.seq, u.due_date, u.remaining - applied))
    return tuple(out), credit + pool


def add_installment(unpaid: tuple[Unpaid, ...], inst: Installment) -> tuple[Unpaid, ...]:
    """A new installment on a loan with nothing paid yet (the only case where adding is exact)."""
    if any(u.seq == inst.seq for u in unpaid):
        raise ValueError(f"installment {inst.seq} is already on the schedule")
    return tuple(sorted((*unpaid, Unpaid(inst.seq, inst.due_date, inst.amount_due)), key=lambda u: (u.due_date, u.seq)))


def days_late(earliest_unpaid_due: date | None, paid_at: datetime, tz: str) -> int | None:
    """How late a repayment was: local days (the borrower's zone) from the due date of the installment
    that was earliest unpaid when it was made to its local date; 0 when on time or early, None when
    nothing was unpaid. A payment made after the due date is late even if no daily run saw it."""
    if earliest_unpaid_due is None:
        return None
    return max(0, (local_date(paid_at, tz) - earliest_unpaid_due).days)


def earliest_due_before(
    installments: list[Installment], repayments: list[Repayment], payment_id: str, reversed_ids: Collection[str] = ()
) -> date | None:
    """The earliest unpaid due date just before ``payment_id`` was made: every repayment before it
    (by ``paid_at``, then id, as ``allocate`` orders them) applied, reversed ones left out."""
    this = next((r for r in repayments if r.payment_id == payment_id), None)
    if this is None:
        return None
    before = [r for r in repayments if (r.paid_at, r.payment_id) < (this.paid_at, this.payment_id)]
    return allocate(installments, before, reversed_ids=reversed_ids).earliest_unpaid_due
