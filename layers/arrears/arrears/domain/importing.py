"""Import files from the platform: CSV or JSON Lines, one kind of record per file.

Every value is checked before anything is written: each row is decided on its own (a bad row is
rejected with its row number, the physical line it starts on and the reason) and the good rows still
land; a file that cannot be read as a whole is rejected whole and nothing of it is written. Values
must be plausible, not only well-formed: dates in a window around today, amounts up to a maximum,
ISO 4217 currencies, IANA zones, printable text of bounded length (``Limits``).
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from .money import MAX_MINOR_UNITS, is_currency, minor_units, parse_money
from .timeutil import iso, known_zone, parse_date, parse_instant

KINDS = ("borrowers", "loans", "installments", "repayments", "reversals")
CHANNELS = ("sms", "email", "voice", "wechat", "letter")
BORROWER_HOLDS = ("deceased", "bankrupt", "cease_contact", "attorney")
LOAN_HOLDS = ("dispute", "hardship", "paused")
FORMATS = {".csv": "csv", ".jsonl": "jsonl"}
REJECTS_SUFFIX = ".rejects.json"

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
    "repayments": ("payment_id", "loan_id", "paid_at", "amount", "currency", "method"),
    "reversals": ("payment_id", "reversed_at", "reason"),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "borrowers": ("borrower_id", "name", "phone", "timezone", "language", "jurisdiction"),
    "loans": ("loan_id", "borrower_id", "product", "currency", "principal", "disbursed_on"),
    "installments": ("loan_id", "seq", "due_date", "principal_due", "interest_due", "fee_due"),
    "repayments": ("payment_id", "loan_id", "paid_at", "amount"),
    "reversals": ("payment_id", "reversed_at"),
}
MAX_BYTES = 200 * 1024 * 1024
MAX_SEQ = 1000

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_JURISDICTION = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")
_METHOD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
#: Unicode categories that are not text a person wrote: controls (NUL, escapes), surrogates, private
#: use, unassigned code points, line and paragraph separators
_NOT_TEXT = frozenset({"Cc", "Cs", "Co", "Cn", "Zl", "Zp"})
#: bidirectional overrides and isolates, which can make a name display as something else
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


class FileRejected(ValueError):
    """The whole file cannot be read."""


@dataclass(frozen=True)
class Limits:
    """What a plausible value is. ``now`` is the stack's clock (simulated in the local stack)."""

    now: datetime
    max_amount: Decimal = Decimal("1000000000000")
    max_text: int = 1000
    years_back: int = 30
    years_ahead: int = 40
    paid_at_ahead: timedelta = timedelta(days=1)

    @property
    def earliest(self) -> date:
        return _years(self.now.date(), -self.years_back)

    @property
    def latest(self) -> date:
        return _years(self.now.date(), self.years_ahead)


def _years(d: date, n: int) -> date:
    try:
        return d.replace(year=d.year + n)
    except ValueError:  # 29 February
        return d.replace(year=d.year + n, day=28)


class Parent(NamedTuple):
    """What a row needs to know of the record it belongs to (a loan's currency and disbursement)."""

    currency: str = ""
    disbursed_on: date | None = None
    #: under an active plan or settlement: the schedule as stored (seq, due date, amounts), which a row
    #: may repeat but not change (None: no arrangement)
    arranged: frozenset[tuple[int, date, Decimal, Decimal, Decimal]] | None = None


ARRANGED = "is under an active payment plan or settlement: its schedule cannot change until the arrangement ends"
#: the parent kind asked for when a schedule changes: the loans, with their schedules when arranged
SCHEDULE_OF = "loan+schedule"


KnownParents = Callable[[str, set[str]], dict[str, Parent]]
KnownPayments = Callable[[set[str]], dict[str, "RecordedPayment"]]


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
    currency: str | None = None  # optional: when given, it must be the loan's
    method: str | None = None  # optional: how it was paid (the platform's word: card, bank_transfer, ...)


class RecordedPayment(NamedTuple):
    """A payment as first recorded (by a file or the API): a payment id never changes what it means."""

    loan_id: str
    amount: Decimal
    paid_at: str  # ISO-8601 in UTC, as stored
    reversed_at: str | None = None  # when it was reversed (looked up for reversals only)
    currency: str | None = None  # the loan's (looked up for reversals only)


@dataclass(frozen=True)
class ReversalRow:
    """A repayment taken back (a chargeback, a failed debit): a reversals row, or the API's
    ``POST /v1/repayments/{payment_id}/reversal``. The payment's loan and amount are filled in from the
    payment as recorded (``with_payment``)."""

    payment_id: str
    reversed_at: datetime
    reason: str | None = None
    loan_id: str = ""
    amount: Decimal | None = None


def payment_conflict(rec: RepaymentRow, stored: RecordedPayment) -> str | None:
    """Why ``rec`` cannot be the payment already recorded under its id, or None when it is the same
    payment (same loan, amount and instant; currency and method are not compared)."""
    if (rec.loan_id, rec.amount, iso(rec.paid_at)) == (stored.loan_id, stored.amount, stored.paid_at):
        return None
    return (
        f"payment_id {rec.payment_id!r} was already recorded with loan_id {stored.loan_id}, amount "
        f"{stored.amount}, paid_at {stored.paid_at}: a payment cannot change (send a reversal and a new payment)"
    )


Record = Borrower | Loan | InstallmentRow | RepaymentRow | ReversalRow


@dataclass(frozen=True)
class Reject:
    row: int  # the data record, from 1 (a CSV header is not a record)
    reason: str
    line: int = 0  # the physical line of the file the record starts on, from 1

    def as_dict(self) -> dict[str, object]:
        return {"row": self.row, "line": self.line, "reason": self.reason}


@dataclass
class ParsedFile:
    kind: str
    records: list[tuple[int, Record]] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    lines: dict[int, int] = field(default_factory=dict)  # row -> line it starts on
    recorded: set[int] = field(default_factory=set)  # rows already recorded as they are: nothing to write

    @property
    def rows_total(self) -> int:
        return len(self.records) + len(self.rejects)

    def reject(self, row: int, reason: str) -> None:
        self.rejects.append(Reject(row, reason, self.lines.get(row, 0)))


def kind_of(key: str) -> tuple[str, str]:
    """The kind comes from the first folder of the object key (``loans/2026-11-29.csv``); the format
    from its extension, whatever its case (``LOANS.CSV`` is a CSV file)."""
    parts = key.split("/")
    kind = parts[0] if len(parts) > 1 else ""
    if kind not in KINDS:
        raise FileRejected(f"cannot tell what {key!r} holds: put it under one of {', '.join(k + '/' for k in KINDS)}")
    name = parts[-1].lower()
    for ext, fmt in FORMATS.items():
        if name.endswith(ext):
            return kind, fmt
    raise FileRejected(f"{parts[-1]!r} is neither .csv nor .jsonl: name files <kind>/<name>.csv or <kind>/<name>.jsonl")


# --- reading ------------------------------------------------------------------------------------

Row = tuple[int, int, dict[str, Any] | None, str | None]  # (row, line, fields, error)


def read_rows(body: bytes, fmt: str, kind: str, warnings: list[str] | None = None) -> Iterator[Row]:
    """Yield (row, line, fields, error). Rows are 1-based data records (header excluded); lines are
    the physical lines (from 1) the record starts on. Unknown columns are named in ``warnings``."""
    if len(body) > MAX_BYTES:
        raise FileRejected(f"file is larger than {MAX_BYTES} bytes; split it")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise FileRejected(f"file is not UTF-8 text (byte {e.start})") from None
    sink = warnings if warnings is not None else []
    return iter(_csv_rows(text, kind, sink)) if fmt == "csv" else _jsonl_rows(text, kind, sink)


def _unknown_warning(names: list[str], kind: str) -> str:
    return (
        f"unknown column(s) {', '.join(repr(n[:60]) for n in names)} ignored: {kind} files have "
        f"{', '.join(COLUMNS[kind])}"
    )


def _csv_header(reader: Any, kind: str, warnings: list[str]) -> list[str]:
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise FileRejected("CSV file is empty (no header row)") from None
    except csv.Error as e:
        raise FileRejected(f"CSV header cannot be read: {e}") from None
    if not any(header):
        raise FileRejected("CSV file is empty (no header row)")
    missing = [c for c in REQUIRED[kind] if c not in header]
    if missing:
        raise FileRejected(f"CSV header lacks column(s) {', '.join(missing)} for {kind}")
    repeated = sorted({h for h in header if header.count(h) > 1})
    if repeated:
        raise FileRejected(f"CSV header repeats column(s) {', '.join(repeated)}: which value counts is unclear")
    unknown = [h for h in header if h not in COLUMNS[kind]]
    if unknown:
        warnings.append(_unknown_warning(unknown, kind))
    return header


def _csv_rows(text: str, kind: str, warnings: list[str]) -> list[Row]:
    csv.field_size_limit(MAX_BYTES)  # a long field is a row's problem (text limits), not the file's
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header = _csv_header(reader, kind, warnings)
    rows: list[Row] = []
    n, start = 0, reader.line_num + 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            if "unexpected end of data" in str(e):
                line = _unclosed_quote_line(text, start)
                raise FileRejected(f"a quoted field opened on line {line} is never closed") from None
            n += 1
            rows.append((n, start, None, f"CSV quoting is malformed: {e}"))
            start = reader.line_num + 1
            continue
        if fields:
            n += 1
            if len(fields) > len(header):
                rows.append((n, start, None, f"row has {len(fields)} fields, the header {len(header)}"))
            else:
                rows.append(
                    (n, start, {h: v for h, v in zip(header, fields, strict=False) if h in COLUMNS[kind]}, None)
                )
        start = reader.line_num + 1
    return rows


def _unclosed_quote_line(text: str, start: int) -> int:
    """The line (from 1) where the quoted field that is never closed opens, scanning from ``start``."""
    line, opened = start, start
    quoted = just_closed = False
    at_field_start = True
    for ch in "\n".join(text.split("\n")[start - 1 :]):
        if quoted:
            if ch == '"':
                quoted, just_closed = False, True
        elif ch == '"' and just_closed:  # a doubled quote inside a quoted field
            quoted, just_closed = True, False
        elif ch == '"' and at_field_start:
            quoted, opened = True, line
        else:
            just_closed = False
        at_field_start = not quoted and ch in ",\n"
        if ch == "\n":
            line += 1
    return opened


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"field {k[:60]!r} appears twice")
        out[k] = v
    return out


def json_object(text: str, what: str = "a JSON Lines row") -> dict[str, Any]:
    """One JSON object as the importer reads it: numbers kept as written (text), a repeated field
    refused; ValueError says what is wrong."""
    try:
        obj = json.loads(text, parse_float=str, parse_int=str, object_pairs_hook=_pairs)
    except json.JSONDecodeError as e:
        raise ValueError(f"not valid JSON ({e.msg})") from None
    except (ValueError, RecursionError) as e:
        raise ValueError(f"not usable JSON ({str(e) or 'nested too deeply'})") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{what} must be an object")
    return obj


def _jsonl_rows(text: str, kind: str, warnings: list[str]) -> Iterator[Row]:
    n = 0
    unknown: dict[str, None] = {}
    for i, raw in enumerate(text.split("\n"), start=1):  # not splitlines(): U+2028 is valid inside JSON strings
        line = raw.removesuffix("\r")
        if not line.strip():
            continue
        n += 1
        try:
            obj = json_object(line)
        except ValueError as e:
            yield n, i, None, str(e)
            continue
        for k in obj:
            if k not in COLUMNS[kind] and len(unknown) < 50:
                unknown[k] = None
        yield n, i, {k: v for k, v in obj.items() if k in COLUMNS[kind]}, None
    if unknown:
        warnings.append(_unknown_warning(list(unknown), kind))


# --- values -------------------------------------------------------------------------------------


class _Checker:
    """Field parsers bound to the file's limits."""

    def __init__(self, limits: Limits) -> None:
        self.lim = limits

    def text(self, row: dict[str, Any], name: str, required: bool = True, lines: bool = False) -> str | None:
        """Printable text of bounded length (``lines``: line breaks allowed, as in a postal address)."""
        raw = row.get(name)
        if raw is not None and not isinstance(raw, str):
            raise ValueError(f"{name} must be text, not {type(raw).__name__}")
        value = (raw or "").strip()
        if not value:
            if required:
                raise ValueError(f"{name} is missing")
            return None
        if len(value) > self.lim.max_text:
            raise ValueError(f"{name} is {len(value)} characters long; at most {self.lim.max_text}")
        bad = (
            None
            if value.isprintable()  # the common case, in C: no control, separator or format character at all
            else next(
                (
                    c
                    for c in value
                    if (unicodedata.category(c) in _NOT_TEXT or c in _BIDI) and not (lines and c == "\n")
                ),
                None,
            )
        )
        if bad is not None:
            raise ValueError(f"{name} holds a character that is not printable text (U+{ord(bad):04X})")
        return value

    def ident(self, row: dict[str, Any], name: str) -> str:
        value = self.text(row, name) or ""
        if not _ID.match(value):
            raise ValueError(
                f"{name} {value[:40]!r} is not 1-128 letters, digits and ._:- (starting with a letter or digit)"
            )
        return value

    @staticmethod
    def _str(row: dict[str, Any], name: str, form: str) -> str | None:
        """The field as JSON Lines or CSV gave it, if it is text at all (not a number, list or object)."""
        raw = row.get(name)
        if raw is not None and not isinstance(raw, str):
            raise ValueError(f"{name} must be {form} text, not {type(raw).__name__}")
        return raw

    def day(self, row: dict[str, Any], name: str) -> date:
        d = _field(name, parse_date, self._str(row, name, "a YYYY-MM-DD"))
        if not self.lim.earliest <= d <= self.lim.latest:
            raise ValueError(
                f"{name} {d.isoformat()} is outside the plausible window "
                f"{self.lim.earliest.isoformat()}..{self.lim.latest.isoformat()}"
            )
        return d

    def instant(self, row: dict[str, Any], name: str) -> datetime:
        raw = self._str(row, name, "an ISO-8601")
        t = _field(name, parse_instant, raw)
        if t.astimezone(UTC).date() < self.lim.earliest:
            raise ValueError(f"{name} {raw} is before {self.lim.earliest.isoformat()}")
        if t > self.lim.now + self.lim.paid_at_ahead:
            raise ValueError(
                f"{name} {raw} is in the future (after {(self.lim.now + self.lim.paid_at_ahead).isoformat()})"
            )
        return t

    def money(self, row: dict[str, Any], name: str, places: int = MAX_MINOR_UNITS, allow_zero: bool = True) -> Decimal:
        return _field(
            name,
            lambda v: parse_money(v, places=places, allow_zero=allow_zero, quantize=False, maximum=self.lim.max_amount),
            row.get(name),
        )

    @staticmethod
    def words(row: dict[str, Any], name: str, known: tuple[str, ...]) -> frozenset[str]:
        """An optional list of words from a fixed vocabulary: 'a;b' in CSV, a list or 'a;b' in JSON Lines."""
        raw = row.get(name) or ""
        if isinstance(raw, list):
            if not all(isinstance(w, str) for w in raw):
                raise ValueError(f"{name} must be a list of words")
            words = list(raw)
        elif isinstance(raw, str):
            words = [p for p in re.split(r"[;|, ]+", raw) if p]
        else:
            raise ValueError(f"{name} must be words separated by ';' or a list")
        bad = [w[:30] for w in words if w not in known]
        if bad:
            raise ValueError(f"{name} has unknown value(s) {', '.join(bad[:5])} (known: {', '.join(known)})")
        return frozenset(words)

    def borrower(self, row: dict[str, Any]) -> Borrower:
        phone = self.text(row, "phone") or ""
        if not _E164.match(phone):
            raise ValueError("phone is not in E.164 form (e.g. +8613800138000)")
        email = self.text(row, "email", required=False)
        if email and not _EMAIL.match(email):
            raise ValueError("email is not a valid address")
        tz = self.text(row, "timezone") or ""
        _field("timezone", known_zone, tz)
        language = self.text(row, "language") or ""
        if not _LANGUAGE.match(language):
            raise ValueError(f"language {language[:40]!r} is not a BCP 47 tag such as zh-CN")
        jurisdiction = (self.text(row, "jurisdiction") or "").upper()
        if not _JURISDICTION.match(jurisdiction):
            raise ValueError(f"jurisdiction {jurisdiction[:40]!r} is not an ISO 3166 code such as CN or US-CA")
        return Borrower(
            borrower_id=self.ident(row, "borrower_id"),
            name=self.text(row, "name") or "",
            phone=phone,
            email=email,
            wechat_openid=self.text(row, "wechat_openid", required=False),
            id_number=self.text(row, "id_number", required=False),
            address=self.text(row, "address", required=False, lines=True),
            timezone=tz,
            language=language,
            jurisdiction=jurisdiction,
            credit_grade=self.text(row, "credit_grade", required=False),
            opt_out=self.words(row, "opt_out", CHANNELS),
            holds=self.words(row, "holds", BORROWER_HOLDS),
        )

    def loan(self, row: dict[str, Any]) -> Loan:
        currency = (self.text(row, "currency") or "").upper()
        if not is_currency(currency):
            raise ValueError(f"currency {currency[:40]!r} is not an ISO 4217 currency code")
        return Loan(
            loan_id=self.ident(row, "loan_id"),
            borrower_id=self.ident(row, "borrower_id"),
            product=self.text(row, "product") or "",
            currency=currency,
            principal=self.money(row, "principal", minor_units(currency), allow_zero=False),
            disbursed_on=self.day(row, "disbursed_on"),
            holds=self.words(row, "holds", LOAN_HOLDS),
        )

    def installment(self, row: dict[str, Any]) -> InstallmentRow:
        seq_raw = self.text(row, "seq") or ""
        if not seq_raw.isdigit() or not 1 <= int(seq_raw[:6]) <= MAX_SEQ or len(seq_raw) > 6:
            raise ValueError(f"seq {seq_raw[:20]!r} is not a whole number from 1 to {MAX_SEQ}")
        # amounts are checked to the most places any currency has here, to the loan's own currency
        # once the loan is known
        amounts = {n: self.money(row, n) for n in ("principal_due", "interest_due", "fee_due")}
        if sum(amounts.values()) <= 0:
            raise ValueError("installment amount due is zero")
        if sum(amounts.values()) > self.lim.max_amount:
            raise ValueError(
                f"installment amount due is above the maximum of {self.lim.max_amount} (setting MaxAmount)"
            )
        return InstallmentRow(
            loan_id=self.ident(row, "loan_id"),
            seq=int(seq_raw),
            due_date=self.day(row, "due_date"),
            **amounts,
        )

    def repayment(self, row: dict[str, Any]) -> RepaymentRow:
        payment_id, loan_id = self.ident(row, "payment_id"), self.ident(row, "loan_id")
        paid_at, amount = self.instant(row, "paid_at"), self.money(row, "amount", allow_zero=False)
        currency = (self.text(row, "currency", required=False) or "").upper() or None
        if currency is not None and not is_currency(currency):
            raise ValueError(f"currency {currency[:40]!r} is not an ISO 4217 currency code")
        method = self.text(row, "method", required=False)
        if method is not None and not _METHOD.match(method):
            raise ValueError(
                f"method {method[:40]!r} is not 1-64 letters, digits and ._:- (starting with a letter or digit)"
            )
        return RepaymentRow(payment_id, loan_id, paid_at, amount, currency, method)

    def reversal(self, row: dict[str, Any]) -> ReversalRow:
        payment_id = self.ident(row, "payment_id")
        return ReversalRow(payment_id, self.instant(row, "reversed_at"), self.text(row, "reason", required=False))


def _field(name: str, fn: Callable[[Any], Any], raw: Any) -> Any:
    try:
        return fn(raw)
    except ValueError as e:
        raise ValueError(f"{name}: {e}") from None


def row_parser(kind: str, limits: Limits) -> Callable[[dict[str, Any]], Record]:
    """The parser of one kind's rows: each row checked on its own (ValueError names the field and
    what is wrong)."""
    c = _Checker(limits)
    parsers: dict[str, Callable[[dict[str, Any]], Record]] = {
        "borrowers": c.borrower,
        "loans": c.loan,
        "installments": c.installment,
        "repayments": c.repayment,
        "reversals": c.reversal,
    }
    return parsers[kind]


def parse_row(kind: str, row: dict[str, Any], limits: Limits) -> Record:
    """One row of a kind, checked on its own."""
    return row_parser(kind, limits)(row)


def _parent_key(rec: Record) -> tuple[str, str] | None:
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
    key: str,
    body: bytes,
    known_parents: KnownParents | None = None,
    limits: Limits | None = None,
    known_payments: KnownPayments | None = None,
) -> ParsedFile:
    """Validate a file. ``known_parents(kind, ids)`` returns, of the given parent ids, those that exist
    (with a loan's currency and disbursement date; ``kind`` is ``borrower``, ``loan``, or for an
    installments file ``loan+schedule``: then also an arranged loan's schedule); ``known_payments(ids)`` the payments already
    recorded under those ids. Each is asked once per file."""
    kind, fmt = kind_of(key)
    lim = limits or Limits(datetime.now(UTC))
    out = ParsedFile(kind)
    seen: dict[tuple[object, ...], int] = {}
    parse = row_parser(kind, lim)
    for n, line, row, error in read_rows(body, fmt, kind, out.warnings):
        out.lines[n] = line
        if error or row is None:
            out.reject(n, error or "empty row")
            continue
        try:
            rec = parse(row)
        except ValueError as e:
            out.reject(n, str(e))
            continue
        ident = _identity(rec)
        if ident in seen:
            out.reject(n, f"duplicate of row {seen[ident]} in this file")
            continue
        seen[ident] = n
        out.records.append((n, rec))
    if known_parents is not None:
        _check_parents(out, known_parents)
    if known_payments is not None:
        (_check_reversals if kind == "reversals" else _check_payments)(out, known_payments)
    out.rejects.sort(key=lambda r: r.row)
    return out


def with_payment(rec: ReversalRow, known: dict[str, RecordedPayment]) -> ReversalRow:
    """A reversal checked against the payment it takes back (``known``: the payments recorded, by id),
    with that payment's loan and amount; ValueError says why it cannot be taken."""
    payment = known.get(rec.payment_id)
    if payment is None:
        raise ValueError(f"unknown payment {rec.payment_id!r}")
    if payment.paid_at and rec.reversed_at < parse_instant(payment.paid_at):
        raise ValueError(f"reversed_at {iso(rec.reversed_at)} is before the payment's paid_at {payment.paid_at}")
    return replace(rec, loan_id=payment.loan_id, amount=payment.amount)


def _check_reversals(out: ParsedFile, known_payments: KnownPayments) -> None:
    """Each reversal needs a recorded payment; a payment reversed already (by a file or the API) is
    accepted and left as it is: a payment is reversed once (``out.recorded``)."""
    ids = {rec.payment_id for _, rec in out.records if isinstance(rec, ReversalRow)}
    if not ids:
        return
    stored = known_payments(ids)
    kept: list[tuple[int, Record]] = []
    for n, rec in out.records:
        if isinstance(rec, ReversalRow):
            try:
                rec = with_payment(rec, stored)
            except ValueError as e:
                out.reject(n, str(e))
                continue
            if stored[rec.payment_id].reversed_at:
                out.recorded.add(n)
        kept.append((n, rec))
    out.records = kept


def _check_payments(out: ParsedFile, known_payments: KnownPayments) -> None:
    """A payment id already recorded: the same payment again is accepted and left as it is (nothing to
    write: ``out.recorded``); another loan, amount or time under that id is rejected."""
    ids = {rec.payment_id for _, rec in out.records if isinstance(rec, RepaymentRow)}
    if not ids:
        return
    stored = known_payments(ids)
    kept: list[tuple[int, Record]] = []
    for n, rec in out.records:
        before = stored.get(rec.payment_id) if isinstance(rec, RepaymentRow) else None
        if isinstance(rec, RepaymentRow) and before is not None:
            conflict = payment_conflict(rec, before)
            if conflict:
                out.reject(n, conflict)
                continue
            out.recorded.add(n)
        kept.append((n, rec))
    out.records = kept


def _check_parents(out: ParsedFile, known_parents: KnownParents) -> None:
    wanted: dict[str, set[str]] = {}
    for _, rec in out.records:
        parent = _parent_key(rec)
        if parent:
            wanted.setdefault(parent[0], set()).add(parent[1])
    if not wanted:
        return
    ((parent_kind, ids),) = wanted.items()
    if any(isinstance(rec, InstallmentRow) for _, rec in out.records):
        parent_kind = SCHEDULE_OF  # a schedule: whether the loan is under an arrangement matters too
    known = known_parents(parent_kind, ids)
    kept: list[tuple[int, Record]] = []
    for n, rec in out.records:
        try:
            kept.append((n, with_parent(rec, known)))
        except ValueError as e:
            out.reject(n, str(e))
    out.records = kept


def with_parent(rec: Record, known: dict[str, Parent]) -> Record:
    """A record checked against the record it belongs to (``known``: the parents found, by id), its
    amounts written with the loan's currency's decimals; ValueError says why it cannot be taken."""
    parent = _parent_key(rec)
    if parent is None:
        return rec
    if parent[1] not in known:
        raise ValueError(f"unknown {parent[0]} {parent[1]!r}")
    info = known[parent[1]]
    reason = _against_parent(rec, info)
    if reason:
        raise ValueError(reason)
    if not info.currency:
        return rec
    rec = _in_minor_units(rec, info.currency)
    return replace(rec, currency=info.currency) if isinstance(rec, RepaymentRow) else rec


def _against_parent(rec: Record, loan: Parent) -> str | None:
    if isinstance(rec, InstallmentRow) and loan.arranged is not None:
        same = (rec.seq, rec.due_date, rec.principal_due, rec.interest_due, rec.fee_due) in loan.arranged
        if not same:
            return f"loan {rec.loan_id!r} {ARRANGED}"
    if loan.disbursed_on is not None:
        if isinstance(rec, InstallmentRow) and rec.due_date < loan.disbursed_on:
            return (
                f"due_date {rec.due_date.isoformat()} is before the loan's disbursed_on {loan.disbursed_on.isoformat()}"
            )
        if isinstance(rec, RepaymentRow) and rec.paid_at.date() < loan.disbursed_on:
            return (
                f"paid_at {rec.paid_at.isoformat()} is before the loan's disbursed_on {loan.disbursed_on.isoformat()}"
            )
    if isinstance(rec, RepaymentRow) and rec.currency and loan.currency and rec.currency != loan.currency:
        return f"currency {rec.currency} is not the loan's currency {loan.currency}"
    return _currency_places_problem(rec, loan.currency) if loan.currency else None


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
