"""Books: the platform's files in a folder, and a deterministic synthetic book of realistic loans.

A book folder holds one or more files per kind, named by kind: ``borrowers*.csv|jsonl``,
``loans*``, ``installments*`` and ``repayments*`` (the import formats in README.md).
"""

from __future__ import annotations

import calendar
import csv
import io
import json
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

from arrears.domain.importing import COLUMNS, KINDS
from arrears.domain.timeutil import parse_instant

ANCHOR = date(2026, 3, 1)


@dataclass
class Book:
    files: dict[str, list[Path]] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path) -> Book:
        if not folder.is_dir():
            raise ValueError(f"book folder {folder} does not exist")
        book = cls()
        for path in sorted(folder.iterdir()):
            kind = next((k for k in KINDS if path.name.startswith(k)), None)
            if kind and path.suffix in (".csv", ".jsonl"):
                book.files.setdefault(kind, []).append(path)
        for kind in ("borrowers", "loans", "installments"):
            if kind not in book.files:
                raise ValueError(f"book folder {folder} has no {kind} file ({kind}.csv or {kind}.jsonl)")
        return book

    def rows(self, kind: str) -> list[dict[str, str]]:
        """The readable rows of a kind's files (a file that is not UTF-8 is the importer's to reject)."""
        out: list[dict[str, str]] = []
        for path in self.files.get(kind, []):
            try:
                text = path.read_text(encoding="utf-8-sig")
            except (OSError, UnicodeDecodeError):
                continue
            if path.suffix == ".csv":
                out.extend(csv.DictReader(io.StringIO(text, newline="")))
            else:
                for line in text.split("\n"):
                    if line.strip():
                        try:
                            row = json.loads(line, parse_float=str, parse_int=str)
                        except json.JSONDecodeError:
                            continue
                        if isinstance(row, dict):
                            out.append(row)
        return out

    def earliest_due(self) -> date:
        dues = []
        for row in self.rows("installments"):
            try:
                dues.append(date.fromisoformat(str(row.get("due_date", "")).strip()))
            except ValueError:
                continue
        if not dues:
            raise ValueError("the book has no installment with a valid due_date")
        return min(dues)


class Origin(NamedTuple):
    """Where the rows of an uploaded object come from: the user's own file (``kind/name``) and, for
    an object made of some of its rows, each row's number and first line in that file (row i of the
    object is ``rows[i - 1]``). ``rows`` is None when the object is the file itself."""

    file: str
    rows: tuple[int, ...] | None = None
    lines: tuple[int, ...] | None = None


class Upload(NamedTuple):
    key: str
    body: bytes
    origin: Origin


class _Record(NamedTuple):
    row: int  # data record number in its file, from 1 (header excluded), as the importer counts
    line: int  # the physical line it starts on
    paid_at: datetime | None  # None: unreadable, the platform sends it at once
    text: str  # the record as it stands in the file's own format


@dataclass
class _RepaymentFile:
    path: Path
    header: str  # the CSV header line ('' for JSON Lines)
    unreadable: list[_Record]  # no readable paid_at: sent at once
    timed: list[_Record]  # in paid_at order
    sent: int = 0  # of ``timed``, already sent


class RepaymentFeed:
    """A book's repayments as the platform sends them: each when the clock passes its ``paid_at``,
    in objects of the file's own format holding some of its rows, each object mapped back to the
    user's file and rows (``Upload.origin``). Rows without a readable ``paid_at`` are sent at once;
    a file that cannot be split (not UTF-8, unreadable CSV, no ``paid_at`` column) is sent whole at
    once, for the importer to judge as it is."""

    def __init__(self, book: Book) -> None:
        self.whole: list[Path] = []
        self.files: list[_RepaymentFile] = []
        self._keys: set[str] = set()
        for path in book.files.get("repayments", []):
            split = _split_repayments(path)
            if split is None:
                self.whole.append(path)
            else:
                self.files.append(split)

    def at_once(self) -> list[Upload]:
        """What the platform sends at the start: whole files, and rows without a readable paid_at."""
        out = [Upload(self._key(p, ""), p.read_bytes(), Origin(f"repayments/{p.name}")) for p in self.whole]
        out += [self._object(f, f.unreadable, "unreadable") for f in self.files if f.unreadable]
        return out

    def until(self, t: datetime, stamp: str) -> list[Upload]:
        """The rows paid by ``t`` and not sent yet, one object per file."""
        out = []
        for f in self.files:
            n = f.sent
            while n < len(f.timed) and f.timed[n].paid_at <= t:  # type: ignore[operator]
                n += 1
            if n > f.sent:
                out.append(self._object(f, f.timed[f.sent : n], stamp))
                f.sent = n
        return out

    def latest_by(self, t: datetime) -> datetime | None:
        """The latest paid_at at or before ``t`` of the rows not sent yet."""
        latest = None
        for f in self.files:
            n = f.sent
            while n < len(f.timed) and f.timed[n].paid_at <= t:  # type: ignore[operator]
                n += 1
            if n > f.sent and (latest is None or f.timed[n - 1].paid_at > latest):  # type: ignore[operator]
                latest = f.timed[n - 1].paid_at
        return latest

    def next_at(self) -> datetime | None:
        return min((f.timed[f.sent].paid_at for f in self.files if f.sent < len(f.timed)), default=None)  # type: ignore[type-var]

    def pending(self) -> int:
        return sum(len(f.timed) - f.sent for f in self.files)

    def pending_by_file(self) -> dict[str, int]:
        """``kind/name`` -> rows not sent yet (paid after the clock)."""
        return {f"repayments/{f.path.name}": len(f.timed) - f.sent for f in self.files if len(f.timed) > f.sent}

    def _object(self, f: _RepaymentFile, records: list[_Record], stamp: str) -> Upload:
        return Upload(
            self._key(f.path, stamp),
            (f.header + "".join(r.text for r in records)).encode(),
            Origin(f"repayments/{f.path.name}", tuple(r.row for r in records), tuple(r.line for r in records)),
        )

    def _key(self, path: Path, stamp: str) -> str:
        base = f"repayments/{path.stem}.{stamp}" if stamp else f"repayments/{path.stem}"
        key, n = f"{base}{path.suffix}", 1
        while key in self._keys:
            n += 1
            key = f"{base}-{n}{path.suffix}"
        self._keys.add(key)
        return key


def _split_repayments(path: Path) -> _RepaymentFile | None:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    records = _csv_records(text) if path.suffix == ".csv" else _jsonl_records(text)
    if records is None:
        return None
    header, rows = records
    timed = sorted((r for r in rows if r.paid_at is not None), key=lambda r: (r.paid_at, r.row))
    return _RepaymentFile(path, header, [r for r in rows if r.paid_at is None], timed)


def _paid_at(raw: object) -> datetime | None:
    try:
        return parse_instant(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _csv_records(text: str) -> tuple[str, list[_Record]] | None:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    out: list[_Record] = []
    try:
        header = next(reader, None)
        if not header or "paid_at" not in header:
            return None
        at = header.index("paid_at")
        last_line = reader.line_num
        for fields in reader:
            start, last_line = last_line + 1, reader.line_num
            if not fields:  # a blank line is not a row (the importer skips it too)
                continue
            out.append(
                _Record(len(out) + 1, start, _paid_at(fields[at]) if at < len(fields) else None, _csv_line(fields))
            )
    except csv.Error:  # the importer says what is wrong with it, for the file as it is
        return None
    return _csv_line(header), out


def _csv_line(fields: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(fields)
    return buf.getvalue()


def _jsonl_records(text: str) -> tuple[str, list[_Record]]:
    out: list[_Record] = []
    for n, raw in enumerate(text.split("\n"), start=1):  # as the importer reads it: not splitlines()
        if not raw.removesuffix("\r").strip():
            continue
        try:
            row = json.loads(raw, parse_float=str, parse_int=str)
        except json.JSONDecodeError:
            row = None
        paid = _paid_at(row.get("paid_at")) if isinstance(row, dict) else None
        out.append(_Record(len(out) + 1, n, paid, raw.removesuffix("\r") + "\n"))
    return "", out


# ---------------------------------------------------------------------------------- synthetic book

PRODUCTS = {
    "cash-3m": ("month", 3, Decimal("0.015")),
    "cash-6m": ("month", 6, Decimal("0.015")),
    "bnpl-4x14d": ("14d", 4, Decimal("0.006")),
}
#: Share of loans by repayment behaviour, roughly an online cash-loan book: most pay on time, about one
#: installment in six falls overdue, most of those cure within days, a few roll or default.
PERSONAS = [("on_time", 80), ("late_short", 9), ("late_long", 4), ("partial", 3), ("default", 4)]
US_ZONES = ["America/New_York", "America/Chicago", "America/Los_Angeles"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚"


def add_months(d: date, n: int) -> date:
    y, m = divmod(d.month - 1 + n, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def _money(x: Decimal) -> str:
    return str(x.quantize(Decimal("0.01")))


def _local(day: date, rng: random.Random, tz: str, late_evening: bool = False) -> str:
    t = time(23, rng.randint(0, 59)) if late_evening else time(rng.randint(8, 22), rng.randint(0, 59))
    return datetime.combine(day, t, ZoneInfo(tz)).isoformat()


def synthetic_book(dest: Path, borrowers: int = 5000, seed: int = 7, anchor: date = ANCHOR) -> Path:
    """Write a deterministic book: same seed, same files, byte for byte."""
    rng = random.Random(seed)
    dest.mkdir(parents=True, exist_ok=True)
    out: dict[str, list[dict[str, str]]] = {k: [] for k in KINDS if k != "reversals"}  # a book has no reversals
    personas, weights = zip(*PERSONAS, strict=True)
    for i in range(borrowers):
        bid = f"B{i:06d}"
        us = rng.random() < 0.04
        tz = rng.choice(US_ZONES) if us else ("Asia/Urumqi" if rng.random() < 0.02 else "Asia/Shanghai")
        out["borrowers"].append(
            {
                "borrower_id": bid,
                "name": f"Borrower {i}" if us else rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
                "phone": f"+1{rng.randint(200, 989)}{rng.randint(2000000, 9999999)}"
                if us
                else f"+861{rng.choice('3456789')}{rng.randint(100000000, 999999999)}",
                "email": f"user{i}@example.com" if rng.random() < 0.7 else "",
                "wechat_openid": "" if us else f"o{rng.getrandbits(96):024x}",
                "id_number": f"{rng.randint(10**17, 10**18 - 1)}",
                "address": f"{i % 997 + 1} Example Street, Springfield" if us else f"示例路{i % 997 + 1}号, 上海市",
                "timezone": tz,
                "language": "en-US" if us else "zh-CN",
                "jurisdiction": "US" if us else "CN",
                "credit_grade": rng.choices("ABCDE", weights=[20, 30, 25, 15, 10])[0],
                "opt_out": "sms" if rng.random() < 0.03 else "",
            }
        )
        for n in range(2 if rng.random() < 0.1 else 1):
            _loan(rng, out, bid, f"L{i:06d}{n}", tz, us, anchor, rng.choices(personas, weights=weights)[0])
    for kind, rows in out.items():
        with open(dest / f"{kind}.csv", "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=list(COLUMNS[kind]))
            w.writeheader()
            w.writerows(rows)
    return dest


def _loan(rng: random.Random, out: dict, bid: str, lid: str, tz: str, us: bool, anchor: date, persona: str) -> None:
    product = rng.choice(list(PRODUCTS))
    unit, count, rate = PRODUCTS[product]
    disbursed = anchor + timedelta(days=rng.randint(0, 29))
    principal = Decimal(rng.randint(2, 30) * 100) if us else Decimal(rng.randint(5, 200) * 100)
    out["loans"].append(
        {
            "loan_id": lid,
            "borrower_id": bid,
            "product": product,
            "currency": "USD" if us else "CNY",
            "principal": _money(principal),
            "disbursed_on": disbursed.isoformat(),
        }
    )
    remaining = principal
    part = (principal / count).quantize(Decimal("0.01"))
    for seq in range(1, count + 1):
        due = add_months(disbursed, seq) if unit == "month" else disbursed + timedelta(days=14 * seq)
        p = remaining if seq == count else part
        interest = (remaining * rate).quantize(Decimal("0.01"))
        fee = Decimal("5.00") if product == "bnpl-4x14d" else Decimal("0.00")
        remaining -= p
        out["installments"].append(
            {
                "loan_id": lid,
                "seq": str(seq),
                "due_date": due.isoformat(),
                "principal_due": _money(p),
                "interest_due": _money(interest),
                "fee_due": _money(fee),
            }
        )
        _repay(rng, out, lid, seq, due, p + interest + fee, tz, persona)


def _repay(
    rng: random.Random, out: dict, lid: str, seq: int, due: date, amount: Decimal, tz: str, persona: str
) -> None:
    def pay(day: date, amt: Decimal, k: int, late_evening: bool = False) -> None:
        out["repayments"].append(
            {
                "payment_id": f"P{lid}-{seq}-{k}",
                "loan_id": lid,
                "paid_at": _local(day, rng, tz, late_evening),
                "amount": _money(amt),
            }
        )

    if persona == "on_time" and rng.random() < 0.04:
        persona = "late_short"
    if persona == "on_time":
        pay(due - timedelta(days=rng.choice([0, 0, 0, 1, 2, 3])), amount, 1, late_evening=rng.random() < 0.15)
    elif persona == "late_short":
        pay(due + timedelta(days=rng.randint(1, 10)), amount, 1)
    elif persona == "late_long":
        pay(due + timedelta(days=rng.randint(15, 45)), amount, 1)
    elif persona == "partial":
        half = (amount / 2).quantize(Decimal("0.01"))
        pay(due, half, 1)
        if rng.random() < 0.5:
            pay(due + timedelta(days=rng.randint(20, 40)), amount - half, 2)
    # default: never pays
