"""Applying an assessment to a loan: case transitions, bucket history, planned actions and facts.

Runs in the ledger stream function, the only writer of a loan's state: the daily run does not
change loans itself, it writes an EVAL marker into the loan's ledger and the stream applies it in
order with the loan's other changes. Nothing here writes: ``apply`` returns items, facts and
actions, and ``finish`` does the I/O in an order that is safe on redelivery (actions created and
enqueued, facts flushed, then the loans' state saved last), so a retried batch recomputes the same
transitions, the same deterministic action ids and the same fact ids (the sender and the report both
deduplicate on them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..adapters import store
from ..adapters.clients import client
from ..adapters.facts_sink import FactSink
from ..adapters.models import LoanModel
from ..config import Settings
from ..domain.buckets import CURRENT
from ..domain.delinquency import Assessment, transition
from ..domain.facts import Fact
from ..domain.money import to_minor
from ..domain.strategy import PlannedAction, plan
from .recording import fact


@dataclass
class Outcome:
    facts: list[Fact] = field(default_factory=list)
    to_enqueue: list[PlannedAction] = field(default_factory=list)
    items: list[Any] = field(default_factory=list)  # whole-item puts, saved last
    cancels: list[tuple[str, str]] = field(default_factory=list)  # (loan_id, action_id)

    def merge(self, other: Outcome) -> None:
        self.facts += other.facts
        self.to_enqueue += other.to_enqueue
        self.items += other.items
        self.cancels += other.cancels


def apply(settings: Settings, loan: LoanModel, a: Assessment, source: str) -> Outcome:
    """Move the loan's case to match the assessment (in memory) and say what must be written."""
    before = store.case_state_of(loan)
    after, transitions = transition(loan.loan_id, before, a)
    out = Outcome()
    if not transitions:
        return out
    out.items += store.transition_items(loan, before, transitions)
    for t in transitions:
        out.facts.append(
            fact(
                settings,
                t.kind,
                a.as_of,
                loan,
                source,
                case_id=t.case_id,
                bucket=t.bucket,
                from_bucket=t.from_bucket,
                to_bucket=t.to_bucket,
                dpd=a.dpd,
                amount_minor=to_minor(a.overdue, loan.currency),
                outstanding_minor=to_minor(a.outstanding, loan.currency),
                reason=t.reason,
                key=f"{t.case_id}|{t.bucket}",
            )
        )
    if after.bucket == CURRENT and before.case_id:
        for act in store.planned_actions(loan.loan_id):
            out.cancels.append((loan.loan_id, act.action_id or ""))
            out.facts.append(
                fact(
                    settings,
                    "action_cancelled",
                    a.as_of,
                    loan,
                    source,
                    case_id=act.case_id,
                    action_id=act.action_id,
                    channel=act.channel,
                    reason="loan cured",
                    key=act.action_id or "",
                )
            )
    for p in plan(loan.loan_id, loan.borrower_id, transitions):
        out.to_enqueue.append(p)
        out.facts.append(
            fact(
                settings,
                "action_planned",
                a.as_of,
                loan,
                source,
                case_id=p.case_id,
                action_id=p.action_id,
                channel=p.channel,
                bucket=p.bucket,
                strategy=p.strategy,
                strategy_version=p.strategy_version,
                key=p.action_id,
            )
        )
    store.set_case_state(loan, after)
    return out


def finish(settings: Settings, out: Outcome, sink: FactSink) -> None:
    """Create and enqueue actions, cancel the cured loans' pending ones, record the facts, and save
    the loans' state last (the commit point)."""
    for p in out.to_enqueue:
        store.create_action(p)  # exists already on redelivery: enqueued again, the sender is idempotent
    enqueue(settings, out.to_enqueue)
    for loan_id, action_id in out.cancels:
        store.move_action(loan_id, action_id, "planned", "cancelled", reason="loan cured")
    sink.extend(out.facts)
    sink.flush()
    store.save_all(out.items)


def enqueue(settings: Settings, actions: list[PlannedAction]) -> None:
    sqs = client("sqs")
    for i in range(0, len(actions), 10):
        entries = [
            {
                "Id": str(n),
                "MessageBody": json.dumps(
                    {
                        "action_id": a.action_id,
                        "loan_id": a.loan_id,
                        "case_id": a.case_id,
                        "channel": a.channel,
                        "template": a.template,
                        "borrower_id": a.borrower_id,
                    }
                ),
            }
            for n, a in enumerate(actions[i : i + 10])
        ]
        resp = sqs.send_message_batch(QueueUrl=settings.sms_queue_url, Entries=entries)
        if resp.get("Failed"):
            raise RuntimeError(f"could not enqueue {len(resp['Failed'])} action(s)")
