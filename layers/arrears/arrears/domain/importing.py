"""Import files from the platform: CSV or JSON Lines, one kind of record per file.

Each row is validated on its own; a bad row is rejected with its row number and reason and the good
rows still land. A file that cannot be parsed at all is rejected whole.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from .money import MAX_MINOR_UNITS, minor_units, parse_money
from .timeutil import parse_date, parse_instant, zone

KINDS = ("borrowers", "loans", "installments", "repayments")
CHANNELS = ("sms", "email", "voice", "wechat", "letter")
BORROWER_HOLDS = ("deceased", "bankrupt", "cease_contact", "attorney")
LOAN_HOLDS = ("dispute", "hardship", "paused")

COLUMNS: dict[str, tuple[str, ...]] = {
    "borrowers": (
        "borrower_id",
        "name",
        "phone",
        "email",
        "wechat_openid",
        "id_number",
        "address",
        "timezone",
        "language",
        "jurisdiction",
        "credit_grade",
        "opt_out",
        "holds",
    ),
    "loans": ("loan_id", "borrower_id", "product", "currency", "principal", "disbursed_on", "holds"),
    "installments": ("loan_id", "seq", "due_date", "principal_due", "interest_due", "fee_due"),
    "repayments": ("payment_id", "loan_id", "paid_at", "amount"),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "borrowers": ("borrower_id", "name", "phone", "timezone", "language", "jurisdiction"),
    "loans": ("loan_id", "borrower_id", "product", "currency", "principal", "disbursed_on"),
    "installments": ("loan_id", "seq", "due_date", "principal_due", "interest_due", "fee_due"),
    "repayments": ("payment_id", "loan_id", "paid_at", "amount"),
}
MAX_BYTES = 200 * 1024 * 1024

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


class FileRejected(ValueError):
    """The whole file cannot be read."""


@dataclass(frozen=True)
class Borrower:
    borrower_id: str
    name: str
    phone: str
    email: str | None
    wechat_openid: str | None
    id_number: str | None
    address: str | None
    timezone: str
    language: str
    jurisdiction: str
    credit_grade: str | None
    opt_out: frozenset[str]
    holds: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Loan:
    loan_id: str
    borrower_id: str
    product: str
    currency: str
    principal: Decimal
    disbursed_on: date
    holds: frozenset[str] = frozenset()


@dataclass(frozen=True)
class InstallmentRow:
    loan_id: str
    seq: int
    due_date: date
    principal_due: Decimal
    interest_due: Decimal
    fee_due: Decimal


@dataclass(frozen=True)
class RepaymentRow:
    payment_id: str
    loan_id: str
    paid_at: datetime
    amount: Decimal


Record = Borrower | Loan | InstallmentRow | RepaymentRow


@dataclass(frozen=True)
class Reject:
    row: int
    reason: str


@dataclass
class ParsedFile:
    kind: str
    records: list[tuple[int, Record]] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)

    @property
    def rows_total(self) -> int:
        return len(self.records) + len(self.rejects)


def kind_of(key: str) -> tuple[str, str]:
    """The kind comes from the first folder of the object key (``loans/2026-11-29.csv``); the format
    from its extension."""
    parts = key.split("/")
    kind = parts[0] if len(parts) > 1 else ""
    if kind not in KINDS:
        raise FileRejected(f"cannot tell what {key!r} holds: put it under one of {', '.join(k + '/' for k in KINDS)}")
    name = parts[-1].lower()
    for ext in (".csv", ".jsonl"):
        if name.endswith(ext):
            return kind, "csv" if ext == ".csv" else "jsonl"
    raise FileRejected(f"{key!r} is neither .csv nor .jsonl")


def read_rows(body: bytes, fmt: str, kind: str) -> Iterable[tuple[int, dict[str, Any] | None, str | None]]:
    """Yield (row number, fields, error). Row numbers are 1-based data rows (header excluded)."""
    if len(body) > MAX_BYTES:
        raise FileRejected(f"file is larger than {MAX_BYTES} bytes; split it")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise FileRejected(f"file is not UTF-8 text (byte {e.start})") from None
    return _csv_rows(text, kind) if fmt == "csv" else _jsonl_rows(text)


def _csv_rows(text: str, kind: str) -> Iterable[tuple[int, dict[str, Any] | None, str | None]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames
    if not header:
        raise FileRejected("CSV file is empty (no header row)")
    missing = [c for c in REQUIRED[kind] if c not in header]
    if missing:
        raise FileRejected(f"CSV header lacks column(s) {', '.join(missing)} for {kind}")
    rows: list[tuple[int, dict[str, Any] | None, str | None]] = []
    try:
        for n, row in enumerate(reader, start=1):
            if None in row:
                rows.append((n, None, "row has more fields than the header"))
            else:
                rows.append((n, {k: v for k, v in row.items() if k is not None}, None))
    except csv.Error as e:
        raise FileRejected(f"CSV cannot be read past line {reader.line_num}: {e}") from None
    return rows


def _jsonl_rows(text: str) -> Iterable[tuple[int, dict[str, Any] | None, str | None]]:
    n = 0
    for raw in text.split("\n"):  # not splitlines(): U+2028 and friends are valid inside JSON strings
        line = raw.removesuffix("\r")
        if not line.strip():
            continue
        n += 1
        try:
            obj = json.loads(line, parse_float=str, parse_int=str)
        except json.JSONDecodeError as e:
            yield n, None, f"not valid JSON ({e.msg})"
            continue
        if not isinstance(obj, dict):
            yield n, None, "a JSON Lines row must be an object"
            continue
        yield n, obj, None


def _text(row: dict[str, Any], name: str, required: bool = True) -> str | None:
    raw = row.get(name)
    value = "" if raw is None else str(raw).strip()
    if not value:
        if required:
            raise ValueError(f"{name} is missing")
        return None
    return value


def _ident(row: dict[str, Any], name: str) -> str:
    value = _text(row, name)
    assert value is not None
    if not _ID.match(value):
        raise ValueError(f"{name} {value!r} has characters other than letters, digits and ._:-")
    return value


def _field(name: str, fn: Callable[[Any], Any], raw: Any) -> Any:
    try:
        return fn(raw)
    except ValueError as e:
        raise ValueError(f"{name}: {e}") from None


def _word_list(row: dict[str, Any], name: str, known: tuple[str, ...]) -> frozenset[str]:
    """An optional list of words from a fixed vocabulary: 'a;b' in CSV, a list or 'a;b' in JSON Lines."""
    raw = row.get(name) or ""
    words = [str(w) for w in raw] if isinstance(raw, list) else [p for p in re.split(r"[;|, ]+", str(raw)) if p]
    bad = [w for w in words if w not in known]
    if bad:
        raise ValueError(f"{name} has unknown value(s) {', '.join(bad)} (known: {', '.join(known)})")
    return frozenset(words)


def _borrower(row: dict[str, Any]) -> Borrower:
    phone = _text(row, "phone")
    if not _E164.match(phone or ""):
        raise ValueError("phone is not in E.164 form (e.g. +8613800138000)")
    email = _text(row, "email", required=False)
    if email and not _EMAIL.match(email):
        raise ValueError("email is not a valid address")
    tz = _text(row, "timezone")
    assert tz is not None
    _field("timezone", zone, tz)
    language = _text(row, "language") or ""
    if not _LANGUAGE.match(language):
        raise ValueError(f"language {language!r} is not a BCP 47 tag such as zh-CN")
    opt = _word_list(row, "opt_out", CHANNELS)
    return Borrower(
        borrower_id=_ident(row, "borrower_id"),
        name=_text(row, "name") or "",
        phone=phone or "",
        email=email,
        wechat_openid=_text(row, "wechat_openid", required=False),
        id_number=_text(row, "id_number", required=False),
        address=_text(row, "address", required=False),
        timezone=tz,
        language=language,
        jurisdiction=(_text(row, "jurisdiction") or "").upper(),
        credit_grade=_text(row, "credit_grade", required=False),
        opt_out=opt,
        holds=_word_list(row, "holds", BORROWER_HOLDS),
    )


def _loan(row: dict[str, Any]) -> Loan:
    currency = (_text(row, "currency") or "").upper()
    if not _CURRENCY.match(currency):
        raise ValueError(f"currency {currency!r} is not an ISO 4217 code")
    places = minor_units(currency)
    return Loan(
        loan_id=_ident(row, "loan_id"),
        borrower_id=_ident(row, "borrower_id"),
        product=_text(row, "product") or "",
        currency=currency,
        principal=_field("principal", lambda v: parse_money(v, places=places, allow_zero=False), row.get("principal")),
        disbursed_on=_field("disbursed_on", parse_date, row.get("disbursed_on")),
        holds=_word_list(row, "holds", LOAN_HOLDS),
    )


def _any_currency_money(raw: object) -> Decimal:
    """Decimals up to the most any currency has; the loan's own currency is checked once known."""
    return parse_money(raw, places=MAX_MINOR_UNITS, quantize=False)


def _installment(row: dict[str, Any]) -> InstallmentRow:
    seq_raw = _text(row, "seq")
    if not (seq_raw or "").isdigit() or int(seq_raw or 0) < 1:
        raise ValueError(f"seq {seq_raw!r} is not a positive whole number")
    # The ledger knows the loan's currency; amounts are checked to at most 2 places here and to the
    # currency's own minor units when the loan is known.
    amounts = {n: _field(n, _any_currency_money, row.get(n)) for n in ("principal_due", "interest_due", "fee_due")}
    if sum(amounts.values()) <= 0:
        raise ValueError("installment amount due is zero")
    return InstallmentRow(
        loan_id=_ident(row, "loan_id"),
        seq=int(seq_raw or 0),
        due_date=_field("due_date", parse_date, row.get("due_date")),
        **amounts,
    )


def _repayment(row: dict[str, Any]) -> RepaymentRow:
    return RepaymentRow(
        payment_id=_ident(row, "payment_id"),
        loan_id=_ident(row, "loan_id"),
        paid_at=_field("paid_at", parse_instant, row.get("paid_at")),
        amount=_field(
            "amount",
            lambda v: parse_money(v, places=MAX_MINOR_UNITS, allow_zero=False, quantize=False),
            row.get("amount"),
        ),
    )


_PARSERS: dict[str, Callable[[dict[str, Any]], Record]] = {
    "borrowers": _borrower,
    "loans": _loan,
    "installments": _installment,
    "repayments": _repayment,
}


def _parent_key(kind: str, rec: Record) -> tuple[str, str] | None:
    if isinstance(rec, Loan):
        return "borrower", rec.borrower_id
    if isinstance(rec, InstallmentRow | RepaymentRow):
        return "loan", rec.loan_id
    return None


def _identity(rec: Record) -> tuple[object, ...]:
    if isinstance(rec, Borrower):
        return (rec.borrower_id,)
    if isinstance(rec, Loan):
        return (rec.loan_id,)
    if isinstance(rec, InstallmentRow):
        return (rec.loan_id, rec.seq)
    return (rec.payment_id,)


def parse_file(
    key: str, body: bytes, known_parents: Callable[[str, set[str]], dict[str, str]] | None = None
) -> ParsedFile:
    """Validate a file. ``known_parents(kind, ids)`` returns, of the given parent ids, those that exist
    mapped to their currency ('' for borrowers); it is asked once per file."""
    kind, fmt = kind_of(key)
    out = ParsedFile(kind)
    seen: dict[tuple[object, ...], int] = {}
    for n, row, error in read_rows(body, fmt, kind):
        if error or row is None:
            out.rejects.append(Reject(n, error or "empty row"))
            continue
        try:
            rec = _PARSERS[kind](row)
        except ValueError as e:
            out.rejects.append(Reject(n, str(e)))
            continue
        ident = _identity(rec)
        if ident in seen:
            out.rejects.append(Reject(n, f"duplicate of row {seen[ident]} in this file"))
            continue
        seen[ident] = n
        out.records.append((n, rec))
    if known_parents is not None:
        _check_parents(out, known_parents)
    out.rejects.sort(key=lambda r: r.row)
    return out


def _check_parents(out: ParsedFile, known_parents: Callable[[str, set[str]], dict[str, str]]) -> None:
    wanted: dict[str, set[str]] = {}
    for _, rec in out.records:
        parent = _parent_key(out.kind, rec)
        if parent:
            wanted.setdefault(parent[0], set()).add(parent[1])
    if not wanted:
        return
    ((parent_kind, ids),) = wanted.items()
    known = known_parents(parent_kind, ids)
    kept: list[tuple[int, Record]] = []
    for n, rec in out.records:
        parent = _parent_key(out.kind, rec)
        assert parent is not None
        if parent[1] not in known:
            out.rejects.append(Reject(n, f"unknown {parent_kind} {parent[1]!r}"))
            continue
        currency = known[parent[1]]
        reason = _currency_places_problem(rec, currency) if currency else None
        if reason:
            out.rejects.append(Reject(n, reason))
            continue
        kept.append((n, _in_minor_units(rec, currency) if currency else rec))
    out.records = kept


def _in_minor_units(rec: Record, currency: str) -> Record:
    """Amounts written with the currency's own number of decimals (CNY 10.5 -> 10.50)."""
    step = Decimal(1).scaleb(-minor_units(currency))
    if isinstance(rec, InstallmentRow):
        return replace(
            rec,
            principal_due=rec.principal_due.quantize(step),
            interest_due=rec.interest_due.quantize(step),
            fee_due=rec.fee_due.quantize(step),
        )
    if isinstance(rec, RepaymentRow):
        return replace(rec, amount=rec.amount.quantize(step))
    return rec


def _currency_places_problem(rec: Record, currency: str) -> str | None:
    places = minor_units(currency)
    amounts: dict[str, Decimal] = {}
    if isinstance(rec, InstallmentRow):
        amounts = {"principal_due": rec.principal_due, "interest_due": rec.interest_due, "fee_due": rec.fee_due}
    elif isinstance(rec, RepaymentRow):
        amounts = {"amount": rec.amount}
    for name, value in amounts.items():
        if value != value.quantize(Decimal(1).scaleb(-places)):
            return f"{name}: amount {value} has more than {places} decimal places for {currency}"
    return None
