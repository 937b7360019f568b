"""The borrower's contact ledger in DynamoDB: the compliance guard's atomic reservation.

A reservation reads the ledger item (strongly consistent; the SMS sender reads it in the same
BatchGetItem as the rest of what it re-checks) and writes it back only if nobody wrote it meanwhile
(a condition on its version): one write per contact, plus its share of that read. Concurrent senders, retries and
duplicate deliveries therefore decide one after another on what is really booked, and no cap can be
exceeded; a sender that loses the race reads again and decides again.
"""

from __future__ import annotations

import json
from datetime import datetime

from pynamodb.exceptions import UpdateError

from ..domain.compliance import ContactEvent, ContactRequest, Holds, Ledger, Rules, Verdict, record_outcome, reserve
from ..domain.restrictions import Restrictions
from .models import ContactLedgerModel

ATTEMPTS = 8


class ReservationConflict(RuntimeError):
    pass


_written: dict[str, Ledger] = {}  # ledgers this container wrote last (a guess; the write's condition checks it)


def _remember(borrower_id: str, ledger: Ledger) -> None:
    if len(_written) > 1000:
        _written.clear()
    _written[borrower_id] = ledger


def _load(borrower_id: str) -> Ledger:
    try:
        return ledger_of(ContactLedgerModel.get(borrower_id, consistent_read=True))
    except ContactLedgerModel.DoesNotExist:
        return Ledger()


def ledger_of(item: ContactLedgerModel | None) -> Ledger:
    if item is None:
        return Ledger()
    events = tuple(
        ContactEvent(datetime.fromisoformat(at), ch, loan, act, out, num)
        for at, ch, loan, act, out, num in json.loads(item.events)
    )
    return Ledger(events, int(item.version))


def _save(borrower_id: str, ledger: Ledger, expected: int) -> bool:
    """Write the events (an update: the item's restrictions stay as they are), if still at ``expected``."""
    events = json.dumps(
        [[e.at.isoformat(), e.channel, e.loan_id, e.action_id, e.outcome, e.number] for e in ledger.events],
        separators=(",", ":"),
    )
    return _update(
        borrower_id,
        [ContactLedgerModel.events.set(events), ContactLedgerModel.version.set(ledger.version)],
        expected,
    )


def _update(borrower_id: str, actions: list, expected: int) -> bool:
    condition = (
        ContactLedgerModel.borrower_id.does_not_exist() if expected == 0 else ContactLedgerModel.version == expected
    )
    try:
        ContactLedgerModel(borrower_id).update(actions=actions, condition=condition)
        return True
    except UpdateError as e:
        if getattr(e, "cause_response_code", None) == "ConditionalCheckFailedException":
            return False
        raise


def restrictions_of(item: ContactLedgerModel | None) -> Restrictions:
    """The borrower's opt-outs and holds from sources other than the platform's files."""
    return Restrictions.from_json(item.restrictions if item is not None else None)


def set_restriction(borrower_id: str, kind: str, name: str, source: str, on: bool) -> Restrictions:
    """Set or lift one source's opt-out (``kind`` opt_out, ``name`` a channel) or hold on the borrower,
    e.g. a STOP reply (borrower) or a written cease request (operator). The platform's own entries come
    with its borrower records, never through here. The version moves, so a reservation deciding at the
    same moment decides again with it."""
    if source == "platform":
        raise ValueError("the platform's opt-outs and holds come with its borrower records")
    for _ in range(ATTEMPTS):
        try:
            item = ContactLedgerModel.get(borrower_id, consistent_read=True)
        except ContactLedgerModel.DoesNotExist:
            item = None
        version = int(item.version) if item is not None else 0
        new = restrictions_of(item).with_entry(kind, name, source, on)
        if _update(
            borrower_id,
            [ContactLedgerModel.restrictions.set(new.to_json()), ContactLedgerModel.version.set(version + 1)],
            version,
        ):
            _written.pop(borrower_id, None)
            return new
    raise ReservationConflict(f"contact ledger of {borrower_id} kept changing; retry later")


def reserve_contact(req: ContactRequest, rules: Rules, holds: Holds, known: Ledger | None = None) -> Verdict:
    """``known``: the ledger as just read with the rest of the send context (saves a read); if it has
    changed since, the conditional write fails and the ledger is read again."""
    for _ in range(ATTEMPTS):
        ledger = known if known is not None else _load(req.borrower_id)
        known = None
        verdict, new = reserve(ledger, req, rules, holds)
        if new is None or _save(req.borrower_id, new, ledger.version):
            if new is not None:
                _remember(req.borrower_id, new)
            return verdict
    raise ReservationConflict(f"contact ledger of {req.borrower_id} kept changing; retry later")


#: a call's result as the voice caps count it. Every placed call is an attempt (Regulation F counts
#: each one towards 7 in 7 days; booked when reserved); busy, voicemail and no answer stay attempts (a
#: message left is not a conversation); a result the dialer does not report counts as a conversation,
#: the strictest reading.
CALL_OUTCOMES = {
    "no_answer": "attempt",
    "busy": "attempt",
    "voicemail": "attempt",
    "connected": "connected",
    "conversation": "conversation",
    "promise": "conversation",
    "unreported": "conversation",
}


def record_call(borrower_id: str, action_id: str, result: str) -> None:
    """Record a call's result on the borrower's ledger (same optimistic concurrency as reserving).
    Idempotent: a result already on the ledger is not written again."""
    outcome = CALL_OUTCOMES.get(result)
    if outcome is None:
        raise ValueError(f"unknown call result {result!r} (known: {', '.join(CALL_OUTCOMES)})")
    if outcome == "attempt":
        return  # booked as an attempt when it was reserved
    known = _written.pop(borrower_id, None)  # as this container last wrote it: usually still current
    for _ in range(ATTEMPTS):
        ledger = known if known is not None else _load(borrower_id)
        known = None
        booked = [e for e in ledger.events if e.action_id == action_id]
        if not booked:
            raise LookupError(f"call {action_id} was never reserved on the borrower's contact ledger")
        if all(e.outcome == outcome for e in booked):
            return
        if _save(borrower_id, record_outcome(ledger, action_id, outcome), ledger.version):
            return
    raise ReservationConflict(f"contact ledger of {borrower_id} kept changing; retry later")
