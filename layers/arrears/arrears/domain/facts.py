"""Facts: every event the system produces, one flat row each, for the outcomes table (Athena)."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import NamedTuple

from .timeutil import iso, local_date

FACT_TYPES = (
    "case_opened",
    "case_closed",
    "bucket_entered",
    "bucket_left",
    "loan_evaluated",
    "action_planned",
    "action_deferred",
    "action_sent",
    "action_cancelled",
    "action_blocked",
    "repayment_applied",
    "case_escalated",
    "call_outcome",
    "promise_made",
    "promise_kept",
    "promise_broken",
    "loan_failed",  # a stage could not process the loan's data; the reason says why, the others went on
)

#: Column order and Athena/Glue types of the outcomes table; template.yaml declares the same columns.
COLUMNS: dict[str, str] = {
    "fact_id": "string",
    "fact_type": "string",
    "occurred_at": "string",
    "business_date": "string",
    "loan_id": "string",
    "borrower_id": "string",
    "case_id": "string",
    "bucket": "string",
    "from_bucket": "string",
    "to_bucket": "string",
    "dpd": "int",
    "amount_minor": "bigint",
    "outstanding_minor": "bigint",
    "currency": "string",
    "action_id": "string",
    "channel": "string",
    "reason": "string",
    "payment_id": "string",
    "strategy": "string",
    "strategy_version": "int",
    "variant": "string",
    "step": "string",
    "source": "string",
}


class Fact(NamedTuple):
    fact_type: str
    occurred_at: datetime
    business_date: date
    loan_id: str
    source: str
    borrower_id: str | None = None
    case_id: str | None = None
    bucket: str | None = None
    from_bucket: str | None = None
    to_bucket: str | None = None
    dpd: int | None = None
    amount_minor: int | None = None
    outstanding_minor: int | None = None
    currency: str | None = None
    action_id: str | None = None
    channel: str | None = None
    reason: str | None = None
    payment_id: str | None = None
    strategy: str | None = None
    strategy_version: int | None = None
    variant: str | None = None
    step: str | None = None
    key: str = ""  # what makes the fact unique besides type and loan

    @property
    def fact_id(self) -> str:
        raw = f"{self.fact_type}|{self.loan_id}|{self.business_date}|{self.key}"
        return hashlib.sha256(raw.encode()).hexdigest()[:32]

    def row(self) -> dict[str, object]:
        if self.fact_type not in FACT_TYPES:
            raise ValueError(f"unknown fact type {self.fact_type!r}")
        data = self._asdict()
        data.pop("key")
        data["fact_id"] = self.fact_id
        data["occurred_at"] = iso(self.occurred_at)
        data["business_date"] = self.business_date.isoformat()
        return {name: data.get(name) for name in COLUMNS}


def business_date(instant: datetime, business_tz: str) -> date:
    """The operations calendar day a fact belongs to (partition ``dt`` of the outcomes table)."""
    return local_date(instant, business_tz)
