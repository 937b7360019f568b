"""Facts about a loan, stamped with the operations calendar day they belong to."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from ..config import Settings
from ..domain.facts import Fact, business_date


class LoanLike(Protocol):
    @property
    def loan_id(self) -> str: ...
    @property
    def borrower_id(self) -> str: ...
    @property
    def currency(self) -> str: ...


def fact(settings: Settings, kind: str, at: datetime, loan: LoanLike, source: str, **kw: Any) -> Fact:
    return Fact(
        kind,
        at,
        business_date(at, settings.business_tz),
        loan.loan_id,
        source,
        borrower_id=loan.borrower_id,
        currency=loan.currency,
        **kw,
    )  # type: ignore[arg-type]
