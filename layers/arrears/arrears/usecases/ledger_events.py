"""Re-evaluate loans whose ledger changed (new schedule, repayment): the DynamoDB stream path."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from ..adapters import store
from ..adapters.facts_sink import FactSink
from ..adapters.models import LoanModel
from ..config import Settings
from ..domain.buckets import CURRENT
from ..domain.delinquency import assess
from ..domain.ledger import allocate
from ..domain.money import to_minor
from ..observability import logger
from .collect import apply, enqueue, fact

SOURCE = "ledger-events"


@dataclass(frozen=True)
class LedgerChange:
    loan_id: str
    entry: str
    event: str  # INSERT | MODIFY | REMOVE
    at: datetime
    amount: Decimal | None = None  # repayments: the amount newly recorded
    payment_id: str | None = None


def new_loan_state(settings: Settings, loan_id: str, header: object) -> LoanModel | None:
    borrower = store.borrower(getattr(header, "borrower_id", "") or "")
    if borrower is None:
        logger.warning("loan has no known borrower; skipped", extra={"loan_id": loan_id})
        return None
    return LoanModel(
        loan_id, borrower_id=borrower.borrower_id, product=getattr(header, "product", "") or "",
        currency=getattr(header, "currency", "") or "", tz=borrower.timezone,
    )


def reevaluate(settings: Settings, loan_id: str, changes: list[LedgerChange], sink: FactSink) -> None:
    """Recompute one loan from its whole ledger as of its latest change. Idempotent: replaying the
    same changes finds nothing to change and records the same facts (same fact ids)."""
    at = max(c.at for c in changes)
    header, installments, repayments = store.ledger(loan_id)
    if header is None:
        logger.warning("ledger entries for an unknown loan; skipped", extra={"loan_id": loan_id})
        return
    loan = store.loans([loan_id]).get(loan_id) or new_loan_state(settings, loan_id, header)
    if loan is None:
        return
    from_bucket = loan.bucket
    balance = allocate(installments, repayments)
    store.set_unpaid(loan, balance.unpaid, store.shard_of(loan_id, settings.shard_count))
    loan.paid_total = balance.paid_total
    a = assess(balance.unpaid, loan.tz, at, settings.grace_days, settings.buckets)
    outcome = apply(settings, loan, a, SOURCE)
    for c in changes:
        if c.entry.startswith("PAY#") and c.amount is not None and c.event in ("INSERT", "MODIFY"):
            outcome.facts.append(fact(
                settings, "repayment_applied", c.at, loan, SOURCE, payment_id=c.payment_id,
                amount_minor=to_minor(c.amount, loan.currency), from_bucket=from_bucket, to_bucket=loan.bucket,
                bucket=from_bucket, dpd=a.dpd, outstanding_minor=to_minor(a.outstanding, loan.currency),
                key=c.payment_id or "",
            ))
    enqueue(settings, outcome.to_enqueue)
    sink.extend(outcome.facts)
    sink.flush()
    store.save_loan(loan)
    if from_bucket != CURRENT and loan.bucket == CURRENT:
        logger.info("loan cured", extra={"loan_id": loan_id})
