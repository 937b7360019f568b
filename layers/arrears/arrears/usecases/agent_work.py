"""What an agent does on a case besides notes, promises and holds: a call of their own, and (for a
supervisor or admin) the borrower's personal data unmasked with a reason.

- A call is reserved on the borrower's contact ledger through the compliance guard before the number
  is shown: it counts in the same caps as the dialer's calls (Regulation F's 7 in 7 days, China's
  daily limits), and it is refused (409, naming the rule and when it would be allowed) when a rule
  forbids it: quiet hours, a cease-contact or attorney hold, an opt-out, a cap. The agent then
  records its result (no_answer, busy, voicemail, connected, conversation, promise with its date and
  amount): on the ledger (a conversation counts), as a ``call_outcome`` fact, and a promise as the
  loan's ``PTP#`` entry.
- Unmasking returns the borrower's name, phone, email, ID number and address, audited with the reason
  given.

Neither answer stored for a repeated Idempotency-Key carries personal data: it is read afresh.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ..adapters.contact_ledger import (
    CALL_OUTCOMES,
    ReservationConflict,
    ledger_of,
    record_call,
    reserve_contact,
    restrictions_of,
)
from ..adapters.models import BorrowerModel, ContactLedgerModel, ContactModel, LoanModel
from ..domain import access
from ..domain.api import ApiError
from ..domain.compliance import ContactRequest, rules_for
from ..domain.facts import Fact
from ..domain.timeutil import iso
from .operations import Incoming, OpsSettings, Write, _digest, _key, _loan, body_of, promise_write, write_once
from .recording import fact as loan_fact
from .send import contact_columns, holds_of, number_key
from .webhook import Answer

RESULTS = tuple(r for r in CALL_OUTCOMES if r != "unreported")
PERSONAL = ("name", "phone", "email", "id_number", "address", "wechat_openid")


def _contact(borrower_id: str) -> ContactModel:
    try:
        return ContactModel.get(borrower_id, consistent_read=True)
    except ContactModel.DoesNotExist:
        raise ApiError(409, f"borrower {borrower_id[:64]!r} has no contact points on file") from None


def reserve_call(p: access.Principal, incoming: Incoming, loan_id: str, s: OpsSettings, now: datetime) -> Answer:
    """The agent's call reserved through the guard; the answer carries the number to dial."""
    holder: dict[str, str] = {}

    def build() -> Write:
        body_of(incoming.body, (), empty_ok=True)
        loan = _loan(loan_id)
        if not loan.case_id:
            raise ApiError(409, f"loan {loan_id[:128]!r} has no open case: no call to make")
        try:
            profile = BorrowerModel.get(loan.borrower_id, consistent_read=True)
        except BorrowerModel.DoesNotExist:
            raise ApiError(409, f"borrower {loan.borrower_id[:64]!r} is not on file") from None
        contact = _contact(loan.borrower_id)
        try:
            ledger = ContactLedgerModel.get(loan.borrower_id, consistent_read=True)
        except ContactLedgerModel.DoesNotExist:
            ledger = None
        call_id = f"agent-{_digest(p.user + '|' + _key(incoming))}"
        req = ContactRequest(
            profile.borrower_id, loan_id, call_id, "voice", now, (profile.timezone,), number=number_key(contact.phone)
        )
        try:
            verdict = reserve_contact(
                req,
                rules_for(profile.jurisdiction),
                holds_of(profile, loan, restrictions_of(ledger)),
                known=ledger_of(ledger),
            )
        except ReservationConflict as e:
            raise ApiError(409, f"{e}") from None
        if not verdict.allowed:
            later = f"; allowed from {iso(verdict.retry_at)}" if verdict.retry_at else ""
            raise ApiError(409, f"the compliance guard refuses the call: {verdict.rule}: {verdict.reason}{later}")
        holder["borrower_id"] = loan.borrower_id
        body = {"loan_id": loan_id, "call_id": call_id, "guard": "passed: " + ", ".join(verdict.passed), "by": p.user}
        sent = _agent_fact(  # the agent's contact, as a sender's is told (the violations query reads both)
            "action_sent",
            p,
            loan,
            call_id,
            "guard passed: " + ", ".join(verdict.passed),
            s,
            now,
            bucket=loan.bucket,
            step="agent_call",
            **contact_columns(profile, "voice", loan.currency),
        )
        return Write(body, [], {"call_id": call_id, "number_shown": True}, loan=loan, facts=[sent])

    answer = write_once(p, incoming, "POST /v1/ops/loans/{loan_id}/calls", s, now, build)
    return _with_number(answer, holder.get("borrower_id") or _loan(loan_id).borrower_id)


def _with_number(answer: Answer, borrower_id: str) -> Answer:
    """The number to dial, read afresh (never stored with the answer)."""
    if answer.status != 202:
        return answer
    body = json.loads(answer.body)
    body["number"] = _contact(borrower_id).phone
    return Answer(202, json.dumps(body, ensure_ascii=False))


def record_result(
    p: access.Principal, incoming: Incoming, loan_id: str, call_id: str, s: OpsSettings, now: datetime
) -> Answer:
    """The result of an agent's reserved call (and, for ``promise``, the promise's until and amount)."""

    def build() -> Write:
        row = body_of(incoming.body, ("result", "until", "amount"))
        result = row.get("result")
        if result not in RESULTS:
            raise ApiError(400, f"result must be one of {', '.join(RESULTS)}", "result")
        loan = _loan(loan_id)
        writes: list[dict[str, Any]] = []
        extra: dict[str, Any] = {}
        if result == "promise":
            if not loan.case_id:
                raise ApiError(409, f"loan {loan_id[:128]!r} has no open case: nothing is owed to promise")
            put, _promised, extra = promise_write(p, loan, row, f"{call_id}-promise", s, now)
            writes.append(put)
        elif "until" in row or "amount" in row:
            raise ApiError(
                400, "until and amount go with the result promise only", "until" if "until" in row else "amount"
            )
        if not _reserved(loan.borrower_id, call_id):
            raise ApiError(404, f"no call {call_id[:64]!r} reserved for this borrower")
        try:
            record_call(loan.borrower_id, call_id, str(result))
        except LookupError:
            raise ApiError(404, f"no call {call_id[:64]!r} reserved for this borrower") from None
        except ReservationConflict as e:
            raise ApiError(409, str(e)) from None
        fact = _agent_fact("call_outcome", p, loan, call_id, str(result), s, now)
        body = {"loan_id": loan_id, "call_id": call_id, "result": result, **({"promise": extra} if extra else {})}
        return Write(body, writes, {"result": result, **extra}, loan=loan, facts=[fact])

    return write_once(p, incoming, "POST /v1/ops/loans/{loan_id}/calls/{call_id}/result", s, now, build)


def _agent_fact(
    kind: str,
    p: access.Principal,
    loan: LoanModel,
    call_id: str,
    reason: str,
    s: OpsSettings,
    now: datetime,
    **more: Any,
) -> Fact:
    """A fact about an agent's call on a loan (source ``operator/<role>``, the agent named)."""
    return loan_fact(
        s,
        kind,
        now,
        loan,
        f"operator/{p.role}",
        case_id=loan.case_id,
        agent=p.user,
        action_id=call_id,
        channel="voice",
        reason=reason,
        key=f"{call_id}|{'sent' if kind == 'action_sent' else 'outcome'}",
        **more,
    )


def _reserved(borrower_id: str, call_id: str) -> bool:
    try:
        ledger = ContactLedgerModel.get(borrower_id, consistent_read=True)
    except ContactLedgerModel.DoesNotExist:
        return False
    return any(e.action_id == call_id for e in ledger_of(ledger).events)


def unmask(p: access.Principal, incoming: Incoming, borrower_id: str, s: OpsSettings, now: datetime) -> Answer:
    """The borrower's personal data, for a reason (10-500 characters), audited; the stored answer
    names the fields shown, never their values."""

    def build() -> Write:
        reason = body_of(incoming.body, ("reason",)).get("reason")
        if not isinstance(reason, str) or not 10 <= len(reason.strip()) <= 500:
            raise ApiError(400, "reason must say why, in 10 to 500 characters (it is audited)", "reason")
        c = _contact(borrower_id)
        shown = [f for f in PERSONAL if getattr(c, f, None)]
        body = {"borrower_id": borrower_id, "unmasked": shown, "by": p.user}
        return Write(body, [], {"reason": reason.strip(), "fields": shown}, target={"borrower_id": borrower_id})

    answer = write_once(p, incoming, "POST /v1/ops/borrowers/{borrower_id}/unmask", s, now, build)
    if answer.status != 202:
        return answer
    body: dict[str, Any] = json.loads(answer.body)
    c = _contact(borrower_id)
    body["personal_data"] = {f: getattr(c, f) for f in body["unmasked"] if getattr(c, f, None)}
    return Answer(202, json.dumps(body, ensure_ascii=False))
