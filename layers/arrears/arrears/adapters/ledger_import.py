"""Writing the platform's records into DynamoDB (the importer's adapter)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from ..domain.importing import Borrower, InstallmentRow, Loan, Record, RepaymentRow
from ..domain.timeutil import iso
from .models import BorrowerModel, ContactModel, LedgerModel

BATCH_GET = 100


def known_parents(kind: str, ids: set[str]) -> dict[str, str]:
    """Which of these borrowers / loans exist: id -> currency (loans) or '' (borrowers)."""
    found: dict[str, str] = {}
    ordered = sorted(ids)
    if kind == "borrower":
        for i in range(0, len(ordered), BATCH_GET):
            for b in BorrowerModel.batch_get(ordered[i : i + BATCH_GET], attributes_to_get=["borrower_id"]):
                found[b.borrower_id] = ""
        return found
    keys = [(lid, "LOAN") for lid in ordered]
    for i in range(0, len(keys), BATCH_GET):
        for h in LedgerModel.batch_get(keys[i : i + BATCH_GET], attributes_to_get=["loan_id", "currency"]):
            found[h.loan_id] = h.currency or ""
    return found


def _items_for(rec: Record) -> Iterator[Any]:
    if isinstance(rec, Borrower):
        yield BorrowerModel(
            rec.borrower_id,
            timezone=rec.timezone,
            language=rec.language,
            jurisdiction=rec.jurisdiction,
            credit_grade=rec.credit_grade,
            opt_out=set(rec.opt_out) or None,
            holds=set(rec.holds) or None,
        )
        yield ContactModel(
            rec.borrower_id,
            name=rec.name,
            phone=rec.phone,
            email=rec.email,
            wechat_openid=rec.wechat_openid,
            id_number=rec.id_number,
            address=rec.address,
        )
    elif isinstance(rec, Loan):
        yield LedgerModel(
            rec.loan_id,
            "LOAN",
            borrower_id=rec.borrower_id,
            product=rec.product,
            currency=rec.currency,
            principal=rec.principal,
            disbursed_on=rec.disbursed_on.isoformat(),
            holds=set(rec.holds) or None,
        )
    elif isinstance(rec, InstallmentRow):
        yield LedgerModel(
            rec.loan_id,
            f"INST#{rec.seq:04d}",
            seq=rec.seq,
            due_date=rec.due_date.isoformat(),
            principal_due=rec.principal_due,
            interest_due=rec.interest_due,
            fee_due=rec.fee_due,
        )
    elif isinstance(rec, RepaymentRow):
        yield LedgerModel(
            rec.loan_id,
            f"PAY#{rec.payment_id}",
            payment_id=rec.payment_id,
            paid_at=iso(rec.paid_at),
            amount=rec.amount,
        )


def write_records(records: Iterable[Record]) -> int:
    """Idempotent upserts (whole-item puts keyed by the platform's ids), 25 items a request."""
    written = 0
    batches: dict[type, Any] = {}
    try:
        for rec in records:
            for item in _items_for(rec):
                cls = type(item)
                if cls not in batches:
                    batches[cls] = cls.batch_write()
                    batches[cls].__enter__()
                batches[cls].save(item)
                written += 1
    finally:
        for batch in batches.values():
            batch.__exit__(None, None, None)
    return written
