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
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from ..adapters import campaign_store, store
from ..adapters.clients import client
from ..adapters.facts_sink import FactSink
from ..adapters.models import LoanModel
from ..clock import now as clock_now
from ..config import Settings
from ..domain.buckets import CURRENT
from ..domain.campaigns import campaign_of
from ..domain.delinquency import Assessment, transition
from ..domain.facts import Fact
from ..domain.ledger import ZERO
from ..domain.money import to_minor
from ..domain.planning import Work
from ..domain.promises import Promise, PromiseState, resolve
from ..domain.strategy import PlannedAction
from ..domain.timeutil import iso, local_date, zone
from ..observability import logger
from .recording import fact


@dataclass
class Outcome:
    facts: list[Fact] = field(default_factory=list)
    to_enqueue: list[PlannedAction] = field(default_factory=list)
    items: list[Any] = field(default_factory=list)  # whole-item puts, saved last
    cancels: list[tuple[str, str]] = field(default_factory=list)  # (loan_id, action_id)
    #: (campaign id, loan id, paid total, promise id): a campaign's first contact with a loan
    members: list[tuple[str, str, Decimal, str | None]] = field(default_factory=list)
    callbacks: list[dict[str, Any]] = field(default_factory=list)  # events for the platform (usecases/callbacks.py)

    def merge(self, other: Outcome) -> None:
        self.callbacks += other.callbacks
        self.facts += other.facts
        self.to_enqueue += other.to_enqueue
        self.items += other.items
        self.cancels += other.cancels
        self.members += other.members


def apply(
    settings: Settings, loan: LoanModel, a: Assessment, source: str, reversal: bool = False, closing: str = "cured"
) -> Outcome:
    """Move the loan's case to match the assessment (in memory) and say what must be written. When a
    reversal moved the loan (``reversal``), a case closed within CaseReopenDays reopens; a case that
    closes now closes for ``closing`` (cured, or an arrangement's plan_completed or settled)."""
    before = store.case_state_of(loan)
    after, transitions = transition(
        loan.loan_id, before, a, settings.case_reopen_days if reversal else None, closing=closing
    )
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
    if after.bucket == CURRENT and before.case_id and loan.done_steps:  # no step done: no action to cancel
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
    store.set_case_state(loan, after)
    if after.case_id != before.case_id:
        store.reset_case_work(loan)  # strategy arm, steps done, escalation and promise belong to a case
    if any(t.kind == "case_reopened" for t in transitions):
        out.items.append(store.reopen_case(loan, a.local_day))
    return out


def send_at(run_at: datetime, tz: str, hour: int | None) -> datetime | None:
    """The instant of the local ``hour`` on the borrower's day of the run (None: no send hour)."""
    if hour is None:
        return None
    day = local_date(run_at, tz)
    return datetime(day.year, day.month, day.day, int(hour), tzinfo=zone(tz)).astimezone(UTC)


def apply_plans(settings: Settings, loan: LoanModel, plans: list[dict[str, Any]], source: str) -> Outcome:
    """Work the dispatcher wrote for this loan (PLAN entries): contacts become planned actions for
    their channel's sender, escalations raise the case's level. Each step once per case; the case
    records its strategy, version and arm (fixed for the case: planning reuses the recorded arm)."""
    out = Outcome()
    done = set(loan.done_steps or ())
    touched = False
    for row in plans:
        w = Work.from_row(row)
        p = w.proposal
        common: dict[str, Any] = {
            "case_id": p.case_id,
            "action_id": w.action_id,
            "bucket": w.bucket,
            "dpd": w.dpd,
            "strategy": p.strategy,
            "strategy_version": p.version,
            "variant": p.variant,
            "step": p.step_id,
            "amount_minor": to_minor(w.overdue, loan.currency),
            "key": w.action_id,
        }
        if p.case_id != loan.case_id:  # cured (or cured and relapsed) since the run planned it
            logger.info("dispatched work dropped: its case closed", extra={"loan_id": loan.loan_id, "step": p.step_id})
            continue
        if p.step_id in done:
            continue  # a redelivered PLAN entry
        done.add(p.step_id)
        touched = True
        cid = campaign_of(p)
        if cid is None:  # a campaign's contact leaves the case's strategy and arm as they are
            loan.strategy, loan.strategy_version, loan.variant = p.strategy, p.version, p.variant
            loan.segment = p.segment
        else:  # what the loan had paid and promised when the campaign first worked it (its progress)
            out.members.append((cid, loan.loan_id, loan.paid_total, loan.promise_id))
        action = PlannedAction(
            w.action_id,
            loan.loan_id,
            loan.borrower_id,
            p.case_id,
            p.channel,
            p.template,
            p.step_id,
            w.bucket,
            w.run_at.date(),
            p.strategy,
            p.version,
            p.variant,
            p.segment,
            p.why,
            p.expected_recovery,
            send_at(w.run_at, loan.tz, p.send_hour),
        )
        if p.kind == "escalate":
            loan.escalation = p.step_id.split(":", 1)[1]
            out.items.append(store.action_item(action, status="done"))
            out.facts.append(
                fact(
                    settings,
                    "case_escalated",
                    w.run_at,
                    loan,
                    source,
                    **common,
                    reason=f"escalated to {loan.escalation}: {p.why}",
                )
            )
        else:
            loan.last_contact_at = iso(w.run_at)
            out.to_enqueue.append(action)
            out.facts.append(
                fact(
                    settings,
                    "action_planned",
                    w.run_at,
                    loan,
                    source,
                    channel=p.channel,
                    **common,
                    reason=f"{p.segment}/{p.step_id}: {p.why}",
                )
            )
    if touched:
        loan.done_steps = done
        out.items.append(store.case_item(loan))
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
    if out.callbacks:
        send_callbacks(settings, out.callbacks)
    for cid, loan_id, paid, promise_id in out.members:
        campaign_store.remember_members(cid, [(loan_id, paid, promise_id)], clock_now())
    store.save_all(out.items)


def send_callbacks(settings: Settings, events: list[dict[str, Any]]) -> None:
    """Events for the platform onto the callback queue (delivered, signed and retried, by
    usecases/callbacks.py); a redelivered batch sends the same event ids again."""
    sqs = client("sqs")
    for i in range(0, len(events), 10):
        entries = [{"Id": str(n), "MessageBody": json.dumps(e)} for n, e in enumerate(events[i : i + 10])]
        resp = sqs.send_message_batch(QueueUrl=settings.callback_queue_url, Entries=entries)
        if resp.get("Failed"):
            raise RuntimeError(f"could not enqueue {len(resp['Failed'])} platform callback(s)")


def enqueue(settings: Settings, actions: list[PlannedAction]) -> None:
    """Each action onto its channel's queue, ten a request."""
    by_channel: dict[str, list[PlannedAction]] = {}
    for a in actions:
        by_channel.setdefault(a.channel or "", []).append(a)
    for channel, group in sorted(by_channel.items()):
        _send_batches(settings.queue_urls[channel], group)


def _send_batches(queue_url: str, actions: list[PlannedAction]) -> None:
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
        resp = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        if resp.get("Failed"):
            raise RuntimeError(f"could not enqueue {len(resp['Failed'])} action(s)")


def resolve_promise(settings: Settings, loan: LoanModel, a: Assessment, source: str) -> Outcome:
    """Settle the loan's open promise against its repayments and the date (before ``apply``, which
    clears a closed case's promise)."""
    out = Outcome()
    if not loan.promise_until or loan.promise_amount is None:
        return out
    state = PromiseState(date.fromisoformat(loan.promise_until), loan.promise_amount, loan.paid_at_promise or ZERO)
    result = resolve(state, loan.paid_total or ZERO, a.local_day, cured=a.bucket == CURRENT)
    if result is None:
        return out
    promise_id = loan.promise_id or ""
    out.facts.append(
        _promise_fact(
            settings,
            f"promise_{result}",
            a.as_of,
            loan,
            source,
            promise_id,
            state.amount,
            state.until,
            bucket=a.bucket,
            dpd=a.dpd,
        )
    )
    if result == "broken":
        loan.broken_promises = int(loan.broken_promises or 0) + 1
    loan.promise_until = loan.promise_amount = loan.promise_id = loan.paid_at_promise = None
    return out


def open_promises(settings: Settings, loan: LoanModel, promises: list[Promise], source: str) -> Outcome:
    """Promises made on calls (PTP entries): the latest one for the open case is the loan's promise."""
    out = Outcome()
    for p in promises:
        if p.case_id != loan.case_id or p.promise_id == loan.promise_id:
            continue  # made on a case that has closed since, or a redelivery
        loan.promise_until, loan.promise_amount = p.until.isoformat(), p.amount
        loan.promise_id, loan.paid_at_promise = p.promise_id, loan.paid_total or ZERO
        out.facts.append(
            _promise_fact(settings, "promise_made", p.made_at, loan, source, p.promise_id, p.amount, p.until)
        )
    return out


def _promise_fact(
    settings: Settings,
    kind: str,
    at: datetime,
    loan: LoanModel,
    source: str,
    promise_id: str,
    amount: Decimal,
    until: date,
    **kw: Any,
) -> Fact:
    """A promise's fact, on the loan's open case and its arm (before the case's state is cleared)."""
    return fact(
        settings,
        kind,
        at,
        loan,
        source,
        case_id=loan.case_id,
        action_id=promise_id,
        amount_minor=to_minor(amount, loan.currency),
        strategy=loan.strategy,
        strategy_version=loan.strategy_version,
        variant=loan.variant,
        reason=f"promised {amount} {loan.currency} by {until.isoformat()}",
        key=promise_id,
        **{"bucket": loan.bucket, **kw},
    )
