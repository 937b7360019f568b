"""Writing the platform's records into DynamoDB (the importer's adapter).

Items are built and measured before anything is written, so a row whose item DynamoDB would refuse
is rejected like any other bad row instead of failing the file half-way. Writes are whole-item puts
keyed by the platform's ids (idempotent), 25 a request across tables; a file's personal-data items
before its borrower items, so a borrower the loans can find always has its contact row. A new
payment is also recorded under its id in the idempotency table (``payment#<id>``), after its ledger
entry: a payment id found there was written to the ledger, and always means that payment; so is a
reversal (``REV#<payment_id>`` in the loan's ledger, then ``reversal#<payment_id>``). A file's
writes carry no condition (batches cannot), so a file and an API request bringing the same new
payment id with different values at the same moment can both pass their checks: the API's
transaction is atomic, the file's write then replaces it. Caught only when they do not overlap.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any

from pynamodb.attributes import Attribute, ListAttribute, MapAttribute
from pynamodb.exceptions import AttributeNullError
from pynamodb.models import Model

from ..domain.facts import PLATFORM_API, PLATFORM_FILE
from ..domain.importing import (
    SCHEDULE_OF,
    Borrower,
    InstallmentRow,
    Loan,
    Parent,
    Record,
    RecordedPayment,
    RepaymentRow,
    ReversalRow,
)
from ..domain.timeutil import iso
from .clients import client
from .models import BorrowerModel, ContactModel, IdempotencyModel, LedgerModel, LoanModel

BATCH_GET = 100
BATCH_WRITE = 25
RETRIES = 8


def known_parents(kind: str, ids: set[str]) -> dict[str, Parent]:
    """Which of these borrowers / loans exist, with a loan's currency and disbursement date; for
    ``loan+schedule`` (a schedule changes) also, of a loan under an active arrangement, its schedule."""
    found: dict[str, Parent] = {}
    ordered = sorted(ids)
    if kind == "borrower":
        for i in range(0, len(ordered), BATCH_GET):
            for b in BorrowerModel.batch_get(ordered[i : i + BATCH_GET], attributes_to_get=["borrower_id"]):
                found[b.borrower_id] = Parent()
        return found
    keys = [(lid, "LOAN") for lid in ordered]
    for i in range(0, len(keys), BATCH_GET):
        for h in LedgerModel.batch_get(
            keys[i : i + BATCH_GET], attributes_to_get=["loan_id", "currency", "disbursed_on"]
        ):
            found[h.loan_id] = Parent(h.currency or "", date.fromisoformat(h.disbursed_on) if h.disbursed_on else None)
    if kind != SCHEDULE_OF:
        return found
    for i in range(0, len(ordered), BATCH_GET):  # under an active arrangement: the schedule as it stands
        for loan in LoanModel.batch_get(ordered[i : i + BATCH_GET], attributes_to_get=["loan_id", "stage"]):
            if loan.stage == "plan" and loan.loan_id in found:
                found[loan.loan_id] = found[loan.loan_id]._replace(arranged=frozenset(schedule_of(loan.loan_id)))
    return found


def schedule_of(loan_id: str) -> list[tuple[int, date, Decimal, Decimal, Decimal]]:
    """The loan's installments as stored (seq, due date, principal, interest, fee)."""
    return [
        (
            int(e.seq or 0),
            date.fromisoformat(str(e.due_date)),
            e.principal_due or Decimal(0),
            e.interest_due or Decimal(0),
            e.fee_due or Decimal(0),
        )
        for e in LedgerModel.query(loan_id, LedgerModel.entry.startswith("INST#"), consistent_read=True)
    ]


def platform_restrictions(ids: set[str]) -> dict[str, tuple[frozenset[str], frozenset[str]]]:
    """The opt-outs and holds the platform set on these borrowers (those that exist), by id."""
    found: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
    ordered = sorted(ids)
    for i in range(0, len(ordered), BATCH_GET):
        for b in BorrowerModel.batch_get(
            ordered[i : i + BATCH_GET], consistent_read=True, attributes_to_get=["borrower_id", "opt_out", "holds"]
        ):
            found[b.borrower_id] = (frozenset(b.opt_out or ()), frozenset(b.holds or ()))
    return found


def payment_key(payment_id: str) -> str:
    return f"payment#{payment_id}"


def reversal_key(payment_id: str) -> str:
    return f"reversal#{payment_id}"


def known_payments(ids: set[str], reversals: bool = False) -> dict[str, RecordedPayment]:
    """The payments already recorded under these ids (by a file or the API); with ``reversals``, each
    with when it was reversed, if it was."""
    found: dict[str, RecordedPayment] = {}
    reversed_at: dict[str, str] = {}
    keys = sorted(payment_key(i) for i in ids) + (sorted(reversal_key(i) for i in ids) if reversals else [])
    for i in range(0, len(keys), BATCH_GET):
        for p in IdempotencyModel.batch_get(
            keys[i : i + BATCH_GET],
            attributes_to_get=["key", "loan_id", "amount", "paid_at", "reversed_at", "currency"],
        ):
            kind, _, pid = p.key.partition("#")
            if kind == "reversal":
                reversed_at[pid] = p.reversed_at or "?"
            else:
                found[pid] = RecordedPayment(p.loan_id or "", p.amount, p.paid_at or "", None, p.currency)
    return {pid: rec._replace(reversed_at=reversed_at.get(pid)) for pid, rec in found.items()}


def payment_values(rec: RepaymentRow, source: str, recorded_at: str) -> dict[str, Any]:
    """The idempotency item recording a payment (the API adds its answer to it)."""
    return {
        "key": payment_key(rec.payment_id),
        "loan_id": rec.loan_id,
        "amount": rec.amount,
        "paid_at": iso(rec.paid_at),
        "currency": rec.currency,
        "method": rec.method,
        "source": source,
        "recorded_at": recorded_at,
    }


def reversal_values(rec: ReversalRow, source: str, recorded_at: str) -> dict[str, Any]:
    """The idempotency item recording a reversal (the API adds its answer to it)."""
    return {
        "key": reversal_key(rec.payment_id),
        "loan_id": rec.loan_id,
        "amount": rec.amount,
        "reversed_at": iso(rec.reversed_at),
        "reason": rec.reason,
        "source": source,
        "recorded_at": recorded_at,
    }


def _items_for(rec: Record, source: str = "import") -> Iterator[tuple[type[Model], dict[str, Any]]]:
    """The items of a record: each its model and its attribute values (``source``: import or api)."""
    if isinstance(rec, Borrower):
        yield (
            ContactModel,
            {  # first: see the module's docstring
                "borrower_id": rec.borrower_id,
                "name": rec.name,
                "phone": rec.phone,
                "email": rec.email,
                "wechat_openid": rec.wechat_openid,
                "id_number": rec.id_number,
                "address": rec.address,
            },
        )
        yield (
            BorrowerModel,
            {  # opt_out and holds here are the platform's own (other sources: contact ledger)
                "borrower_id": rec.borrower_id,
                "timezone": rec.timezone,
                "language": rec.language,
                "jurisdiction": rec.jurisdiction,
                "credit_grade": rec.credit_grade,
                "opt_out": set(rec.opt_out) or None,
                "holds": set(rec.holds) or None,
            },
        )
    elif isinstance(rec, Loan):
        yield (
            LedgerModel,
            {
                "loan_id": rec.loan_id,
                "entry": "LOAN",
                "borrower_id": rec.borrower_id,
                "product": rec.product,
                "currency": rec.currency,
                "principal": rec.principal,
                "disbursed_on": rec.disbursed_on.isoformat(),
                "holds": set(rec.holds) or None,  # the platform's holds; an operator's are HOLD# entries
                "source": PLATFORM_API if source == "api" else PLATFORM_FILE,  # named by the stream's hold facts
            },
        )
    elif isinstance(rec, InstallmentRow):
        yield (
            LedgerModel,
            {
                "loan_id": rec.loan_id,
                "entry": f"INST#{rec.seq:04d}",
                "seq": rec.seq,
                "due_date": rec.due_date.isoformat(),
                "principal_due": rec.principal_due,
                "interest_due": rec.interest_due,
                "fee_due": rec.fee_due,
            },
        )
    elif isinstance(rec, RepaymentRow):
        yield (
            LedgerModel,
            {
                "loan_id": rec.loan_id,
                "entry": f"PAY#{rec.payment_id}",
                "payment_id": rec.payment_id,
                "paid_at": iso(rec.paid_at),
                "amount": rec.amount,
                "currency": rec.currency,
                "method": rec.method,
            },
        )
    elif isinstance(rec, ReversalRow):
        yield (
            LedgerModel,
            {
                "loan_id": rec.loan_id,
                "entry": f"REV#{rec.payment_id}",
                "payment_id": rec.payment_id,
                "reversed_at": iso(rec.reversed_at),
                "amount": rec.amount,
                "reason": rec.reason,
                "source": source,
            },
        )


class _Schema:
    """A model's attributes as ``serialize`` uses them."""

    def __init__(self, model: type[Model]) -> None:
        self.attrs: dict[str, Attribute] = model.get_attributes()
        nested = [name for name, a in self.attrs.items() if isinstance(a, MapAttribute | ListAttribute)]
        if nested:
            raise TypeError(f"{model.__name__}: serialize() handles no map or list attributes ({', '.join(nested)})")
        self.defaulted = [
            (name, a, a.default_for_new if a.default_for_new is not None else a.default)
            for name, a in self.attrs.items()
            if a.default_for_new is not None or a.default is not None
        ]
        self.required = [(name, a.attr_name) for name, a in self.attrs.items() if not a.null]


@cache
def _schema(model: type[Model]) -> _Schema:
    return _Schema(model)


def serialize(model: type[Model], values: dict[str, Any]) -> dict[str, Any]:
    """``model(**values).serialize()`` without building the model (a third of an import's own work):
    the model's own attributes, serializers, defaults and null check (tests hold the two equal)."""
    schema = _schema(model)
    item: dict[str, Any] = {}
    for name, value in values.items():
        attr = schema.attrs.get(name)
        if attr is None:
            raise ValueError(f"Attribute {name} specified does not exist")
        serialized = None if value is None else attr.serialize(value)
        if serialized is not None:
            item[attr.attr_name] = {attr.attr_type: serialized}
    for name, attr, default in schema.defaulted:
        if name not in values:  # a value given, even None, replaces the default (as in the model)
            value = default() if callable(default) else default
            serialized = None if value is None else attr.serialize(value)
            if serialized is not None:
                item[attr.attr_name] = {attr.attr_type: serialized}
    for name, attr_name in schema.required:
        if attr_name not in item:
            raise AttributeNullError(name)
    return item


def item_bytes(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB counts it (names and values; numbers about a byte per two digits)."""
    size = 0
    for name, value in item.items():
        size += len(name.encode())
        s = value.get("S")  # the common case inline
        size += len(s.encode()) if s is not None else _value_bytes(value)
    return size


def _value_bytes(value: dict[str, Any]) -> int:
    ((kind, v),) = value.items()
    if kind == "S":
        return len(v.encode())
    if kind == "N":
        return (len(v.strip("-").replace(".", "").strip("0")) + 1) // 2 + 1
    if kind == "B":
        return len(v)
    if kind in ("SS", "NS", "BS"):
        return sum(_value_bytes({kind[0]: e}) for e in v)
    if kind == "L":
        return 3 + sum(1 + _value_bytes(e) for e in v)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + _value_bytes(e) for k, e in v.items())
    return 1  # BOOL, NULL


class Prepared:
    """The items of a file's accepted rows, serialized; rows whose items are too large, with why."""

    def __init__(self) -> None:
        self.first: list[tuple[str, dict[str, Any]]] = []  # (table, item): borrowers' personal data
        self.rest: list[tuple[str, dict[str, Any]]] = []
        self.last: list[tuple[str, dict[str, Any]]] = []  # payments recorded, after their ledger entries
        self.too_large: list[tuple[int, str]] = []

    @property
    def writes(self) -> list[tuple[str, dict[str, Any]]]:
        return self.first + self.rest + self.last


def prepare(
    records: Iterable[tuple[int, Record]], max_item_bytes: int, recorded_at: str = "", source: str = "import"
) -> Prepared:
    """The records' items (``source``: ``import`` for a file, ``api`` for a request)."""
    out = Prepared()
    for n, rec in records:
        items = [(model, serialize(model, values)) for model, values in _items_for(rec, source)]
        if isinstance(rec, RepaymentRow):
            items.append((IdempotencyModel, serialize(IdempotencyModel, payment_values(rec, source, recorded_at))))
        elif isinstance(rec, ReversalRow):
            items.append((IdempotencyModel, serialize(IdempotencyModel, reversal_values(rec, source, recorded_at))))
        largest = max(item_bytes(item) for _, item in items)
        if largest > max_item_bytes:
            out.too_large.append(
                (n, f"row is {largest} bytes stored; at most {max_item_bytes} (setting ImportLimits item_bytes)")
            )
            continue
        for model, item in items:
            part = out.first if model is ContactModel else out.last if model is IdempotencyModel else out.rest
            part.append((model.Meta.table_name, item))
    return out


def write(writes: list[tuple[str, dict[str, Any]]]) -> int:
    """Put the items in order, 25 a BatchWriteItem; unprocessed items are retried with backoff."""
    ddb = client("dynamodb")
    for i in range(0, len(writes), BATCH_WRITE):
        request: dict[str, list[dict[str, Any]]] = {}
        for table, item in writes[i : i + BATCH_WRITE]:
            request.setdefault(table, []).append({"PutRequest": {"Item": item}})
        for attempt in range(RETRIES):
            request = ddb.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
            if not request:
                break
            time.sleep(min(2.0, 0.05 * 2**attempt))
        else:
            raise RuntimeError(
                f"DynamoDB left {sum(len(v) for v in request.values())} items unwritten after {RETRIES} tries"
            )
    return len(writes)


class LoanNotAsAssumed(Exception):
    """``record_once``'s loan check failed (and the key was never recorded): the loan is unknown, or
    not in the currency assumed, or disbursed after the payment. Nothing was written."""


def loan_check(loan_id: str, currency: str, paid_on: date) -> dict[str, Any]:
    """A transaction's check that the loan exists, is in ``currency`` and was disbursed on or before
    ``paid_on``: what the validator asks of a repayment's loan, asserted at the write instead of read
    before it (``with_parent`` then needs only the currency)."""
    return {
        "ConditionCheck": {
            "TableName": LedgerModel.Meta.table_name,
            "Key": {"loan_id": {"S": loan_id}, "entry": {"S": "LOAN"}},
            "ConditionExpression": "currency = :c AND (attribute_not_exists(disbursed_on) OR disbursed_on <= :d)",
            "ExpressionAttributeValues": {":c": {"S": currency}, ":d": {"S": paid_on.isoformat()}},
        }
    }


def record_once(
    prepared: Prepared, status: int, answer: str, facts: str | None = None, check: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """Write one prepared payment or reversal (its ledger entry, and its idempotency item carrying the
    API's answer and facts) in one transaction, only if its key was never recorded (and ``check``, a
    ``loan_check``, holds): all or nothing. Returns None when written; otherwise what is recorded under
    the key (the idempotency item, or for one whose file import stopped between the two writes, its
    ledger entry), as plain values; LoanNotAsAssumed when the check failed."""
    ((ledger_table, entry),) = prepared.rest
    ((idem_table, record),) = prepared.last
    record = {**record, "status": {"N": str(status)}, "response": {"S": answer}}
    if facts:
        record["facts"] = {"S": facts}
    ddb = client("dynamodb")
    items: list[dict[str, Any]] = [
        {
            "Put": {
                "TableName": idem_table,
                "Item": record,
                "ConditionExpression": "attribute_not_exists(#k)",
                "ExpressionAttributeNames": {"#k": "key"},
            }
        },
        {"Put": {"TableName": ledger_table, "Item": entry, "ConditionExpression": "attribute_not_exists(entry)"}},
    ]
    try:
        ddb.transact_write_items(TransactItems=items + ([check] if check else []))
        return None
    except ddb.exceptions.TransactionCanceledException as e:
        codes = [r.get("Code") for r in e.response.get("CancellationReasons", [])]  # one an item, in order
        if (
            check
            and (
                codes[2:3] == ["ConditionalCheckFailed"]  # the loan first, as the validator checks it before the key
                or (codes[2:3] == ["TransactionConflict"] and "ConditionalCheckFailed" not in codes)
            )
        ):  # (another write to the loan's item in flight, e.g. an import: read it instead)
            raise LoanNotAsAssumed() from None
        if "ConditionalCheckFailed" not in codes:
            raise  # a conflicting transaction in flight, a throttle: the caller answers 503
    stored = ddb.get_item(TableName=idem_table, Key={"key": record["key"]}, ConsistentRead=True).get("Item")
    if stored is None:
        key = {"loan_id": entry["loan_id"], "entry": entry["entry"]}
        stored = ddb.get_item(TableName=ledger_table, Key=key, ConsistentRead=True).get("Item")
        if stored is None:
            raise RuntimeError("a recorded payment vanished between two reads")
        stored = {**stored, "key": record["key"], "source": {"S": "import"}}
    return {k: next(iter(v.values())) for k, v in stored.items()}


def installment_entries(loan_id: str) -> list[str]:
    """The loan's ``INST#`` entries as stored (one query of its partition)."""
    return [
        e.entry
        for e in LedgerModel.query(
            loan_id, LedgerModel.entry.startswith("INST#"), consistent_read=True, attributes_to_get=["entry"]
        )
    ]
