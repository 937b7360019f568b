"""Send one planned SMS action, at most once, after re-checking the loan and the borrower."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any, NamedTuple

from ..adapters import store
from ..adapters.clients import client
from ..adapters.contact_ledger import ledger_of, reserve_contact
from ..adapters.facts_sink import FactSink
from ..adapters.models import BorrowerModel, LoanModel
from ..config import Settings
from ..domain.compliance import ContactRequest, Holds, rules_for
from ..domain.delinquency import assess
from ..domain.money import to_minor
from ..domain.strategy import SendDecision, decide_send, render
from ..domain.timeutil import iso
from ..observability import logger, metrics
from .recording import fact

SOURCE = "sms-sender"


FIELDS = ("action_id", "loan_id", "case_id", "channel", "template", "borrower_id")


class ActionMessage(NamedTuple):
    action_id: str
    loan_id: str
    case_id: str
    channel: str
    template: str
    borrower_id: str

    @classmethod
    def parse(cls, body: object) -> ActionMessage:
        if not isinstance(body, dict):
            raise ValueError("action message is not a JSON object")
        missing = [k for k in FIELDS if not body.get(k)]
        if missing:
            raise ValueError(f"action message lacks {', '.join(missing)}")
        return cls(**{k: str(body[k]) for k in FIELDS})


class NotYetSaved(RuntimeError):
    pass


class Deferred(Exception):
    """The guard allows this contact later: the message is to come back at ``retry_at``."""

    def __init__(self, retry_at: datetime, reason: str) -> None:
        super().__init__(f"deferred until {iso(retry_at)}: {reason}")
        self.retry_at = retry_at


def holds_of(profile: BorrowerModel, loan: LoanModel) -> Holds:
    on_borrower, on_loan = set(profile.holds or ()), set(loan.holds or ())
    return Holds(
        opt_outs=frozenset(profile.opt_out or ()),
        deceased="deceased" in on_borrower,
        bankrupt="bankrupt" in on_borrower,
        cease_contact="cease_contact" in on_borrower,
        attorney="attorney" in on_borrower,
        dispute="dispute" in on_loan,
        hardship="hardship" in on_loan,
        paused="paused" in on_loan,
        promise_until=date.fromisoformat(loan.promise_until) if loan.promise_until else None,
    )


def contexts(messages: list[ActionMessage]) -> dict[str, store.SendContext]:
    return store.send_contexts([(m.loan_id, m.action_id, m.borrower_id, m.case_id) for m in messages])


def _guard(
    msg: ActionMessage,
    profile: BorrowerModel,
    loan: LoanModel,
    ctx: store.SendContext,
    now: datetime,
    record: Callable[..., None],
) -> SendDecision:
    """The compliance guard at send time: reserve the contact on the borrower's ledger, or say why
    not; a contact allowed later is recorded as deferred and comes back then."""
    verdict = reserve_contact(
        ContactRequest(profile.borrower_id, msg.loan_id, msg.action_id, msg.channel, now, (profile.timezone,)),
        rules_for(profile.jurisdiction),
        holds_of(profile, loan),
        known=ledger_of(ctx.ledger),
    )
    if verdict.allowed:  # the reason says which rules it passed: every contact can be explained
        return SendDecision("send", "passed: " + ", ".join(verdict.passed))
    why = f"{verdict.rule}: {verdict.reason}"
    if verdict.retry_at is not None:
        record(
            "action_deferred",
            key=f"{msg.action_id}|{iso(verdict.retry_at)}",
            reason=f"{why}; retry at {iso(verdict.retry_at)}",
        )
        metrics.add_metric(name="ActionsDeferred", unit="Count", value=1)
        raise Deferred(verdict.retry_at, why)
    return SendDecision("block", why)


def send_action(settings: Settings, msg: ActionMessage, ctx: store.SendContext, now: datetime, sink: FactSink) -> str:
    """Returns the action's final status. The action is claimed (planned -> sent, a conditional write)
    before SNS is called, and given back (sent -> planned) only if the call fails, so a redelivered or
    concurrent message can never publish twice. A crash between the claim and the call loses that
    one message rather than risking a second contact: at most once, by design."""
    action, loan, profile, contact = ctx.action, ctx.loan, ctx.borrower, ctx.contact
    if action is None:
        raise LookupError(f"action {msg.action_id} not found")
    if action.status != "planned":
        logger.info("action already handled", extra={"action_id": msg.action_id, "status": action.status})
        return action.status or ""
    if loan is not None and loan.case_id != msg.case_id and (ctx.case is None or ctx.case.status != "closed"):
        # the planner enqueues before it saves the loan: its case is not visible yet, not closed
        raise NotYetSaved(f"case of action {msg.action_id} not saved yet; retried")

    def record(kind: str, key: str = msg.action_id, **kw: Any) -> None:
        assert loan is not None
        sink.add(
            fact(
                settings,
                kind,
                now,
                loan,
                SOURCE,
                case_id=msg.case_id,
                action_id=msg.action_id,
                channel=msg.channel,
                key=key,
                **kw,
            )
        )

    decision = decide_send(
        action_case_id=msg.case_id,
        channel=msg.channel,
        loan_case_id=loan.case_id if loan else None,
        loan_bucket=loan.bucket if loan else "M0",
        has_address=bool(contact and contact.phone),
    )
    if decision.verdict == "send" and (loan is None or profile is None or contact is None):
        decision = SendDecision("block", "borrower or loan not found")
    if decision.verdict == "send" and loan is not None and profile is not None:
        decision = _guard(msg, profile, loan, ctx, now, record)
    if decision.verdict != "send" or loan is None or contact is None:
        status = "cancelled" if decision.verdict == "cancel" else "blocked"
        reason = decision.reason or status
        if store.move_action(msg.loan_id, msg.action_id, "planned", status, reason=reason) and loan is not None:
            record(f"action_{status}", reason=reason)
        metrics.add_metric(name=f"Actions{status.title()}", unit="Count", value=1)
        return status
    if not store.move_action(msg.loan_id, msg.action_id, "planned", "sent", sent_at=now):
        return "sent"  # another delivery of this message claimed it first
    overdue = assess(store.unpaid_of(loan), loan.tz, now, settings.grace_days, settings.buckets).overdue
    body = render(msg.template, bucket=loan.bucket, overdue=str(overdue), currency=loan.currency)
    try:
        client("sns").publish(
            PhoneNumber=contact.phone,
            Message=body,
            MessageAttributes={"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}},
        )
    except Exception as e:
        store.move_action(msg.loan_id, msg.action_id, "sent", "planned")  # not sent: safe to retry
        code = getattr(e, "response", {}).get("Error", {}).get("Code", type(e).__name__)
        # SNS errors quote the phone number: never let that reach a log
        raise RuntimeError(f"SNS publish failed for action {msg.action_id}: {code}") from None
    record(
        "action_sent",
        reason=f"{action.step or msg.template} ({action.strategy} v{action.strategy_version}); {decision.reason}",
        bucket=loan.bucket,
        amount_minor=to_minor(overdue, loan.currency),
        strategy=action.strategy,
        strategy_version=action.strategy_version,
    )
    metrics.add_metric(name="SmsSent", unit="Count", value=1)
    logger.info("sms sent", extra={"action_id": msg.action_id, "loan_id": msg.loan_id})
    return "sent"
