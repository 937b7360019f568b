"""Promises to pay as data: made on a call, opened on the loan by the ledger stream, kept when the
repayments since the promise reach its amount by its date, broken when its date passes first.

While a promise is open the compliance guard holds dunning (no contact up to and including its
date) and strategy steps marked ``no_open_promise`` wait. A broken promise lowers the loan's
probability of payment in prioritisation.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from .timeutil import local_date

#: days a borrower is given to pay what they promised on a call
PROMISE_DAYS = 3


class Promise(NamedTuple):
    promise_id: str
    case_id: str
    made_at: datetime
    until: date  # the borrower's local date
    amount: Decimal

    def to_json(self) -> str:
        return json.dumps(
            {
                "promise_id": self.promise_id,
                "case_id": self.case_id,
                "made_at": self.made_at.isoformat(),
                "until": self.until.isoformat(),
                "amount": str(self.amount),
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, raw: str) -> Promise:
        d = json.loads(raw)
        return cls(
            str(d["promise_id"]),
            str(d["case_id"]),
            datetime.fromisoformat(d["made_at"]),
            date.fromisoformat(d["until"]),
            Decimal(d["amount"]),
        )


def promise_from_call(action_id: str, case_id: str, at: datetime, tz: str, overdue: Decimal) -> Promise:
    """What a borrower promises on a call: the amount overdue within PROMISE_DAYS local days."""
    return Promise(action_id, case_id, at, local_date(at, tz) + timedelta(days=PROMISE_DAYS), overdue)


class PromiseState(NamedTuple):
    until: date
    amount: Decimal
    paid_at_promise: Decimal  # the loan's paid total when the promise was made


def resolve(state: PromiseState | None, paid_total: Decimal, today: date, cured: bool) -> str | None:
    """'kept' once paid since the promise reaches its amount (or the loan cured) by its date,
    'broken' once its date has passed without that, None while it is open (or there is none)."""
    if state is None:
        return None
    if cured or paid_total - state.paid_at_promise >= state.amount:
        return "kept" if today <= state.until else "broken"
    return "broken" if today > state.until else None
