"""The platform's HTTP API (``functions/api/app.py`` routes to these): signed requests, each turned into
ledger entries by the importer's own validator and writer, answered once and the same way forever.

Every request is checked in this order, and nothing is written unless all pass: size (413), signature
(401), JSON and fields (400, the import's wording, naming the field), the loan (400 when unknown),
then the idempotent write (202, or the first answer again, or 409). An AWS dependency failing is a 503
with ``Retry-After``: nothing was recorded (a transaction writes all or nothing), so a retry is safe.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import PynamoDBException

from ..adapters import ledger_import, webhook_secrets
from ..config import ConfigError, ImportSettings
from ..domain.api import ApiError, field_of
from ..domain.importing import (
    COLUMNS,
    RecordedPayment,
    RepaymentRow,
    json_object,
    parse_row,
    payment_conflict,
    with_parent,
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


class ApiSettings(NamedTuple):
    """What the API function needs, and no more."""

    ledger_table: str
    idempotency_table: str
    webhook_secret_id: str
    max_body_bytes: int
    imports: ImportSettings

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ApiSettings:
        env = os.environ if env is None else env
        problems = [
            f"{n} is not set" for n in ("LEDGER_TABLE", "IDEMPOTENCY_TABLE", "WEBHOOK_SECRET_ID") if not env.get(n)
        ]
        raw = env.get("MAX_BODY_BYTES", str(MAX_BODY_BYTES)).strip()
        if not raw.isdigit() or not 1024 <= int(raw) <= 6_000_000:
            problems.append(f"MAX_BODY_BYTES={raw!r} must be a whole number from 1024 to 6000000")
        try:
            imports = ImportSettings.from_env(env)
        except ConfigError as e:
            problems.append(str(e).removeprefix("bad configuration: "))
        if problems:
            raise ConfigError("bad configuration: " + "; ".join(problems))
        return cls(env["LEDGER_TABLE"], env["IDEMPOTENCY_TABLE"], env["WEBHOOK_SECRET_ID"], int(raw), imports)


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
    logger.info("answered", extra={"status": answer.status, "webhook_id": str(incoming.headers.get("webhook-id", ""))[:200]})
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


# --------------------------------------------------------------------------------- repayments


def record_repayment(incoming: Incoming, s: ApiSettings, now: datetime) -> Answer:
    """POST /v1/repayments: validated as an imported row is, written as an imported row is (with its
    idempotency item, in one transaction); a payment_id already recorded gets its first answer again,
    or 409 when the request names another loan, amount or paid_at."""
    rec = _repayment(incoming.body, s, now)
    prepared = ledger_import.prepare([(1, rec)], s.imports.max_item_bytes, iso(now))
    if prepared.too_large:
        raise ApiError(400, prepared.too_large[0][1])
    body = _recorded(ledger_import.payment_values(rec, "api", iso(now)))
    stored = ledger_import.record_once(prepared, 202, body)
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
        assert isinstance(rec, RepaymentRow)
        parsed = with_parent(rec, ledger_import.known_parents("loan", {rec.loan_id}))
    except ValueError as e:
        raise ApiError(400, str(e), field_of(str(e), "repayments")) from None
    assert isinstance(parsed, RepaymentRow)
    return parsed


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
