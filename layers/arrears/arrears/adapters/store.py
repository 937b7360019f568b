"""DynamoDB access for the use cases (the only place that knows tables and keys)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

from pynamodb.exceptions import PutError, UpdateError

from ..domain.delinquency import CaseState, ClosedCase, Transition
from ..domain.ledger import Installment, Repayment, Unpaid
from ..domain.timeutil import iso, parse_instant
from .models import BorrowerModel, CollectionModel, ContactLedgerModel, ContactModel, LedgerModel, LoanModel

if TYPE_CHECKING:
    from ..domain.strategy import PlannedAction

BATCH_GET = 100


def shard_of(loan_id: str, shard_count: int) -> str:
    return f"{int(hashlib.sha256(loan_id.encode()).hexdigest()[:8], 16) % shard_count:04d}"


def _condition_failed(e: Exception) -> bool:
    cause = getattr(e, "cause_response_code", None)
    return cause == "ConditionalCheckFailedException"


# --- ledger and loan state ---------------------------------------------------------------------


class LoanLedger(NamedTuple):
    header: LedgerModel | None
    installments: list[Installment]
    repayments: list[Repayment]  # every payment, reversed or not
    reversed_ids: set[str]  # the payments reversed (REV# entries)


def ledger(loan_id: str) -> LoanLedger:
    header = None
    installments: list[Installment] = []
    repayments: list[Repayment] = []
    reversed_ids: set[str] = set()
    for e in LedgerModel.query(loan_id, consistent_read=True):  # must see the write that triggered us
        if e.entry == "LOAN":
            header = e
        elif e.entry.startswith("INST#"):
            installments.append(
                Installment(
                    int(e.seq or 0),
                    date.fromisoformat(e.due_date or ""),
                    e.principal_due or Decimal(0),
                    e.interest_due or Decimal(0),
                    e.fee_due or Decimal(0),
                )
            )
        elif e.entry.startswith("PAY#"):
            repayments.append(Repayment(e.payment_id or "", parse_instant(e.paid_at), e.amount or Decimal(0)))
        elif e.entry.startswith("REV#"):
            reversed_ids.add(e.entry.removeprefix("REV#"))
    return LoanLedger(header, installments, repayments, reversed_ids)


def place_hold(loan_id: str, hold: str, source: str, on: bool, at: datetime) -> None:
    """Place (``on``) or lift a hold on a loan for a source other than the platform (an operator's
    dispute hold, say): a ``HOLD#<hold>#<source>`` ledger entry, which the ledger stream applies. The
    platform's holds come with its loan records and never touch these entries, nor these theirs."""
    from ..domain.importing import LOAN_HOLDS
    from ..domain.restrictions import SOURCES

    if hold not in LOAN_HOLDS:
        raise ValueError(f"unknown loan hold {hold!r} (known: {', '.join(LOAN_HOLDS)})")
    if source not in SOURCES or source == "platform":
        raise ValueError(f"source {source!r}: one of {', '.join(s for s in SOURCES if s != 'platform')}")
    entry = LedgerModel(loan_id, f"HOLD#{hold}#{source}", hold=hold, source=source, run_at=iso(at))
    if on:
        entry.save()
    else:
        entry.delete()


def loans(loan_ids: list[str]) -> dict[str, LoanModel]:
    out: dict[str, LoanModel] = {}
    for i in range(0, len(loan_ids), BATCH_GET):
        for m in LoanModel.batch_get(loan_ids[i : i + BATCH_GET], consistent_read=True):
            out[m.loan_id] = m
    return out


def borrowers(ids: Iterable[str]) -> dict[str, BorrowerModel]:
    ordered = sorted(set(ids))
    out: dict[str, BorrowerModel] = {}
    for i in range(0, len(ordered), BATCH_GET):
        for b in BorrowerModel.batch_get(ordered[i : i + BATCH_GET]):
            out[b.borrower_id] = b
    return out


class SendContext(NamedTuple):
    """Everything a sender re-checks before a message leaves: one BatchGetItem across four tables."""

    action: CollectionModel | None
    case: CollectionModel | None
    loan: LoanModel | None
    borrower: BorrowerModel | None
    contact: ContactModel | None
    ledger: ContactLedgerModel | None = None  # the borrower's contact ledger, for the compliance guard


def _lookup_key(m: Any) -> str:
    if isinstance(m, CollectionModel):
        return m.sk
    return m.loan_id if isinstance(m, LoanModel) else m.borrower_id


def send_contexts(wanted: list[tuple[str, str, str, str]]) -> dict[str, SendContext]:
    """(loan_id, action_id, borrower_id, case_id) -> context by action_id in one BatchGetItem per 16
    actions, strongly consistent where it matters (the sender must see what the planner saved, and the
    guard the latest contact ledger)."""
    from .clients import client

    models: dict[str, Any] = {
        m.Meta.table_name: m for m in (CollectionModel, LoanModel, BorrowerModel, ContactModel, ContactLedgerModel)
    }
    found: dict[tuple[str, str], Any] = {}
    for i in range(0, len(wanted), 16):  # 16 actions: at most 100 keys over the five tables
        chunk = wanted[i : i + 16]
        collection_keys = {(lid, f"ACT#{aid}") for lid, aid, _, _ in chunk} | {
            (lid, f"CASE#{cid}") for lid, _, _, cid in chunk
        }
        request: dict[str, Any] = {
            CollectionModel.Meta.table_name: {
                "Keys": [{"loan_id": {"S": lid}, "sk": {"S": sk}} for lid, sk in sorted(collection_keys)],
                "ConsistentRead": True,
            },
            LoanModel.Meta.table_name: {
                "Keys": [{"loan_id": {"S": lid}} for lid in sorted({c[0] for c in chunk})],
                "ConsistentRead": True,
            },
            BorrowerModel.Meta.table_name: {
                "Keys": [{"borrower_id": {"S": b}} for b in sorted({c[2] for c in chunk})],
                "ConsistentRead": True,  # an opt-out or a hold imported a moment ago counts
            },
            ContactModel.Meta.table_name: {
                "Keys": [{"borrower_id": {"S": b}} for b in sorted({c[2] for c in chunk})],
                "ConsistentRead": True,
            },
            ContactLedgerModel.Meta.table_name: {
                "Keys": [{"borrower_id": {"S": b}} for b in sorted({c[2] for c in chunk})],
                "ConsistentRead": True,
            },
        }
        while request:
            resp = client("dynamodb").batch_get_item(RequestItems=request)
            for table, items in resp.get("Responses", {}).items():
                for raw in items:
                    m = models[table].from_raw_data(raw)
                    found[(table, _lookup_key(m))] = m
            request = resp.get("UnprocessedKeys") or {}
    return {
        aid: SendContext(
            found.get((CollectionModel.Meta.table_name, f"ACT#{aid}")),
            found.get((CollectionModel.Meta.table_name, f"CASE#{cid}")),
            found.get((LoanModel.Meta.table_name, lid)),
            found.get((BorrowerModel.Meta.table_name, bid)),
            found.get((ContactModel.Meta.table_name, bid)),
            found.get((ContactLedgerModel.Meta.table_name, bid)),
        )
        for lid, aid, bid, cid in wanted
    }


def unpaid_of(loan: LoanModel) -> tuple[Unpaid, ...]:
    return tuple(Unpaid(int(s), date.fromisoformat(d), Decimal(r)) for s, d, r in loan.unpaid)


def case_state_of(loan: LoanModel) -> CaseState:
    last = json.loads(loan.last_closed) if loan.last_closed else None
    return CaseState(
        bucket=loan.bucket,
        bucket_since=date.fromisoformat(loan.bucket_since) if loan.bucket_since else None,
        case_id=loan.case_id,
        opened_on=date.fromisoformat(loan.opened_on) if loan.opened_on else None,
        last_closed=ClosedCase(
            last["case_id"],
            date.fromisoformat(last["opened_on"]) if last.get("opened_on") else None,
            date.fromisoformat(last["closed_on"]),
        )
        if last
        else None,
    )


def set_case_state(loan: LoanModel, case: CaseState) -> None:
    loan.bucket = case.bucket
    loan.bucket_since = case.bucket_since.isoformat() if case.bucket_since else None
    loan.case_id = case.case_id
    loan.opened_on = case.opened_on.isoformat() if case.opened_on else None
    last = case.last_closed
    loan.last_closed = (
        json.dumps(
            {
                "case_id": last.case_id,
                "opened_on": last.opened_on.isoformat() if last.opened_on else None,
                "closed_on": last.closed_on.isoformat(),
            },
            separators=(",", ":"),
        )
        if last
        else None
    )


def set_unpaid(loan: LoanModel, unpaid: tuple[Unpaid, ...], shard: str) -> None:
    loan.unpaid = [[u.seq, u.due_date.isoformat(), u.remaining] for u in unpaid]
    loan.outstanding = sum((u.remaining for u in unpaid), Decimal(0))
    loan.next_due = min(u.due_date for u in unpaid).isoformat() if unpaid else None
    loan.due_shard = shard if unpaid else None  # sparse index: fully paid loans leave it
    loan.jurisdiction_shard = jurisdiction_shard(loan)


def jurisdiction_shard(loan: LoanModel) -> str | None:
    """The key of the jurisdiction-due-index (campaigns target a jurisdiction's loans by it): the
    jurisdiction and the shard; none for a loan without unpaid installments (sparse, as due-index)."""
    return f"{loan.jurisdiction}#{loan.due_shard}" if loan.due_shard and loan.jurisdiction and loan.unpaid else None


def due_loans(shard: str, cutoff: date | None, start_key: dict[str, Any] | None, page_size: int) -> Any:
    """One page of loans in a shard with an unpaid installment due on or before ``cutoff`` (None: every
    loan with an unpaid installment, that is with a balance: the month-end snapshot)."""
    return LoanModel.due_index.query(
        shard,
        LoanModel.next_due <= cutoff.isoformat() if cutoff else None,
        limit=page_size,
        page_size=page_size,
        last_evaluated_key=start_key,
    )


# --- cases, bucket history, actions -------------------------------------------------------------


def transition_items(loan: LoanModel, before: CaseState, transitions: list[Transition]) -> list[CollectionModel]:
    """Whole items (puts): the ledger stream is the only writer of a loan's cases and history."""
    items: list[CollectionModel] = []
    for t in transitions:
        day = t.day.isoformat()
        if t.kind == "case_opened":
            items.append(
                CollectionModel(
                    loan.loan_id,
                    f"CASE#{t.case_id}",
                    kind="case",
                    case_id=t.case_id,
                    status="open",
                    opened_on=day,
                    borrower_id=loan.borrower_id,
                )
            )
        elif t.kind == "bucket_entered":
            items.append(
                CollectionModel(
                    loan.loan_id,
                    f"BH#{day}#{t.bucket}",
                    kind="bucket",
                    case_id=t.case_id,
                    bucket=t.bucket,
                    entered_on=day,
                )
            )
        elif t.kind == "bucket_left" and before.bucket_since is not None:
            since = before.bucket_since.isoformat()
            items.append(
                CollectionModel(
                    loan.loan_id,
                    f"BH#{since}#{t.bucket}",
                    kind="bucket",
                    case_id=t.case_id,
                    bucket=t.bucket,
                    entered_on=since,
                    left_on=day,
                )
            )
        elif t.kind == "case_closed":  # the loan's state still holds the closing case
            items.append(case_item(loan, status="closed", closed_on=day, reason=t.reason))
        # case_reopened: ``reopen_case``, once the loan's state holds the case again
    return items


def reopen_case(loan: LoanModel, day: date) -> CollectionModel:
    """The loan's case open again (the loan's state holds it): its strategy, version, arm and
    escalation as the case recorded them, so planning goes on with the case's own arm."""
    try:
        case = CollectionModel.get(loan.loan_id, f"CASE#{loan.case_id}", consistent_read=True)
        loan.strategy, loan.strategy_version = case.strategy, case.strategy_version
        loan.variant, loan.escalation = case.variant, case.escalation
    except CollectionModel.DoesNotExist:
        pass  # its item was never saved (a crash between the two): the case starts afresh
    return case_item(loan, status="open", reopened_on=day.isoformat())


def save_all(items: Iterable[Any]) -> None:
    """Unconditional whole-item puts, 25 a request, grouped by table; of several puts of one key
    (a case opened and given its strategy in one batch) the last wins, as it would one by one. The
    loans' states go last, whatever the order of ``items``: a loan's state is the commit point, so a
    write that fails before it leaves the change to be found again by the retry (written first, a
    case item that then failed would never be written: the retry finds the loan already moved)."""
    by_model: dict[Any, dict[tuple, Any]] = {}
    for item in items:
        by_model.setdefault(type(item), {})[tuple(sorted(item._get_keys().items()))] = item
    for model, group in sorted(by_model.items(), key=lambda kv: kv[0] is LoanModel):
        with model.batch_write() as batch:
            for item in group.values():
                batch.save(item)


def action_item(a: PlannedAction, status: str = "planned") -> CollectionModel:
    """An action with how it came about: strategy, version, arm, segment, step and the step's reason."""
    return CollectionModel(
        a.loan_id,
        f"ACT#{a.action_id}",
        kind="action" if a.channel else "escalation",
        case_id=a.case_id,
        status=status,
        borrower_id=a.borrower_id,
        action_id=a.action_id,
        channel=a.channel,
        template=a.template,
        step=a.step,
        bucket=a.bucket,
        planned_for=a.planned_for.isoformat(),
        strategy=a.strategy,
        strategy_version=a.strategy_version,
        variant=a.variant,
        segment=a.segment,
        why=a.why,
        expected_recovery=a.expected_recovery,
        escalation=a.step.split(":", 1)[1] if not a.channel else None,
        not_before=iso(a.not_before) if a.not_before else None,
    )


def case_item(loan: LoanModel, status: str = "open", **closing: Any) -> CollectionModel:
    """The loan's case as its state has it: with its strategy, version, arm and escalation."""
    return CollectionModel(
        loan.loan_id,
        f"CASE#{loan.case_id}",
        kind="case",
        case_id=loan.case_id,
        status=status,
        opened_on=loan.opened_on,
        borrower_id=loan.borrower_id,
        strategy=loan.strategy,
        strategy_version=loan.strategy_version,
        variant=loan.variant,
        escalation=loan.escalation,
        **closing,
    )


def reset_case_work(loan: LoanModel) -> None:
    """A new case (or none) starts with no strategy arm, no steps done, no escalation, no promise."""
    loan.strategy = loan.strategy_version = loan.variant = None
    loan.done_steps = loan.last_contact_at = loan.escalation = None
    loan.promise_until = loan.promise_amount = loan.promise_id = loan.paid_at_promise = None


def create_action(a: PlannedAction) -> bool:
    """Create a planned action once (conditional put). False when it already exists (redelivery)."""
    item = action_item(a)
    try:
        item.save(condition=CollectionModel.sk.does_not_exist())
        return True
    except PutError as e:
        if _condition_failed(e):
            return False
        raise


def eval_marker(loan_id: str, run_at: datetime) -> LedgerModel:
    return LedgerModel(loan_id, f"EVAL#{iso(run_at)}", run_at=iso(run_at))


def move_action(
    loan_id: str,
    action_id: str,
    frm: str,
    to: str,
    *,
    reason: str | None = None,
    sent_at: datetime | None = None,
    message_id: str | None = None,
    outcome: str | None = None,
    claim: str | None = None,
) -> bool:
    """Atomically move an action from one status to another; False when it was not in ``frm``.

    ``claim``, a token unique to the caller's attempt, makes the move safe to repeat: the SDK retries
    a write whose answer was lost (a timeout after DynamoDB applied it), and the retry's condition
    then fails on the caller's own write. With a claim, a failed condition is read back: the move is
    the caller's when the action is in ``to`` under its token (and someone else's otherwise)."""
    actions: list[Any] = [CollectionModel.status.set(to)]
    if claim is not None:
        actions.append(CollectionModel.claim.set(claim))
    if reason is not None:
        actions.append(CollectionModel.reason.set(reason))
    if sent_at is not None:
        actions.append(CollectionModel.sent_at.set(iso(sent_at)))
    if message_id is not None:
        actions.append(CollectionModel.message_id.set(message_id))
    if outcome is not None:
        actions.append(CollectionModel.outcome.set(outcome))
    try:
        CollectionModel(loan_id, f"ACT#{action_id}").update(actions=actions, condition=CollectionModel.status == frm)
        return True
    except UpdateError as e:
        if not _condition_failed(e):
            raise
    if claim is None:
        return False
    try:
        now = CollectionModel.get(loan_id, f"ACT#{action_id}", consistent_read=True)
    except CollectionModel.DoesNotExist:
        return False
    return now.status == to and now.claim == claim


def planned_actions(loan_id: str) -> list[CollectionModel]:
    return [a for a in CollectionModel.query(loan_id, CollectionModel.sk.startswith("ACT#")) if a.status == "planned"]
