"""Facts about a loan, stamped with the operations calendar day they belong to."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from ..domain.facts import Fact, business_date


class Calendar(Protocol):
    """What a fact needs of the settings: the operations calendar's zone (Settings, OpsSettings)."""

    @property
    def business_tz(self) -> str: ...


class LoanLike(Protocol):
    @property
    def loan_id(self) -> str: ...
    @property
    def borrower_id(self) -> str: ...
    @property
    def currency(self) -> str: ...


#: what every fact about a loan carries of it, for analysts to slice by (the loan's state when told)
SLICES = ("segment", "product", "jurisdiction")


def fact(settings: Calendar, kind: str, at: datetime, loan: LoanLike, source: str, **kw: Any) -> Fact:
    for name in SLICES:
        if name not in kw:
            kw[name] = getattr(loan, name, None) or None
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
