"""Collection strategy (walking skeleton): a loan entering M1 gets one SMS reminder.

The decision to send is re-made at send time: a cured loan cancels, an opted-out channel blocks.
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import NamedTuple

from .buckets import CURRENT
from .delinquency import Transition

STRATEGY_ID = "default"
STRATEGY_VERSION = 1


class PlannedAction(NamedTuple):
    action_id: str
    loan_id: str
    borrower_id: str
    case_id: str
    channel: str
    template: str
    step: str
    bucket: str
    planned_for: date
    strategy: str = STRATEGY_ID
    strategy_version: int = STRATEGY_VERSION


def action_id_for(case_id: str, step: str) -> str:
    """Deterministic: re-planning the same step of the same case yields the same action."""
    return hashlib.sha256(f"{case_id}|{step}".encode()).hexdigest()[:24]


_RULES = {"M1": ("sms", "m1_reminder")}


def plan(loan_id: str, borrower_id: str, transitions: list[Transition]) -> list[PlannedAction]:
    actions = []
    for t in transitions:
        if t.kind != "bucket_entered" or t.bucket not in _RULES:
            continue
        channel, template = _RULES[t.bucket]
        step = f"{t.bucket}:{channel}:{template}"
        actions.append(
            PlannedAction(
                action_id=action_id_for(t.case_id, step),
                loan_id=loan_id,
                borrower_id=borrower_id,
                case_id=t.case_id,
                channel=channel,
                template=template,
                step=step,
                bucket=t.bucket,
                planned_for=t.day,
            )
        )
    return actions


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


def render(template: str, *, bucket: str, overdue: str, currency: str) -> str:
    """Message bodies carry no personal data beyond what the borrower already knows (the amount)."""
    if template == "m1_reminder":
        return (
            f"Reminder: your loan repayment of {overdue} {currency} is overdue. "
            "Please repay in the app to avoid further fees. Reply STOP to opt out."
        )
    raise ValueError(f"unknown template {template!r}")
