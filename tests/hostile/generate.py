"""The hostile import corpus: one file per case, with what the importer must say about it.

``python tests/hostile/generate.py`` writes the files under ``tests/hostile/corpus/`` (checked in);
a test fails when they differ from what this script makes. Every case is imported, in order, into a
stack that already holds BASE (two borrowers, two loans); the integration test checks each report's
verdicts and the tables' contents, and that the import DLQ stays empty.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

CORPUS = Path(__file__).parent / "corpus"

B_HEAD = "borrower_id,name,phone,email,wechat_openid,id_number,address,timezone,language,jurisdiction,credit_grade,opt_out,holds\n"
L_HEAD = "loan_id,borrower_id,product,currency,principal,disbursed_on,holds\n"
I_HEAD = "loan_id,seq,due_date,principal_due,interest_due,fee_due\n"
R_HEAD = "payment_id,loan_id,paid_at,amount\n"


def _b(bid: str, name: str = "Test Person", tz: str = "Asia/Shanghai", phone: str = "+8613800000000") -> str:
    return f"{bid},{name},{phone},,,,,{tz},zh-CN,CN,B,,\n"


#: what the stack holds before the cases (the test imports these first)
BASE = {
    "borrowers/base.csv": B_HEAD + _b("HB1") + _b("HB2", phone="+8613800000002"),
    "loans/base.csv": L_HEAD + "HL1,HB1,cash-3m,CNY,300.00,2026-02-01,\nHL2,HB2,cash-3m,JPY,30000,2026-02-01,\n",
    "installments/base.csv": I_HEAD + "HL1,1,2026-03-01,100.00,5.00,0\nHL2,1,2026-03-01,10000,500,0\n",
}


@dataclass
class Case:
    key: str
    body: bytes
    accepted: int = 0
    rejects: dict[int, str] = field(default_factory=dict)  # row -> words its reason must contain
    lines: dict[int, int] = field(default_factory=dict)  # row -> the physical line it must start on
    whole: str | None = None  # words of a whole-file rejection
    warning: str | None = None  # words one warning must contain
    present: list[tuple[str, str, str]] = field(default_factory=list)  # (table, key, sort key or '')
    absent: list[tuple[str, str, str]] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)  # "table|key|sk|attribute" -> stored value


def _jsonl(*rows: dict) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()


def _repayment(pid: str, paid_at: str, amount: str = "10.00", loan: str = "HL1") -> str:
    return f"{pid},{loan},{paid_at},{amount}\n"


def cases() -> list[Case]:
    good_pay = _repayment("HP-ok", "2026-03-02T10:00:00+08:00")
    ok = ("LedgerTable", "HL1", "PAY#HP-ok")
    borrower = {
        "phone": "+8613800000009",
        "timezone": "Asia/Shanghai",
        "language": "zh-CN",
        "jurisdiction": "CN",
    }
    return [
        Case(  # 27+ digit amounts raised decimal.InvalidOperation and failed the whole file
            "repayments/amount_27_digits.csv",
            (R_HEAD + _repayment("HP-big", "2026-03-02T10:00:00+08:00", "9" * 27) + good_pay).encode(),
            accepted=1,
            rejects={1: "more than 24 digits"},
            present=[ok],
            absent=[("LedgerTable", "HL1", "PAY#HP-big")],
        ),
        Case(  # a 450 KB field made the DynamoDB write fail half-way (a borrower without contact row)
            "borrowers/field_450kb.jsonl",
            _jsonl(
                {"borrower_id": "HB-huge", "name": "x" * 450_000, **borrower},
                {"borrower_id": "HB-fine", "name": "Fine Person", **borrower},
            ),
            accepted=1,
            rejects={1: "name is 450000 characters long"},
            present=[("BorrowersTable", "HB-fine", ""), ("ContactsTable", "HB-fine", "")],
            absent=[("BorrowersTable", "HB-huge", ""), ("ContactsTable", "HB-huge", "")],
        ),
        Case(  # DPD 739,706 and an OverflowError in the shard worker
            "installments/due_year_1.csv",
            (I_HEAD + "HL1,2,0001-01-01,100.00,0,0\nHL1,3,2026-05-01,100.00,5.00,0\n").encode(),
            accepted=1,
            rejects={1: "outside the plausible window"},
            absent=[("LedgerTable", "HL1", "INST#0002")],
            present=[("LedgerTable", "HL1", "INST#0003")],
        ),
        Case(
            "repayments/paid_in_2099.csv",
            (R_HEAD + _repayment("HP-2099", "2099-01-01T10:00:00+08:00")).encode(),
            rejects={1: "in the future"},
            absent=[("LedgerTable", "HL1", "PAY#HP-2099")],
        ),
        Case(
            "installments/due_before_disbursal.csv",
            (I_HEAD + "HL1,4,2026-01-15,10.00,0,0\n").encode(),
            rejects={1: "before the loan's disbursed_on 2026-02-01"},
            absent=[("LedgerTable", "HL1", "INST#0004")],
        ),
        Case(
            "repayments/paid_before_disbursal.csv",
            (R_HEAD + _repayment("HP-early", "2026-01-20T10:00:00+08:00")).encode(),
            rejects={1: "before the loan's disbursed_on"},
            absent=[("LedgerTable", "HL1", "PAY#HP-early")],
        ),
        Case(
            "borrowers/zone_localtime.csv",
            (B_HEAD + _b("HB-local", tz="localtime") + _b("HB-posix", tz="/etc/localtime")).encode(),
            rejects={1: "unknown time zone 'localtime'", 2: "unknown time zone"},
            absent=[("BorrowersTable", "HB-local", ""), ("ContactsTable", "HB-local", "")],
        ),
        Case(
            "installments/compact_and_week_dates.csv",
            (I_HEAD + "HL1,5,20260315,10.00,0,0\nHL1,6,2026-W12-3,10.00,0,0\n").encode(),
            rejects={1: "not a valid YYYY-MM-DD", 2: "not a valid YYYY-MM-DD"},
            absent=[("LedgerTable", "HL1", "INST#0005"), ("LedgerTable", "HL1", "INST#0006")],
        ),
        Case(
            "loans/currency_xyz.csv",
            (L_HEAD + "HL-xyz,HB1,cash-3m,XYZ,100,2026-02-01,\n").encode(),
            rejects={1: "not an ISO 4217 currency"},
            absent=[("LedgerTable", "HL-xyz", "LOAN")],
        ),
        Case(
            "borrowers/nul_in_name.csv",
            (B_HEAD + _b("HB-nul", name="Li\x00Na")).encode(),
            rejects={1: "not printable text (U+0000)"},
            absent=[("BorrowersTable", "HB-nul", "")],
        ),
        Case(
            "borrowers/bidi_override_name.jsonl",
            _jsonl({"borrower_id": "HB-bidi", "name": "Ann\u202eeeL", **borrower}),
            rejects={1: "U+202E"},
            absent=[("BorrowersTable", "HB-bidi", "")],
        ),
        Case(  # opt-outs in columns arrears does not know were dropped without a word
            "borrowers/unknown_opt_out_columns.csv",
            (
                B_HEAD.strip() + ",opt_out_sms,opt_out_email\n" + _b("HB-cols").strip() + ",1,1\n"
            ).encode(),
            accepted=1,
            warning="unknown column(s) 'opt_out_sms', 'opt_out_email' ignored",
            present=[("BorrowersTable", "HB-cols", "")],
        ),
        Case(
            "borrowers/duplicate_column.csv",
            (B_HEAD.strip() + ",opt_out\n" + _b("HB-dup").strip() + ",sms\n").encode(),
            whole="repeats column(s) opt_out",
            absent=[("BorrowersTable", "HB-dup", ""), ("ContactsTable", "HB-dup", "")],
        ),
        Case(  # swallowed the following rows and reported the wrong count
            "repayments/unbalanced_quote.csv",
            (
                R_HEAD
                + _repayment("HP-q1", "2026-03-02T10:00:00+08:00")
                + 'HP-q2,HL1,"2026-03-02T10:00:00+08:00,10.00\n'
                + _repayment("HP-q3", "2026-03-02T10:00:00+08:00")
            ).encode(),
            whole="opened on line 3 is never closed",
            absent=[("LedgerTable", "HL1", "PAY#HP-q1"), ("LedgerTable", "HL1", "PAY#HP-q3")],
        ),
        Case(  # a 200 KB field rejected the whole file with a line number one off
            "loans/field_200kb.csv",
            (
                L_HEAD
                + "HL-a,HB1,cash-3m,CNY,100,2026-02-01,\n"
                + f'HL-b,HB1,"{"p" * 200_000}",CNY,100,2026-02-01,\n'
                + 'HL-c,HB1,"cash\n3m",CNY,100,2026-02-01,\n'
                + "HL-d,HB1,cash-3m,CNY,-1,2026-02-01,\n"
                + 'HL-e,HB1,"cash, 3m",CNY,100,2026-02-01,\n'
            ).encode(),
            accepted=2,
            rejects={2: "product is 200000 characters long", 3: "not printable text (U+000A)", 4: "negative"},
            lines={2: 3, 3: 4, 4: 6},
            present=[("LedgerTable", "HL-a", "LOAN"), ("LedgerTable", "HL-e", "LOAN")],
            absent=[("LedgerTable", "HL-b", "LOAN"), ("LedgerTable", "HL-c", "LOAN"), ("LedgerTable", "HL-d", "LOAN")],
        ),
        Case(
            "borrowers/file.txt",
            (B_HEAD + _b("HB-txt")).encode(),
            whole="neither .csv nor .jsonl",
            absent=[("BorrowersTable", "HB-txt", "")],
        ),
        Case(
            "loans/UPPER.CSV",
            (L_HEAD + "HL-upper,HB1,cash-3m,CNY,100,2026-02-01,\n").encode(),
            accepted=1,
            present=[("LedgerTable", "HL-upper", "LOAN")],
        ),
        Case(
            "misc/loans.csv",
            (L_HEAD + "HL-misc,HB1,cash-3m,CNY,100,2026-02-01,\n").encode(),
            whole="cannot tell what",
            absent=[("LedgerTable", "HL-misc", "LOAN")],
        ),
        Case(  # kept as data, verbatim; neutralised in every CSV written for people
            "borrowers/formula_injection.csv",
            (B_HEAD + _b("HB-f1", name="=cmd|' /C calc'!A0") + _b("HB-f2", name="@HYPERLINK(\"http://x\")")).encode(),
            accepted=2,
            values={"ContactsTable|HB-f1||name": "=cmd|' /C calc'!A0"},
        ),
        Case(
            "repayments/json_twice_the_same_field.jsonl",
            b'{"payment_id": "HP-twice", "loan_id": "HL1", "paid_at": "2026-03-02T10:00:00+08:00", '
            b'"amount": "1.00", "amount": "1000.00"}\n',
            rejects={1: "field 'amount' appears twice"},
            absent=[("LedgerTable", "HL1", "PAY#HP-twice")],
        ),
        Case(
            "loans/json_objects_for_text.jsonl",
            _jsonl(
                {"loan_id": "HL-obj", "borrower_id": "HB1", "product": {"a": 1}, "currency": "CNY",
                 "principal": "100", "disbursed_on": "2026-02-01"},
                {"loan_id": "HL-flt", "borrower_id": "HB1", "product": "p", "currency": "CNY",
                 "principal": 1e400, "disbursed_on": "2026-02-01"},
            ),
            rejects={1: "product must be text", 2: "not a number"},
            absent=[("LedgerTable", "HL-obj", "LOAN"), ("LedgerTable", "HL-flt", "LOAN")],
        ),
        Case(
            "installments/json_nested_deeply.jsonl",
            ("[" * 100_000 + "]" * 100_000 + "\n").encode()
            + _jsonl({"loan_id": "HL1", "seq": "7", "due_date": "2026-06-01", "principal_due": "1.00",
                      "interest_due": "0", "fee_due": "0"}),
            accepted=1,
            rejects={1: "JSON"},
            present=[("LedgerTable", "HL1", "INST#0007")],
        ),
        Case(
            "installments/absurd_seq.csv",
            (I_HEAD + "HL1,99999999999999,2026-06-01,1.00,0,0\nHL1,0,2026-06-01,1.00,0,0\n").encode(),
            rejects={1: "seq", 2: "seq"},
        ),
        Case(
            "repayments/above_max_amount.csv",
            (R_HEAD + _repayment("HP-max", "2026-03-02T10:00:00+08:00", "10000000000000")).encode(),
            rejects={1: "above the maximum"},
            absent=[("LedgerTable", "HL1", "PAY#HP-max")],
        ),
        Case(
            "borrowers/not_utf8.csv",
            B_HEAD.encode() + "HB-gbk,王芳,+8613800000001,,,,,Asia/Shanghai,zh-CN,CN,B,,\n".encode("gbk"),
            whole="not UTF-8",
            absent=[("BorrowersTable", "HB-gbk", "")],
        ),
        Case(
            "borrowers/no_header_only_data.csv",
            _b("HB-nohead").encode(),
            whole="lacks column(s)",
            absent=[("BorrowersTable", "HB-nohead", "")],
        ),
    ]


def write(dest: Path = CORPUS) -> list[Path]:
    paths = []
    for case in cases():
        path = dest / case.key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(case.body)
        paths.append(path)
    return paths


if __name__ == "__main__":
    for p in write():
        print(p.relative_to(Path.cwd()) if p.is_relative_to(Path.cwd()) else p)
