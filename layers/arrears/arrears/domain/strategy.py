"""Planned actions and the re-check just before one leaves the system.

What to do for a loan is the strategy's (``strategies``, ``planning``); this module is the action
it becomes and the last look before sending: a cured loan or closed case cancels, a missing address
blocks (the compliance guard comes after).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import NamedTuple

from .buckets import CURRENT


class PlannedAction(NamedTuple):
    action_id: str
    loan_id: str
    borrower_id: str
    case_id: str
    channel: str | None  # None: an escalation (no contact)
    template: str | None
    step: str
    bucket: str
    planned_for: date
    strategy: str
    strategy_version: int
    variant: str
    segment: str
    why: str
    expected_recovery: Decimal
    not_before: datetime | None = None  # the bandit's send hour, as an instant (None: when dispatched)


class SendDecision(NamedTuple):
    verdict: str  # send | cancel | block
    reason: str | None = None


def decide_send(
    *, action_case_id: str, loan_case_id: str | None, loan_bucket: str, has_address: bool, channel: str
) -> SendDecision:
    """Re-check a planned action just before it leaves the system (the compliance guard comes next)."""
    if loan_case_id is None or loan_bucket == CURRENT:
        return SendDecision("cancel", "loan is no longer delinquent")
    if loan_case_id != action_case_id:
        return SendDecision("cancel", "the case this action was planned for is closed")
    if not has_address:
        return SendDecision("block", f"no {channel} address on file")
    return SendDecision("send")
