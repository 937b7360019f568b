"""Import validation: every bad row is rejected with its row number and a reason; good rows land."""

import json
from decimal import Decimal

import pytest

from arrears.domain.importing import FileRejected, Parent, RecordedPayment, kind_of, parse_file
from arrears.domain.money import parse_money

BORROWERS = (
    "borrower_id,name,phone,email,wechat_openid,id_number,timezone,language,jurisdiction,credit_grade,opt_out\n"
    "B1,Li Na,+8613800138000,li@example.com,o1,110101199003070000,Asia/Shanghai,zh-CN,CN,B,\n"
    "B2,Bad Phone,13800138000,,,,Asia/Shanghai,zh-CN,CN,B,\n"
    "B3,Bad Zone,+8613800138001,,,,Mars/Olympus,zh-CN,CN,B,\n"
    "B4,Opt,+8613800138002,,,,Asia/Shanghai,zh-CN,CN,B,sms;fax\n"
    "B5,,+8613800138003,,,,Asia/Shanghai,zh-CN,CN,B,\n"
    "B1,Again,+8613800138004,,,,Asia/Shanghai,zh-CN,CN,B,\n"
)


def reasons(parsed):
    return {r.row: r.reason for r in parsed.rejects}


def test_borrower_rows_are_checked_one_by_one():
    parsed = parse_file("borrowers/b.csv", BORROWERS.encode())
    assert [n for n, _ in parsed.records] == [1]
    r = reasons(parsed)
    assert "E.164" in r[2]
    assert "unknown time zone" in r[3]
    assert "opt_out has unknown value(s) fax" in r[4]
    assert "name is missing" in r[5]
    assert "duplicate of row 1" in r[6]


def test_installments_reject_bad_dates_negative_and_too_precise_money():
    body = (
        "loan_id,seq,due_date,principal_due,interest_due,fee_due\n"
        "L1,1,2026-03-10,100.00,1.50,0\n"
        "L1,2,2026-02-30,100.00,1.50,0\n"
        "L1,3,2026-04-10,-5,1.50,0\n"
        "L1,4,2026-05-10,100.005,1.50,0\n"
        "L1,5,2026-06-10,1e3,1.50,0\n"
        "L9,1,2026-03-10,100.00,0,0\n"
        "L1,x,2026-03-10,100.00,0,0\n"
    )
    parsed = parse_file(
        "installments/i.csv", body.encode(), lambda kind, ids: {"L1": Parent("CNY")} if kind.startswith("loan") else {}
    )
    r = reasons(parsed)
    assert [n for n, _ in parsed.records] == [1]
    assert "not a valid YYYY-MM-DD" in r[2]
    assert "negative" in r[3]
    assert "more than 2 decimal places" in r[4]
    assert "plain decimal" in r[5]
    assert "unknown loan 'L9'" in r[6]
    assert "seq" in r[7]


def test_zero_decimal_currency_rejects_cents():
    body = "payment_id,loan_id,paid_at,amount\nP1,L1,2026-03-10T10:00:00+09:00,1000\nP2,L1,2026-03-10T10:00:00+09:00,10.50\n"
    parsed = parse_file("repayments/r.csv", body.encode(), lambda kind, ids: {"L1": Parent("JPY")})
    assert [n for n, _ in parsed.records] == [1]
    assert "more than 0 decimal places for JPY" in reasons(parsed)[2]


def test_repayment_needs_an_offset():
    body = json.dumps({"payment_id": "P1", "loan_id": "L1", "paid_at": "2026-03-10T10:00:00", "amount": "5"})
    parsed = parse_file("repayments/r.jsonl", body.encode(), lambda kind, ids: {"L1": Parent("CNY")})
    assert "no UTC offset" in reasons(parsed)[1]


def test_jsonl_float_money_keeps_its_digits_and_broken_lines_are_rows():
    lines = [
        json.dumps(
            {
                "loan_id": "L1",
                "borrower_id": "B1",
                "product": "p",
                "currency": "CNY",
                "principal": 100.1,
                "disbursed_on": "2026-03-01",
            }
        ),
        '{"loan_id": "L2", ',
        json.dumps(
            {
                "loan_id": "L3",
                "borrower_id": "B1",
                "product": "p",
                "currency": "CNY",
                "principal": 0.123,
                "disbursed_on": "2026-03-01",
            }
        ),
    ]
    parsed = parse_file("loans/l.jsonl", "\n".join(lines).encode(), lambda kind, ids: {"B1": Parent()})
    assert [n for n, _ in parsed.records] == [1]
    assert "not valid JSON" in reasons(parsed)[2]
    assert "more than 2 decimal places" in reasons(parsed)[3]


@pytest.mark.parametrize(
    "key,body,words",
    [
        ("misc/x.csv", b"a\n", "cannot tell what"),
        ("loans/x.txt", b"a\n", "neither .csv nor .jsonl"),
        ("loans/x.csv", b"", "empty"),
        ("loans/x.csv", b"loan_id,borrower_id\nL1,B1\n", r"lacks column\(s\) product, currency"),
        ("loans/x.csv", b"\xff\xfe\x00bad", "not UTF-8"),
    ],
)
def test_unreadable_files_are_rejected_whole(key, body, words):
    with pytest.raises(FileRejected, match=words):
        parse_file(key, body)


def test_kind_and_format_from_key():
    assert kind_of("repayments/2026/03/day.jsonl") == ("repayments", "jsonl")


@pytest.mark.parametrize(
    "raw,ok",
    [
        ("10", True),
        ("10.5", True),
        ("10.50", True),
        ("10.505", False),
        ("-1", False),
        ("abc", False),
        ("", False),
        ("NaN", False),
        ("1E2", False),
    ],
)
def test_parse_money(raw, ok):
    if ok:
        assert parse_money(raw) >= 0
    else:
        with pytest.raises(ValueError):
            parse_money(raw)


def test_odd_numbers_are_rejected_per_row_not_whole_file():
    body = (
        "loan_id,seq,due_date,principal_due,interest_due,fee_due\nL1,1,2026-03-10,+inf,0,0\nL1,2,2026-03-10,1_000,0,0\n"
    )
    parsed = parse_file("installments/i.csv", body.encode(), lambda kind, ids: {"L1": Parent("CNY")})
    assert [r.row for r in parsed.rejects] == [1, 2]


def test_line_separators_inside_json_strings_do_not_split_rows():
    row = {
        "payment_id": "P1",
        "loan_id": "L1",
        "paid_at": "2026-03-10T10:00:00+08:00",
        "amount": "5",
        "note": "a\u2028b",
    }
    body = (json.dumps(row, ensure_ascii=False) + "\n" + json.dumps({**row, "payment_id": "P2"})).encode()
    parsed = parse_file("repayments/r.jsonl", body, lambda kind, ids: {"L1": Parent("CNY")})
    assert [n for n, _ in parsed.records] == [1, 2]


def test_three_decimal_currency_accepts_three_places():
    body = "payment_id,loan_id,paid_at,amount\nP1,L1,2026-03-10T10:00:00+03:00,10.125\n"
    assert parse_file("repayments/r.csv", body.encode(), lambda kind, ids: {"L1": Parent("BHD")}).rejects == []


def test_holds_columns_are_validated():
    body = (
        "loan_id,borrower_id,product,currency,principal,disbursed_on,holds\n"
        "L1,B1,p,CNY,100,2026-03-01,dispute\nL2,B1,p,CNY,100,2026-03-01,frozen\n"
    )
    parsed = parse_file("loans/l.csv", body.encode(), lambda kind, ids: {"B1": Parent()})
    assert parsed.records[0][1].holds == frozenset({"dispute"})
    assert "holds has unknown value(s) frozen" in parsed.rejects[0].reason


def test_repayments_take_an_optional_currency_which_must_be_the_loans_and_a_method():
    body = (
        "payment_id,loan_id,paid_at,amount,currency,method\n"
        "P1,L1,2026-03-10T10:00:00+08:00,5,cny,card\n"
        "P2,L1,2026-03-10T10:00:00+08:00,5,USD,card\n"
        "P3,L1,2026-03-10T10:00:00+08:00,5,XXQ,\n"
        "P4,L1,2026-03-10T10:00:00+08:00,5,,wire transfer\n"
        "P5,L1,2026-03-10T10:00:00+08:00,5,,\n"
    )
    parsed = parse_file("repayments/r.csv", body.encode(), lambda kind, ids: {"L1": Parent("CNY")})
    r = reasons(parsed)
    assert r[2] == "currency USD is not the loan's currency CNY"
    assert "'XXQ' is not an ISO 4217" in r[3] and r[4].startswith("method 'wire transfer'")
    recs = dict(parsed.records)
    assert (recs[1].currency, recs[1].method, recs[1].amount) == ("CNY", "card", Decimal("5.00"))
    assert (recs[5].currency, recs[5].method) == ("CNY", None)  # recorded in the loan's currency
    jsonl = json.dumps(
        {"payment_id": "P6", "loan_id": "L1", "paid_at": "2026-03-10T10:00:00Z", "amount": "5", "method": "wallet"}
    )
    assert (
        parse_file("repayments/r.jsonl", jsonl.encode(), lambda kind, ids: {"L1": Parent("CNY")}).records[0][1].method
        == "wallet"
    )


def test_a_payment_id_already_recorded_means_that_payment_forever():
    stored = {
        "P1": RecordedPayment("L1", Decimal("5.00"), "2026-03-10T02:00:00Z"),
        "P2": RecordedPayment("L1", Decimal("5.00"), "2026-03-10T02:00:00Z"),
        "P3": RecordedPayment("L9", Decimal("5.00"), "2026-03-10T02:00:00Z"),
    }
    body = (
        "payment_id,loan_id,paid_at,amount\n"
        "P1,L1,2026-03-10T10:00:00+08:00,5\n"  # the same payment (same instant, another offset)
        "P2,L1,2026-03-10T10:00:00+08:00,6\n"  # another amount
        "P3,L1,2026-03-10T10:00:00+08:00,5\n"  # another loan
        "P4,L1,2026-03-10T10:00:00+08:00,5\n"  # new
    )
    asked: list[set[str]] = []
    parsed = parse_file(
        "repayments/r.csv",
        body.encode(),
        lambda kind, ids: {"L1": Parent("CNY")},
        known_payments=lambda ids: asked.append(ids) or {k: v for k, v in stored.items() if k in ids},
    )
    assert asked == [{"P1", "P2", "P3", "P4"}]
    assert [n for n, _ in parsed.records] == [1, 4] and parsed.recorded == {1}
    assert reasons(parsed)[2] == (
        "payment_id 'P2' was already recorded with loan_id L1, amount 5.00, paid_at 2026-03-10T02:00:00Z: "
        "a payment cannot change (send a reversal and a new payment)"
    )
    assert "with loan_id L9" in reasons(parsed)[3]
