"""Send one planned action on its channel, at most once, after re-checking the loan and the borrower
and reserving the contact with the compliance guard."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, NamedTuple

from pynamodb.exceptions import PutError

from ..adapters import campaign_store, store
from ..adapters.channels import ChannelError, Message, Sender
from ..adapters.contact_ledger import CALL_OUTCOMES, ledger_of, record_call, reserve_contact, restrictions_of
from ..adapters.facts_sink import FactSink
from ..adapters.models import BorrowerModel, CollectionModel, LedgerModel, LoanModel
from ..adapters.settings_store import channel_costs_cached
from ..config import Settings
from ..domain import DATA_ERRORS
from ..domain.campaigns import campaign_id_of
from ..domain.compliance import ContactRequest, Holds, rules_for
from ..domain.costs import cost_micros
from ..domain.delinquency import assess
from ..domain.money import to_minor
from ..domain.promises import promise_from_call
from ..domain.restrictions import Restrictions, effective
from ..domain.strategy import SendDecision, decide_send
from ..domain.templates import LINK_TEMPLATES, render
from ..domain.timeutil import iso, parse_instant
from ..observability import logger, metrics
from .recording import fact


def number_key(phone: str) -> str:
    """What the contact ledger keeps of a dialled number: enough to count calls to it, not the number."""
    return hashlib.sha256(f"arrears-number|{phone}".encode()).hexdigest()[:20]


def source_of(channel: str) -> str:
    return f"{channel}-sender"


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


def holds_of(profile: BorrowerModel, loan: LoanModel, others: Restrictions | None = None) -> Holds:
    """What stops contact, from every source: the platform's entries on the borrower item, the others'
    (borrower, operator, provider) on the contact ledger, and the loan's holds in force."""
    others = others or Restrictions()
    on_borrower = effective(profile.holds, others.names("holds"))
    on_loan = set(loan.holds or ())
    return Holds(
        opt_outs=effective(profile.opt_out, others.names("opt_out")),
        deceased="deceased" in on_borrower,
        bankrupt="bankrupt" in on_borrower,
        cease_contact="cease_contact" in on_borrower,
        attorney="attorney" in on_borrower,
        dispute="dispute" in on_loan,
        hardship="hardship" in on_loan,
        paused="paused" in on_loan,
        promise_until=date.fromisoformat(loan.promise_until) if loan.promise_until else None,
    )


def contact_columns(profile: BorrowerModel | None, channel: str, currency: str) -> dict[str, Any]:
    """What a contact's fact says of it beyond the action: the candidate zones and jurisdiction the guard
    checked it against (its ``occurred_at`` is the claim's instant), and its cost (``domain/costs.py``)."""
    return {
        "zones": profile.timezone if profile else None,
        "jurisdiction": profile.jurisdiction if profile else None,
        "cost_micros": cost_micros(channel, currency, channel_costs_cached()),
    }


def contexts(messages: list[ActionMessage]) -> dict[str, store.SendContext]:
    return store.send_contexts([(m.loan_id, m.action_id, m.borrower_id, m.case_id) for m in messages])


def _guard(
    msg: ActionMessage,
    profile: BorrowerModel,
    loan: LoanModel,
    ctx: store.SendContext,
    now: datetime,
    record: Callable[..., None],
    number: str | None,
) -> SendDecision:
    """The compliance guard at send time: reserve the contact on the borrower's ledger, or say why
    not; a contact allowed later is recorded as deferred and comes back then. An offer's link (a plan
    or settlement the borrower asked for) is no dunning: an open promise does not hold it back; every
    other rule (hours, caps, opt-outs, holds) applies."""
    holds = holds_of(profile, loan, restrictions_of(ctx.ledger))
    if msg.template in LINK_TEMPLATES:
        holds = holds._replace(promise_until=None)
    verdict = reserve_contact(
        ContactRequest(
            profile.borrower_id, msg.loan_id, msg.action_id, msg.channel, now, (profile.timezone,), number=number
        ),
        rules_for(profile.jurisdiction),
        holds,
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


def send_action(
    settings: Settings,
    sender: Sender,
    msg: ActionMessage,
    ctx: store.SendContext,
    now: datetime,
    sink: FactSink,
) -> str:
    """Returns the action's final status. The action is claimed (planned -> sent, a conditional write)
    before the provider is called, and given back (sent -> planned) only if the call fails, so a
    redelivered or concurrent message can never contact twice. A crash between the claim and the call
    loses that one message rather than risking a second contact: at most once, by design. A call's
    result is kept on the action before it is recorded anywhere else, so a redelivery finishes a
    recording that failed (status ``called``) without calling again."""
    action, loan, profile, contact = ctx.action, ctx.loan, ctx.borrower, ctx.contact
    if action is None:
        raise LookupError(f"action {msg.action_id} not found")

    def record(kind: str, key: str = msg.action_id, at: datetime | None = None, **kw: Any) -> None:
        assert loan is not None
        sink.add(
            fact(
                settings,
                kind,
                at or now,
                loan,
                source_of(msg.channel),
                case_id=msg.case_id,
                action_id=msg.action_id,
                channel=msg.channel,
                strategy=action.strategy,
                strategy_version=action.strategy_version,
                variant=action.variant,
                step=action.step,
                key=key,
                **kw,
            )
        )

    cid = campaign_id_of(action.strategy)
    early = _before_sending(settings, msg, action, ctx, cid, now, record)
    if early is not None:
        return early
    if action.not_before and now < parse_instant(action.not_before):  # the bandit's send hour
        raise Deferred(parse_instant(action.not_before), "its send hour")
    decision = decide_send(
        action_case_id=msg.case_id,
        channel=msg.channel,
        loan_case_id=loan.case_id if loan else None,
        loan_bucket=loan.bucket if loan else "M0",
        has_address=bool(contact and sender.address(contact)),
    )
    if decision.verdict == "send" and (loan is None or profile is None or contact is None):
        decision = SendDecision("block", "borrower or loan not found")
    content: tuple[Any, str | None] | str = "not prepared"
    if decision.verdict == "send" and loan is not None and profile is not None and contact is not None:
        content = _content(settings, msg, loan, now, action.link)  # a str: why the loan's data cannot be rendered
        number = number_key(contact.phone) if msg.channel == "voice" else None
        decision = (
            SendDecision("block", content)
            if isinstance(content, str)
            else _guard(msg, profile, loan, ctx, now, record, number)
        )
    if decision.verdict != "send" or loan is None or contact is None:
        status = "cancelled" if decision.verdict == "cancel" else "blocked"
        reason = decision.reason or status
        moved = store.move_action(msg.loan_id, msg.action_id, "planned", status, reason=reason, claim=uuid.uuid4().hex)
        if moved and loan is not None:
            record(f"action_{status}", reason=reason)
        _campaign_count(cid, status, reason, moved=moved)
        metrics.add_metric(name=f"Actions{status.title()}", unit="Count", value=1)
        return status
    if not store.move_action(msg.loan_id, msg.action_id, "planned", "sent", sent_at=now, claim=uuid.uuid4().hex):
        return "sent"  # another delivery of this message claimed it first
    assert isinstance(content, tuple)
    a, body = content
    to = sender.address(contact) or ""
    try:
        delivery = sender.send(
            to, Message(msg.action_id, msg.loan_id, msg.template, body, _subject(loan), now), contact
        )
    except ChannelError as e:
        return _provider_failed(msg, e, record)
    record(
        "action_sent",
        reason=f"{action.segment}/{action.step} ({action.strategy} v{action.strategy_version} {action.variant}): "
        f"{action.why}; guard {decision.reason}",
        bucket=loan.bucket,
        dpd=a.dpd,
        amount_minor=to_minor(a.overdue, loan.currency),
        **contact_columns(profile, msg.channel, loan.currency),
    )
    _campaign_count(cid, "sent", None, delivery.outcome)
    metrics.add_metric(name=f"{msg.channel.title()}Sent", unit="Count", value=1)
    logger.info("contact sent", extra={"action_id": msg.action_id, "loan_id": msg.loan_id, "channel": msg.channel})
    if delivery.outcome is not None:
        result = UNREPORTED if delivery.assumed else delivery.outcome
        _call_result(settings, msg, loan, result, delivery.message_id, now, record)
    return "sent"


def _before_sending(
    settings: Settings,
    msg: ActionMessage,
    action: CollectionModel,
    ctx: store.SendContext,
    cid: str | None,
    now: datetime,
    record: Callable[..., None],
) -> str | None:
    """The action's final status when it must not be sent at all, before any check of the contact."""
    loan = ctx.loan
    if action.status != "planned":  # claimed before: by another delivery, or by this one's first try
        return _claimed_before(settings, msg, action, loan, record)
    if loan is not None and loan.case_id != msg.case_id and (ctx.case is None or ctx.case.status != "closed"):
        # the planner enqueues before it saves the loan: its case is not visible yet, not closed
        raise NotYetSaved(f"case of action {msg.action_id} not saved yet; retried")
    if _campaign_stopped(cid, msg, now, record, loan):
        return "cancelled"
    lapsed = _offer_lapsed(action, now)
    if lapsed:
        _cancel(msg, lapsed, record, loan)
        return "cancelled"
    return None


def _cancel(msg: ActionMessage, reason: str, record: Callable[..., None], loan: LoanModel | None) -> None:
    """The action cancelled (once) with why."""
    moved = store.move_action(msg.loan_id, msg.action_id, "planned", "cancelled", reason=reason, claim=uuid.uuid4().hex)
    if moved and loan is not None:
        record("action_cancelled", reason=reason)


def _offer_lapsed(action: CollectionModel, now: datetime) -> str | None:
    """Why an offer's link must not go out now (withdrawn, accepted, locked, expired), or None: a link
    put off by the guard may come back after its offer changed."""
    if action.strategy != "offer" or not (action.step or "").startswith("offer:"):
        return None
    try:
        offer = CollectionModel.get(action.loan_id, f"OFFER#{str(action.step)[6:]}", consistent_read=True)
    except CollectionModel.DoesNotExist:
        return "its offer is gone: the link is not sent"
    if offer.status != "offered":
        return f"its offer is {offer.status}: the link is not sent"
    if offer.expires_at and iso(now) >= offer.expires_at:
        return "its offer's link has expired: it is not sent"
    return None


def _campaign_stopped(
    cid: str | None, msg: ActionMessage, now: datetime, record: Callable[..., None], loan: LoanModel | None
) -> bool:
    """A paused, cancelled or ended campaign sends nothing more, its queued messages included: the
    action is cancelled (once) with why."""
    if cid is None:
        return False
    campaign = campaign_store.get(cid)
    if campaign is not None and campaign[0].live(now):
        return False
    state = "gone" if campaign is None else campaign[0].status
    reason = f"campaign {cid} is {'over' if state == 'running' else state}: its queued contacts are dropped"
    _cancel(msg, reason, record, loan)
    return True


def _campaign_count(
    cid: str | None, status: str, reason: str | None, outcome: str | None = None, moved: bool = True
) -> None:
    """The campaign's progress counters: sent (and connected calls), blocked by the guard's rule."""
    if cid is None or not moved or status == "cancelled":
        return
    if status == "blocked":
        campaign_store.count(cid, "blocked", rule=(reason or "").split(":", 1)[0].strip() or "blocked")
        return
    campaign_store.count(cid, "sent")
    if outcome in ("connected", "conversation", "promise"):
        campaign_store.count(cid, "connected")


def _content(
    settings: Settings, msg: ActionMessage, loan: LoanModel, now: datetime, link: str | None = None
) -> tuple[Any, str | None] | str:
    """Today's assessment and the message text, or why the loan's data cannot give them."""
    try:
        a = assess(store.unpaid_of(loan), loan.tz, now, settings.grace_days, settings.buckets)
        if msg.channel == "voice":
            return a, None
        return a, render(msg.template, overdue=str(a.overdue), currency=loan.currency, dpd=a.dpd, link=link)
    except DATA_ERRORS as e:
        return f"cannot be sent: {type(e).__name__}: {e}"[:300]


def _provider_failed(msg: ActionMessage, e: ChannelError, record: Callable[..., None]) -> str:
    """Give the claim back only when the contact surely did not leave (then SQS retries it); a
    refusal blocks the action; an unknown result is never retried (at most once)."""
    if e.outcome == "retry":
        store.move_action(msg.loan_id, msg.action_id, "sent", "planned")
        raise ChannelError(f"action {msg.action_id}: {e}") from None
    status = "blocked" if e.outcome == "refused" else "unknown"
    reason = f"{e} ({'refused by the provider' if status == 'blocked' else 'may have been delivered: not retried'})"
    store.move_action(msg.loan_id, msg.action_id, "sent", status, reason=reason)
    record("action_blocked", reason=reason)
    metrics.add_metric(name="ContactsFailed", unit="Count", value=1)
    logger.warning("contact failed", extra={"action_id": msg.action_id, "outcome": e.outcome})
    return status


def _subject(loan: LoanModel) -> str:
    return "还款提醒" if (loan.language or "").startswith("zh") else "Your loan payment is past due"


#: a placed call whose result is kept on the action item but not yet on the contact ledger and the
#: loan's ledger: a redelivery of its message finishes the recording (the call is never placed again)
CALLED = "called"
#: the result kept for a call whose dialer reports none (Connect, for now)
UNREPORTED = "unreported"


def _call_result(
    settings: Settings,
    msg: ActionMessage,
    loan: LoanModel,
    result: str,
    message_id: str | None,
    at: datetime,
    record: Callable[..., None],
) -> None:
    """Keep the call's result on the claimed action first (one write), then record it. A result that
    changes the contact ledger or makes a promise leaves the action ``called`` until both are
    written, so a failure in between is finished by the message's redelivery; an unanswered attempt
    (booked as one when reserved) needs no other write and the action stays ``sent``."""
    pending = CALL_OUTCOMES.get(result) != "attempt"  # a promise is a conversation; unknown: stays called
    store.move_action(
        msg.loan_id, msg.action_id, "sent", CALLED if pending else "sent", message_id=message_id, outcome=result
    )
    _record_call_result(settings, msg, loan, result, at, record)
    if pending:
        store.move_action(msg.loan_id, msg.action_id, CALLED, "sent")


def _claimed_before(
    settings: Settings,
    msg: ActionMessage,
    action: CollectionModel,
    loan: LoanModel | None,
    record: Callable[..., None],
) -> str:
    """Nothing is sent again. One thing may be left to do: a call placed by an earlier delivery whose
    result was kept on the action but not recorded; record it now, as of the call's time."""
    if action.status != CALLED:
        logger.info("action already handled", extra={"action_id": msg.action_id, "status": action.status})
        return action.status or ""
    if loan is None or not action.outcome or not action.sent_at:
        raise LookupError(f"call {msg.action_id}: its loan or its result is missing, cannot record it")
    _record_call_result(settings, msg, loan, action.outcome, datetime.fromisoformat(action.sent_at), record)
    store.move_action(msg.loan_id, msg.action_id, CALLED, "sent")
    logger.info("call result recorded on redelivery", extra={"action_id": msg.action_id})
    return "sent"


def _record_call_result(
    settings: Settings,
    msg: ActionMessage,
    loan: LoanModel,
    result: str,
    at: datetime,
    record: Callable[..., None],
) -> None:
    """A call's result: on the borrower's contact ledger (connected calls and conversations count
    towards the voice caps), as a fact, and a promise to pay as an entry in the loan's ledger (the
    ledger stream opens it on the loan; the guard then holds dunning until its date). A result the
    dialer does not report (Connect, for now) is booked on the ledger as the strictest (a
    conversation), with no fact and no promise. Each step may be repeated by a redelivery: the
    ledger is not written twice with one result, the fact has its own id, the promise is put once."""
    record_call(msg.borrower_id, msg.action_id, result)
    if result != UNREPORTED:
        record("call_outcome", key=f"{msg.action_id}|outcome", at=at, reason=result)
    if result == "promise":
        overdue = assess(store.unpaid_of(loan), loan.tz, at, settings.grace_days, settings.buckets).overdue
        p = promise_from_call(msg.action_id, msg.case_id, at, loan.tz, overdue)
        try:  # once: a second write would reach the ledger stream as another promise
            entry = LedgerModel(msg.loan_id, f"PTP#{p.promise_id}", run_at=iso(at), promise=p.to_json())
            entry.save(condition=LedgerModel.entry.does_not_exist())
        except PutError as e:
            if getattr(e, "cause_response_code", None) != "ConditionalCheckFailedException":
                raise
