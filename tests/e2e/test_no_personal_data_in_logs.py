"""End to end: no log line of a run holds a borrower's name, phone number, email, ID number, address or
WeChat openid from the book. Every line counts: the functions' logs (``out/lambda.log``, tracebacks
of failed invocations included), everything the run printed on stdout and stderr, and every Python
log record at INFO or above from any library. The analysts' files (facts, reports, the summary) are
checked too: the outcomes bucket holds no personal data."""

from __future__ import annotations

import contextlib
import csv
import json
import logging
from datetime import date
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
START = date(2026, 5, 6)  # loans that fell overdue in April are in M2 (calls, letters); May's in M1
DAYS = 12
FIELDS = ("name", "phone", "email", "id_number", "address", "wechat_openid")
# Rows the importer rejects still pass through it: their values must not be logged either (a reject
# names the field and why, never the value). Every row also has a column arrears does not know.
HOSTILE = [
    {
        "borrower_id": "BX00001",
        "name": "Quennell Vasquez-Oyelaran",
        "phone": "+14155550187",
        "email": "q.vasquez.oyelaran@example.net",
        "wechat_openid": "",
        "id_number": "Q-552-71-9034",
        "address": "4417 Larkspur Hollow Rd",
        "timezone": "Mars/Olympus_Mons",  # not a time zone
        "language": "en-US",
        "jurisdiction": "US",
        "credit_grade": "C",
        "opt_out": "",
        "passport_no": "P99218831",
    },
    {
        "borrower_id": "BX00002",
        "name": "欧阳翠花",
        "phone": "+86 139-2211-0473",  # not E.164
        "email": "ouyang.cuihua@example.cn",
        "wechat_openid": "oQx7Ve2mKd90LrTq5WnZa81c",
        "id_number": "44030519881204772X",
        "address": "深圳市南山区桂庙路88号",
        "timezone": "Asia/Shanghai",
        "language": "zh-CN",
        "jurisdiction": "CN",
        "credit_grade": "B",
        "opt_out": "",
        "passport_no": "E77120394",
    },
    {
        "borrower_id": "BX00003",
        "name": "Thaddeus Okonkwo-Birch",
        "phone": "+12025550143",
        "email": "not-an-email(at)example.org",  # not an email
        "wechat_openid": "",
        "id_number": "987-65-4329",
        "address": "19 Quarry Lane, Dunmore",
        "timezone": "America/New_York",
        "language": "en-US",
        "jurisdiction": "US",
        "credit_grade": "fax",  # not a grade
        "opt_out": "telegram",  # not a channel
        "passport_no": "X31187302",
    },
]


def needles(borrowers: list[dict[str, str]]) -> dict[str, str]:
    """Each personal value as it could appear in a log line -> which borrower and field it is."""
    out: dict[str, str] = {}
    for b in borrowers:
        for field in (*FIELDS, "passport_no"):
            value = (b.get(field) or "").strip()
            if not value:
                continue
            forms = {value, json.dumps(value)[1:-1]}  # as written, and as JSON escapes it (\\u4e2d...)
            if field == "phone":
                digits = "".join(c for c in value if c.isdigit())
                forms |= {digits, digits[2:] if digits.startswith("86") else digits[1:]}  # no +, national
            for form in forms:
                assert len(form) >= 3, f"{b['borrower_id']}.{field} is too short to search for"
                out[form] = f"{b['borrower_id']}.{field}"
    return out


def leaks(text: str, found: dict[str, str]) -> list[str]:
    """The needles in text, line by line, also after decoding a JSON line (escaped non-ASCII)."""
    hits = []
    for line in text.splitlines():
        variants = [line]
        with contextlib.suppress(ValueError):
            variants.append(json.dumps(json.loads(line), ensure_ascii=False))
        seen = set()
        for needle, what in found.items():
            where = next((v for v in variants if needle in v), None)
            if where is not None and what not in seen:
                seen.add(what)
                at = where.index(needle)
                hits.append(f"{what} in: ...{where[max(0, at - 120) : at + len(needle) + 40]}...")
    return hits


def test_the_scan_finds_a_value_however_it_is_written():
    found = needles([{"borrower_id": "B1", "name": "王伟芳", "phone": "+8613912345678", "email": "a.b@example.com"}])
    assert leaks('{"msg": "sent", "to": "8613912345678"}', found)  # no leading +
    assert leaks("dialled 13912345678", found)  # national number
    assert leaks(json.dumps({"name": "王伟芳"}), found)  # JSON-escaped Chinese
    assert leaks("ValueError: bad address a.b@example.com", found)
    assert not leaks('{"msg": "sent", "to": "+86139****5678", "borrower_id": "B1"}', found)  # masked, ids


def _book(base: Path) -> tuple[Path, list[dict[str, str]]]:
    from arrears_local.book import synthetic_book

    book = synthetic_book(base / "book", borrowers=300, seed=23)
    columns = [*HOSTILE[0].keys()]
    with open(book / "borrowers-hostile.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=columns)
        w.writeheader()
        w.writerows(HOSTILE)
    with open(book / "borrowers.csv", newline="", encoding="utf-8") as f:
        people = list(csv.DictReader(f))
    return book, people + HOSTILE


def test_no_personal_data_in_any_log_line_of_a_run(tmp_path, capfd, caplog):
    from arrears_local.cli import main

    book, people = _book(tmp_path)
    out = tmp_path / "out"
    caplog.set_level(logging.INFO)  # what a function would log at POWERTOOLS_LOG_LEVEL=INFO, from any library
    status = main(["run", "--book", str(book), "--start", START.isoformat(), "--days", str(DAYS),
                   "--out", str(out), "--param", "ShardCount=2"])  # fmt: skip
    printed = capfd.readouterr()
    assert status == 0, printed.out + printed.err

    summary = json.loads((out / "summary.json").read_text())
    # the paths that handle personal data all ran: the importer, and a sender on every channel but
    # email (this book's few US borrowers); the senders read the contact of every borrower they reach
    assert summary["invocations"].get("ImporterFunction", 0) >= 4
    assert {"sms", "voice", "wechat", "letter"} <= {c for c, n in summary["contacts"].items() if n}, summary["contacts"]

    found = needles(people)
    logs = (out / "lambda.log").read_text(encoding="utf-8")
    assert logs.count("\n") > 100, "the functions logged next to nothing: the scan would prove nothing"
    records = "\n".join(
        json.dumps({k: v for k, v in vars(r).items() if k not in ("args", "exc_info")}, default=str, ensure_ascii=False)
        + "\n"
        + r.getMessage()
        + ("\n" + logging.Formatter().formatException(r.exc_info) if r.exc_info else "")
        for r in caplog.records
    )
    problems = [
        f"{where}: {hit}"
        for where, text in (
            ("lambda.log", logs),
            ("stdout", printed.out),
            ("stderr", printed.err),
            ("python logging", records),
        )
        for hit in leaks(text, found)
    ]
    assert not problems, "personal data in the logs:\n" + "\n".join(problems[:20])

    analysts = [out / "summary.json", *(out / "outcomes").rglob("*.json"), *(out / "reports").rglob("*.json")]
    in_files = [f"{p.relative_to(out)}: {hit}" for p in analysts for hit in leaks(p.read_text(encoding="utf-8"), found)]
    assert not in_files, "personal data in the analysts' files:\n" + "\n".join(in_files[:20])
