"""The platform's HTTP API (``functions/api/app.py`` routes to these): signed requests, each turned into
ledger entries by the importer's own validator and writer, answered once and the same way forever.

Every request is checked in this order, and nothing is written unless all pass: size (413), signature
(401), JSON and fields (400, the import's wording, naming the field), the loan (400 when unknown),
then the idempotent write (202, or the first answer again, or 409). An AWS dependency failing is a 503
with ``Retry-After``: nothing was recorded (a transaction writes all or nothing), so a retry is safe.

Every accepted request becomes facts for the outcomes table: a ``platform_event`` (source
``platform/api``, the route in ``reason``, the webhook-id in ``action_id``) and, for a borrower's holds
and opt-outs, what changed (``hold_placed``, ``opt_out_lifted``, ...; a loan's holds are reported by
the ledger stream, which sees them change). The facts are stored with the first answer, in its
transaction, and ``functions/api_facts`` writes them to S3 from the idempotency table's stream: off
the request's path, so a request costs one write (and, for a repayment, one read of its loan).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import PynamoDBException

from ..adapters import api_store, facts_sink, ledger_import, webhook_secrets
from ..adapters.models import BorrowerModel
from ..config import ConfigError, ImportSettings, business_tz_of
from ..domain.api import ApiError, field_of
from ..domain.facts import PLATFORM_API, Fact, business_date, restriction_facts
from ..domain.importing import (
    ARRANGED,
    BORROWER_HOLDS,
    COLUMNS,
    LOAN_HOLDS,
    SCHEDULE_OF,
    InstallmentRow,
    Loan,
    Parent,
    RecordedPayment,
    RepaymentRow,
    ReversalRow,
    json_object,
    parse_row,
    payment_conflict,
    with_parent,
    with_payment,
)
from ..domain.money import minor_units
from ..domain.timeutil import iso
from ..domain.webhooks import SignatureError, verify
from ..observability import logger, metrics
from .imports import limits

#: failures of AWS itself (throttles, 5xx, timeouts, connections): the caller may retry
AWS_ERRORS = (ClientError, BotoCoreError, PynamoDBException)
RETRY_AFTER_SECONDS = "2"
MAX_BODY_BYTES = 65536


_NEEDED = (
    "LEDGER_TABLE",
    "IDEMPOTENCY_TABLE",
    "BORROWERS_TABLE",
    "CONTACTS_TABLE",
    "WEBHOOK_SECRET_ID",
    "LOANS_TABLE",  # a loan under an active arrangement: its schedule may not change
)


class ApiSettings(NamedTuple):
    """What the API function needs, and no more."""

    ledger_table: str
    idempotency_table: str
    borrowers_table: str
    contacts_table: str
    webhook_secret_id: str
    max_body_bytes: int
    imports: ImportSettings
    business_tz: str = "Asia/Shanghai"  # the facts' business dates
    loans_table: str = ""  # read only: whether a loan is under an active arrangement

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ApiSettings:
        env = os.environ if env is None else env
        problems = [f"{n} is not set" for n in _NEEDED if not env.get(n)]
        raw = env.get("MAX_BODY_BYTES", str(MAX_BODY_BYTES)).strip()
        if not raw.isdigit() or not 1024 <= int(raw) <= 6_000_000:
            problems.append(f"MAX_BODY_BYTES={raw!r} must be a whole number from 1024 to 6000000")
        try:
            imports = ImportSettings.from_env(env)
        except ConfigError as e:
            problems.append(str(e).removeprefix("bad configuration: "))
        business_tz = business_tz_of(env, problems)
        if problems:
            raise ConfigError("bad configuration: " + "; ".join(problems))
        ledger, idempotency, borrowers, contacts, secret, loans = (env[n] for n in _NEEDED)
        return cls(ledger, idempotency, borrowers, contacts, secret, int(raw), imports, business_tz, loans)


@dataclass(frozen=True)
class Answer:
    status: int
    body: str  # JSON text, returned byte for byte (a repeat gets the very same bytes)
    headers: dict[str, str] = field(default_factory=dict)


class Incoming(NamedTuple):
    headers: Mapping[str, str]  # looked up by lower-case name (case-insensitive in Chalice)
    body: bytes


def receive(incoming: Incoming, s: ApiSettings, now: datetime, route: Callable[[Incoming, str], Answer]) -> Answer:
    """Size and signature, then the route's use case; every outcome an answer, never an exception, and
    one log line (status and webhook-id: the platform's correlation id; never the body)."""
    answer = _receive(incoming, s, now, route)
    logger.info(
        "answered", extra={"status": answer.status, "webhook_id": str(incoming.headers.get("webhook-id", ""))[:200]}
    )
    return answer


def _receive(incoming: Incoming, s: ApiSettings, now: datetime, route: Callable[[Incoming, str], Answer]) -> Answer:
    try:
        if len(incoming.body) > s.max_body_bytes:
            raise ApiError(413, f"the body is {len(incoming.body)} bytes; at most {s.max_body_bytes}")
        webhook_id = _authenticate(incoming, s, now)
        return route(incoming, webhook_id)
    except ApiError as e:
        metrics.add_metric(name=f"Api{e.status}", unit="Count", value=1)
        return Answer(e.status, e.body(), e.headers)
    except AWS_ERRORS:
        logger.exception("API request not served: an AWS dependency failed")
        metrics.add_metric(name="Api503", unit="Count", value=1)
        error = ApiError(503, f"a dependency failed; nothing was recorded: retry after {RETRY_AFTER_SECONDS} s")
        return Answer(503, error.body(), {"Retry-After": RETRY_AFTER_SECONDS})


def _authenticate(incoming: Incoming, s: ApiSettings, now: datetime) -> str:
    """The webhook-id of a request signed with a valid secret (the current one, or the previous one
    during a rotation); a secret rotated moments ago is fetched again before refusing."""
    try:
        return verify(webhook_secrets.secrets(s.webhook_secret_id), incoming.headers, incoming.body, now)
    except SignatureError as first:
        if "no valid signature" not in str(first):
            raise ApiError(401, str(first)) from None
    try:
        return verify(
            webhook_secrets.secrets(s.webhook_secret_id, stale_ok=False), incoming.headers, incoming.body, now
        )
    except SignatureError as e:
        raise ApiError(401, str(e)) from None


# -------------------------------------------------------------------------------------- facts


def _event(
    s: ApiSettings,
    route: str,
    webhook_id: str,
    now: datetime,
    *,
    loan_id: str | None = None,
    borrower_id: str | None = None,
    payment_id: str | None = None,
    currency: str | None = None,
) -> Fact:
    """The platform_event fact of an accepted request: who sent it (the platform, through the API),
    the route, its webhook-id, when, and the ids it names."""
    return Fact(
        "platform_event",
        now,
        business_date(now, s.business_tz),
        loan_id,
        PLATFORM_API,
        borrower_id=borrower_id,
        payment_id=payment_id,
        currency=currency,
        action_id=webhook_id[:200],
        reason=route,
        key=f"{route}|{webhook_id}",
    )


# --------------------------------------------------------------------------------- repayments


def record_repayment(incoming: Incoming, webhook_id: str, s: ApiSettings, now: datetime) -> Answer:
    """POST /v1/repayments: validated as an imported row is, written as an imported row is (with its
    idempotency item, in one transaction); a payment_id already recorded gets its first answer again,
    or 409 when the request names another loan, amount or paid_at. A request naming its currency costs
    one transaction: its loan's existence, currency and disbursement are conditions of the write, and
    only when one fails is the loan read, for the validator's answer."""
    parsed = _repayment(incoming.body, s, now)
    checked = False
    if parsed.currency:  # its loan asserted by the write (loan_check) instead of read before it
        try:
            rec = _with_loan(parsed, Parent(parsed.currency, None))
            stored = _record_repayment(rec, webhook_id, s, now, check=True)
            checked = True
        except ledger_import.LoanNotAsAssumed:
            pass  # the loan is not as the request says: read it, and say why as the import would
        except ApiError as e:
            if e.status != 400:
                raise  # refused: the import's answer comes from the loan as it is (below)
    if not checked:  # the loan read first, then checked as an imported row's is
        rec = _with_loan(parsed, ledger_import.known_parents("loan", {parsed.loan_id}).get(parsed.loan_id))
        stored = _record_repayment(rec, webhook_id, s, now, check=False)
    body = _recorded(ledger_import.payment_values(rec, "api", iso(now)))
    if stored is None:
        metrics.add_metric(name="ApiRepaymentsRecorded", unit="Count", value=1)
        logger.info("repayment recorded", extra={"payment_id": rec.payment_id, "loan_id": rec.loan_id})
        return Answer(202, body)
    before = RecordedPayment(
        str(stored.get("loan_id", "")), Decimal(str(stored.get("amount", "0"))), str(stored.get("paid_at", ""))
    )
    conflict = payment_conflict(rec, before)
    if conflict:
        shown = {"loan_id": before.loan_id, "amount": _amount(before.amount, rec.currency), "paid_at": before.paid_at}
        raise ApiError(409, conflict, "payment_id", stored=shown)
    logger.info("repayment repeated: first answer again", extra={"payment_id": rec.payment_id, "loan_id": rec.loan_id})
    if "response" in stored and "status" in stored:
        return Answer(int(stored["status"]), str(stored["response"]))
    return Answer(202, _recorded(stored))  # first recorded by a file import


def _record_repayment(
    rec: RepaymentRow, webhook_id: str, s: ApiSettings, now: datetime, *, check: bool
) -> dict[str, Any] | None:
    """The repayment's ledger entry and idempotency item written once (``record_once``); with
    ``check``, only if its loan is as the request says (LoanNotAsAssumed otherwise)."""
    prepared = ledger_import.prepare([(1, rec)], s.imports.max_item_bytes, iso(now), source="api")
    if prepared.too_large:
        raise ApiError(400, prepared.too_large[0][1])
    body = _recorded(ledger_import.payment_values(rec, "api", iso(now)))
    route = "POST /v1/repayments"
    facts = facts_sink.lines(
        [_event(s, route, webhook_id, now, loan_id=rec.loan_id, payment_id=rec.payment_id, currency=rec.currency)]
    )
    loan = ledger_import.loan_check(rec.loan_id, str(rec.currency), rec.paid_at.date()) if check else None
    return ledger_import.record_once(prepared, 202, body, facts, loan)


def _with_loan(rec: RepaymentRow, parent: Parent | None) -> RepaymentRow:
    """The import's checks of a repayment against its loan (unknown loan, currency, decimals,
    disbursement), with the import's wording; a ``Parent`` without disbursement date checks the rest."""
    try:
        checked = with_parent(rec, {rec.loan_id: parent} if parent is not None else {})
    except ValueError as e:
        raise ApiError(400, str(e), field_of(str(e), "repayments")) from None
    assert isinstance(checked, RepaymentRow)
    return checked


def _repayment(body: bytes, s: ApiSettings, now: datetime) -> RepaymentRow:
    try:
        row = json_object(body.decode("utf-8"), "the body")
    except UnicodeDecodeError:
        raise ApiError(400, "the body is not UTF-8 text") from None
    except ValueError as e:
        raise ApiError(400, str(e)) from None
    unknown = [k for k in row if k not in COLUMNS["repayments"]]
    if unknown:
        raise ApiError(
            400,
            f"unknown field(s) {', '.join(repr(k[:60]) for k in unknown[:5])}: a repayment has "
            f"{', '.join(COLUMNS['repayments'])}",
            unknown[0][:60],
        )
    try:
        rec = parse_row("repayments", row, limits(s.imports, now))
    except ValueError as e:
        raise ApiError(400, str(e), field_of(str(e), "repayments")) from None
    assert isinstance(rec, RepaymentRow)
    return rec


def _recorded(values: Mapping[str, Any]) -> str:
    """The 202 body: the payment as recorded."""
    body = {
        "payment_id": str(values["key"]).removeprefix("payment#"),
        "loan_id": values.get("loan_id"),
        "paid_at": values.get("paid_at"),
        "amount": _amount(Decimal(str(values.get("amount"))), values.get("currency")),
        "currency": values.get("currency"),
        "recorded_at": values.get("recorded_at"),
        "source": values.get("source"),
    }
    if values.get("method"):
        body["method"] = values["method"]
    return json.dumps(body, ensure_ascii=False)


def _amount(amount: Decimal, currency: str | None) -> str:
    """With the currency's minor digits (DynamoDB gives numbers back without trailing zeros)."""
    return f"{amount:.{minor_units(currency) if currency else 2}f}"


# ---------------------------------------------------------------------------------- reversals

REVERSAL_ROUTE = "POST /v1/repayments/{payment_id}/reversal"


def record_reversal(incoming: Incoming, webhook_id: str, payment_id: str, s: ApiSettings, now: datetime) -> Answer:
    """POST /v1/repayments/{payment_id}/reversal: the payment taken back (a chargeback, a failed debit),
    validated as a reversals row is and written as one is (its ``REV#`` ledger entry and its idempotency
    item, in one transaction). Idempotent on payment_id: a payment is reversed once, and a repeat (any
    body) gets the first answer; an unknown payment is a 404."""
    rec = _reversal(incoming.body, payment_id, s, now)
    stored_answer = api_store.stored_answer(ledger_import.reversal_key(payment_id))
    if stored_answer is not None:
        return Answer(stored_answer.status, stored_answer.body)
    payment = ledger_import.known_payments({payment_id}).get(payment_id)
    if payment is None:
        raise ApiError(404, f"unknown payment {payment_id[:128]!r}")
    try:
        rec = with_payment(rec, {payment_id: payment})
    except ValueError as e:
        raise ApiError(400, str(e), "reversed_at") from None
    prepared = ledger_import.prepare([(1, rec)], s.imports.max_item_bytes, iso(now), source="api")
    if prepared.too_large:
        raise ApiError(400, prepared.too_large[0][1])
    body = _reversed(ledger_import.reversal_values(rec, "api", iso(now)), payment.currency)
    facts = facts_sink.lines(
        [
            _event(
                s,
                REVERSAL_ROUTE,
                webhook_id,
                now,
                loan_id=rec.loan_id,
                payment_id=payment_id,
                currency=payment.currency,
            )
        ]
    )
    stored = ledger_import.record_once(prepared, 202, body, facts)
    if stored is None:
        metrics.add_metric(name="ApiReversalsRecorded", unit="Count", value=1)
        logger.info("reversal recorded", extra={"payment_id": payment_id, "loan_id": rec.loan_id})
        return Answer(202, body)
    if "response" in stored and "status" in stored:  # reversed by a request a moment ago
        return Answer(int(stored["status"]), str(stored["response"]))
    return Answer(202, _reversed(stored, payment.currency))  # first reversed by a file import


def _reversal(body: bytes, payment_id: str, s: ApiSettings, now: datetime) -> ReversalRow:
    row = _object_with(body, ("payment_id", "reversed_at", "reason"), "a reversal") if body.strip() else {}
    if row.get("payment_id", payment_id) != payment_id:
        raise ApiError(400, "payment_id in the body is not the one in the path", "payment_id")
    try:
        rec = parse_row(
            "reversals",
            {"payment_id": payment_id, "reversed_at": row.get("reversed_at", iso(now)), "reason": row.get("reason")},
            limits(s.imports, now),
        )
    except ValueError as e:
        f = field_of(str(e), "reversals")
        if f == "payment_id":  # not an id at all: no such payment
            raise ApiError(404, f"unknown payment {payment_id[:128]!r}") from None
        raise ApiError(400, str(e), f) from None
    assert isinstance(rec, ReversalRow)
    return rec


def _reversed(values: Mapping[str, Any], currency: str | None) -> str:
    """The 202 body of a reversal: what was taken back."""
    body = {
        "payment_id": str(values["key"]).removeprefix("reversal#"),
        "loan_id": values.get("loan_id"),
        "amount": _amount(Decimal(str(values.get("amount"))), currency),
        "currency": currency,
        "reversed_at": values.get("reversed_at"),
        "recorded_at": values.get("recorded_at"),
        "source": values.get("source"),
    }
    if values.get("reason"):
        body["reason"] = values["reason"]
    return json.dumps(body, ensure_ascii=False)


# ------------------------------------------------------------------ routes keyed by webhook-id

MAX_SCHEDULE = 98  # with the loan and the answer: one DynamoDB transaction (100 items)
_WEBHOOK_ID = re.compile(r"^[\x21-\x7e]{1,200}$")


class Built(NamedTuple):
    """What a route keyed by webhook-id makes of a valid request: the 202 body, the writes, how to answer
    a write whose condition failed, the ids its platform_event names, and any further facts."""

    body: str
    writes: list[dict[str, Any]]
    refused: Callable[[int], ApiError]
    ids: dict[str, str | None]
    facts: list[Fact] = []


def _once(webhook_id: str, route: str, s: ApiSettings, now: datetime, build: Callable[[], Built]) -> Answer:
    """A message answered before gets its first answer (whatever its body now; its facts are written
    again); otherwise ``build`` validates it, and the writes, the answer and its facts are stored
    together."""
    if not _WEBHOOK_ID.match(webhook_id):
        raise ApiError(400, "webhook-id must be 1-200 printable ASCII characters without spaces", "webhook-id")
    first = api_store.first_answer(webhook_id)
    if first is not None:
        return again(first, route, webhook_id)
    built = build()
    facts = facts_sink.lines([_event(s, route, webhook_id, now, **built.ids), *built.facts])
    try:
        stored = api_store.answer_once(webhook_id, route, 202, built.body, iso(now), built.writes, facts)
    except api_store.Refused as e:
        raise built.refused(e.index) from None
    if stored is not None:
        return again(stored, route, webhook_id)
    metrics.add_metric(name="ApiEventsRecorded", unit="Count", value=1)
    return Answer(202, built.body)


def again(first: api_store.Stored, route: str, key: str, header: str = "webhook-id") -> Answer:
    """A repeated message's first answer. A key (``header``) that first came with a message to another
    route names another message: 409, nothing written (its first answer belongs to that route and
    would not be this route's answer)."""
    if first.source and first.source != route:
        raise ApiError(
            409, f"{header} {key!r} was used for a message to {first.source}: each message needs its own", header
        )
    return Answer(first.status, first.body)


def _object_with(body: bytes, allowed: tuple[str, ...], what: str) -> dict[str, Any]:
    try:
        row = json_object(body.decode("utf-8"), "the body")
    except UnicodeDecodeError:
        raise ApiError(400, "the body is not UTF-8 text") from None
    except ValueError as e:
        raise ApiError(400, str(e)) from None
    _only(row, allowed, what, "")
    return row


def _only(row: dict[str, Any], allowed: tuple[str, ...], what: str, at: str) -> None:
    unknown = [k for k in row if k not in allowed]
    if unknown:
        raise ApiError(
            400,
            f"unknown field(s) {', '.join(repr(k[:60]) for k in unknown[:5])}: {what} has {', '.join(allowed)}",
            at + unknown[0][:60],
        )


def _parsed(kind: str, row: dict[str, Any], s: ApiSettings, now: datetime, at: str = "") -> Any:
    try:
        return parse_row(kind, row, limits(s.imports, now))
    except ValueError as e:
        f = field_of(str(e), kind)
        raise ApiError(400, f"{at}{str(e)}" if at else str(e), at + f if f else (at.rstrip(".") or None)) from None


def _schedule(raw: Any, loan: Loan, s: ApiSettings, now: datetime) -> list[InstallmentRow]:
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_SCHEDULE:
        raise ApiError(400, f"schedule must be a list of 1 to {MAX_SCHEDULE} installments", "schedule")
    allowed = tuple(c for c in COLUMNS["installments"] if c != "loan_id")
    out: list[InstallmentRow] = []
    seen: set[int] = set()
    parent = {loan.loan_id: Parent(loan.currency, loan.disbursed_on)}
    for i, row in enumerate(raw):
        at = f"schedule[{i}]."
        if not isinstance(row, dict):
            raise ApiError(400, f"schedule[{i}] must be an object", f"schedule[{i}]")
        _only(row, allowed, "an installment", at)
        rec = _parsed("installments", {**row, "loan_id": loan.loan_id}, s, now, at)
        try:
            rec = with_parent(rec, parent)
            assert isinstance(rec, InstallmentRow)
        except ValueError as e:
            raise ApiError(400, f"{at}{e}", at + (field_of(str(e), "installments") or "due_date")) from None
        if rec.seq in seen:
            raise ApiError(400, f"{at}seq {rec.seq} appears twice in the schedule", at + "seq")
        seen.add(rec.seq)
        out.append(rec)
    return out


def _items(records: list[Any], s: ApiSettings, now: datetime) -> list[tuple[str, dict[str, Any]]]:
    prepared = ledger_import.prepare(
        list(enumerate(records, start=1)), s.imports.max_item_bytes, iso(now), source="api"
    )
    if prepared.too_large:
        raise ApiError(400, prepared.too_large[0][1])
    return prepared.first + prepared.rest


def post_loan(incoming: Incoming, webhook_id: str, s: ApiSettings, now: datetime) -> Answer:
    """POST /v1/loans: a new loan with its schedule (the import's loans and installments rules)."""

    def build() -> Built:
        row = _object_with(incoming.body, (*COLUMNS["loans"], "schedule"), "a loan")
        loan = _parsed("loans", {k: v for k, v in row.items() if k != "schedule"}, s, now)
        try:
            loan = with_parent(loan, ledger_import.known_parents("borrower", {loan.borrower_id}))
            assert isinstance(loan, Loan)
        except ValueError as e:
            raise ApiError(400, str(e), "borrower_id") from None
        schedule = _schedule(row.get("schedule"), loan, s, now)
        items = _items([loan, *schedule], s, now)
        writes = [
            api_store.put(t, i, "attribute_not_exists(entry)" if n == 0 else None) for n, (t, i) in enumerate(items)
        ]
        body = json.dumps(
            {
                "loan_id": loan.loan_id,
                "borrower_id": loan.borrower_id,
                "installments": len(schedule),
                "recorded_at": iso(now),
            }
        )
        return Built(
            body,
            writes,
            lambda _i: ApiError(
                409,
                f"loan {loan.loan_id!r} already exists: send its new schedule to PUT /v1/loans/{loan.loan_id}/schedule",
                "loan_id",
            ),
            {"loan_id": loan.loan_id, "borrower_id": loan.borrower_id, "currency": loan.currency},
        )

    return _once(webhook_id, "POST /v1/loans", s, now, build)


def put_schedule(incoming: Incoming, webhook_id: str, loan_id: str, s: ApiSettings, now: datetime) -> Answer:
    """PUT /v1/loans/{loan_id}/schedule: the loan's whole new schedule (installments not in it are removed)."""

    def build() -> Built:
        row = _object_with(incoming.body, ("schedule",), "a schedule")
        parent = ledger_import.known_parents(SCHEDULE_OF, {loan_id}).get(loan_id)
        if parent is None:
            raise ApiError(404, f"unknown loan {loan_id[:128]!r}")
        loan = Loan(loan_id, "", "", parent.currency, Decimal(0), parent.disbursed_on or date.min)
        schedule = _schedule(row.get("schedule"), loan, s, now)
        items = _items(list(schedule), s, now)
        keep = {f"INST#{r.seq:04d}" for r in schedule}
        gone = [e for e in ledger_import.installment_entries(loan_id) if e not in keep]
        if parent.arranged is not None and (
            gone or any((r.seq, r.due_date, r.principal_due, r.interest_due, r.fee_due) not in parent.arranged for r in schedule)
        ):
            raise ApiError(409, f"loan {loan_id[:128]!r} {ARRANGED}", "schedule")
        if len(items) + len(gone) > MAX_SCHEDULE + 1:
            raise ApiError(
                400, f"the change touches {len(items) + len(gone)} installments; at most {MAX_SCHEDULE + 1}", "schedule"
            )
        table = api_store.ledger_table()
        writes = [api_store.put(t, i) for t, i in items]
        writes += [api_store.delete(table, {"loan_id": {"S": loan_id}, "entry": {"S": e}}) for e in gone]
        body = json.dumps(
            {"loan_id": loan_id, "installments": len(schedule), "removed": len(gone), "recorded_at": iso(now)}
        )
        return Built(
            body,
            writes,
            lambda _i: ApiError(
                503, "the schedule changed meanwhile: retry", headers={"Retry-After": RETRY_AFTER_SECONDS}
            ),
            {"loan_id": loan_id, "currency": parent.currency or None},
        )

    return _once(webhook_id, "PUT /v1/loans/{loan_id}/schedule", s, now, build)


def put_borrower(incoming: Incoming, webhook_id: str, borrower_id: str, s: ApiSettings, now: datetime) -> Answer:
    """PUT /v1/borrowers/{borrower_id}: the borrower's profile and contact points, as a borrowers row
    (its opt_out and holds are the platform's own, replaced as a re-imported row replaces them)."""

    def build() -> Built:
        row = _object_with(incoming.body, COLUMNS["borrowers"], "a borrower")
        if row.get("borrower_id", borrower_id) != borrower_id:
            raise ApiError(400, "borrower_id in the body is not the one in the path", "borrower_id")
        rec = _parsed("borrowers", {**row, "borrower_id": borrower_id}, s, now)
        writes = [api_store.put(t, i) for t, i in _items([rec], s, now)]
        body = json.dumps({"borrower_id": borrower_id, "recorded_at": iso(now)})  # no personal data echoed
        opt_out, holds = _platform_restrictions(borrower_id)
        changed = [
            *_restricted(s, "opt_out", opt_out, rec.opt_out, now, borrower_id, webhook_id),
            *_restricted(s, "holds", holds, rec.holds, now, borrower_id, webhook_id),
        ]
        return Built(
            body,
            writes,
            lambda _i: ApiError(503, "retry", headers={"Retry-After": RETRY_AFTER_SECONDS}),
            {"borrower_id": borrower_id},
            changed,
        )

    return _once(webhook_id, "PUT /v1/borrowers/{borrower_id}", s, now, build)


def _platform_restrictions(borrower_id: str) -> tuple[frozenset[str], frozenset[str]]:
    """The borrower's opt-outs and holds the platform set (none for a new borrower)."""
    try:
        b = BorrowerModel.get(borrower_id, consistent_read=True, attributes_to_get=["opt_out", "holds"])
    except BorrowerModel.DoesNotExist:
        return frozenset(), frozenset()
    return frozenset(b.opt_out or ()), frozenset(b.holds or ())


def _restricted(
    s: ApiSettings,
    kind: str,
    before: frozenset[str],
    after: frozenset[str],
    now: datetime,
    borrower_id: str,
    webhook_id: str,
) -> list[Fact]:
    return restriction_facts(
        kind, before, after, now, s.business_tz, PLATFORM_API, borrower_id=borrower_id, key=webhook_id
    )


def change_hold(
    incoming: Incoming, webhook_id: str, of: str, ident: str, hold: str | None, s: ApiSettings, now: datetime
) -> Answer:
    """POST (``hold`` None: named in the body) or DELETE a platform hold on a borrower or a loan. Only
    the platform's own holds change: an operator's, a borrower's or a provider's stay as they are."""
    known = BORROWER_HOLDS if of == "borrower" else LOAN_HOLDS
    placing = hold is None

    def build() -> Built:
        name = hold
        if placing:
            row = _object_with(incoming.body, ("hold",), "a hold")
            name = row.get("hold")
            if not isinstance(name, str) or name not in known:
                raise ApiError(400, f"hold must be one of {', '.join(known)}", "hold")
        elif name not in known:
            raise ApiError(404, f"no hold {str(name)[:40]!r} on a {of} (holds: {', '.join(known)})")
        assert name is not None
        verb = "ADD" if placing else "DELETE"
        changed: list[Fact] = []
        if of == "borrower":  # no stream on the borrowers table: its facts are told here
            key, table, must = {"borrower_id": {"S": ident}}, api_store.borrowers_table(), "borrower_id"
            writes = [api_store.set_change(table, key, "holds", verb, name, must)]
            _, had = _platform_restrictions(ident)
            after = had | {name} if placing else had - {name}
            changed = _restricted(s, "holds", had, after, now, ident, webhook_id)
        else:  # the ledger stream tells a loan's hold changes, naming the source the LOAN entry gives
            key, table, must = {"loan_id": {"S": ident}, "entry": {"S": "LOAN"}}, api_store.ledger_table(), "loan_id"
            writes = [api_store.set_change(table, key, "holds", verb, name, must, also={"source": PLATFORM_API})]
        body = json.dumps(
            {f"{of}_id": ident, "hold": name, "placed": placing, "source": "platform", "recorded_at": iso(now)}
        )
        return Built(
            body, writes, lambda _i: ApiError(404, f"unknown {of} {ident[:128]!r}"), {f"{of}_id": ident}, changed
        )

    path = f"/v1/{of}s/{{{of}_id}}/holds" + ("" if placing else "/{hold}")
    return _once(webhook_id, ("POST " if placing else "DELETE ") + path, s, now, build)
