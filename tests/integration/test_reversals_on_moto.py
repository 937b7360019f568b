"""Integration: reversals and the platform's feed, on the stack deployed from template.yaml into moto.
The platform reverses a payment through the API (the signed REST proxy event of events/, as API Gateway
sends it) and through a reversals file; the ledger stream takes the payment back out, the loan is
delinquent again from its original due date and its case reopens (or a new one opens after
CaseReopenDays); the facts say so, and the daily report nets them."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from tests.conftest import csv_bytes, load_event
from tests.integration.test_api_on_moto import stored
from tests.integration.test_pipeline_on_moto import BORROWERS, INSTALLMENTS, LOANS, ddb_items

pytestmark = pytest.mark.integration

RUN_AT = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai: 1 DPD
SAMPLE = load_event("api_reversal_rest.json")  # signed with the spec's test secret at 2026-03-02T05:00:00Z
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
IDS = {"IL1": "RL1", "IL2": "RL2", "IL3": "RL3", "IB1": "RB1", "IB2": "RB2"}


def renamed(rows: list[dict]) -> list[dict]:
    return [{k: IDS.get(v, v) for k, v in r.items()} for r in rows]


@pytest.fixture(scope="module")
def book(stack):
    """Three delinquent loans (1 DPD), the platform signing with the sample event's secret."""
    from arrears.adapters import webhook_secrets
    from arrears.adapters.clients import client

    client("secretsmanager").put_secret_value(
        SecretId=stack.dep.physical["WebhookSecret"], SecretString=SECRET.removeprefix("whsec_")
    )
    webhook_secrets.forget()
    stack.upload("borrowers/b.csv", csv_bytes(renamed(BORROWERS)))
    stack.upload("loans/l.csv", csv_bytes(renamed(LOANS)))
    stack.upload("installments/i.csv", csv_bytes(renamed(INSTALLMENTS)))
    stack.runner.clock.now = RUN_AT
    stack.runner.schedule("DailyRunFunction").fire(RUN_AT)
    stack.runner.pump()
    stack.runner.clock.now = RUN_AT + timedelta(hours=3)
    return stack


def call(stack, path: str, payload, method: str = "POST", msg: str | None = None):
    from arrears_local.apigw import rest_event, signed_headers

    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    h = signed_headers(SECRET, body, stack.runner.clock.now, msg)
    out = stack.runner.functions["ApiFunction"].invoke(rest_event(method, path, h, body, now=stack.runner.clock.now))
    return out["statusCode"], out["body"]


def loan(stack, loan_id: str) -> dict:
    return next(i for i in ddb_items(stack, "LoansTable") if i["loan_id"]["S"] == loan_id)


def cases(stack, loan_id: str) -> dict[str, dict]:
    return {
        i["case_id"]["S"]: i
        for i in ddb_items(stack, "CollectionsTable")
        if i["loan_id"]["S"] == loan_id and i["sk"]["S"].startswith("CASE#")
    }


def facts(stack, day: str, kind: str) -> list[dict]:
    from arrears.adapters.facts_sink import read_day

    rows = {r["fact_id"]: r for r in read_day(stack.outcomes_bucket, day) if r["fact_type"] == kind}
    return list(rows.values())


def report(stack, day: date) -> dict:
    from arrears.config import Settings
    from arrears.usecases.reporting import build_report

    return build_report(Settings.from_env(stack.runner.functions["DailyReportFunction"].env), day)


def test_a_reversal_through_the_api_makes_the_cured_loan_delinquent_again_in_its_reopened_case(book):
    # Given RL3 cured by a payment the platform sent through the API
    paid = {"payment_id": "P-88231", "loan_id": "RL3", "paid_at": "2026-03-02T12:00:00+08:00", "amount": "105.00"}
    assert call(book, "/v1/repayments", paid, msg="msg_pay_88231")[0] == 202
    book.runner.pump()
    assert loan(book, "RL3")["bucket"]["S"] == "M0"
    ((case_id, case),) = cases(book, "RL3").items()
    assert (case["status"]["S"], case["reason"]["S"]) == ("closed", "cured")
    # When the platform reverses it (the sample event, exactly as API Gateway would send it)
    book.runner.clock.now = datetime(2026, 3, 2, 5, 0, 30, tzinfo=UTC)
    out = book.runner.functions["ApiFunction"].invoke(SAMPLE)
    assert out["statusCode"] == 202, out
    assert json.loads(out["body"]) == {
        "payment_id": "P-88231",
        "loan_id": "RL3",
        "amount": "105.00",
        "currency": "CNY",
        "reversed_at": "2026-03-02T05:00:30Z",
        "recorded_at": "2026-03-02T05:00:30Z",
        "source": "api",
        "reason": "chargeback",
    }
    rev = next(i for i in ddb_items(book, "LedgerTable") if i["entry"]["S"] == "REV#P-88231")
    assert (rev["loan_id"]["S"], Decimal(rev["amount"]["N"]), rev["reason"]["S"]) == ("RL3", 105, "chargeback")
    book.runner.pump()
    # Then the loan is delinquent again from its first due date, in the same case, open again
    state = loan(book, "RL3")
    assert state["bucket"]["S"] == "M1" and state["case_id"]["S"] == case_id
    assert (
        json.loads(state["unpaid"]["S"])[0] == [1, "2026-03-01", "105.00"] and Decimal(state["outstanding"]["N"]) == 315
    )
    case = cases(book, "RL3")[case_id]
    assert case["status"]["S"] == "open" and case["reopened_on"]["S"] == "2026-03-02" and "closed_on" not in case
    (reversed_,) = facts(book, "2026-03-02", "repayment_reversed")
    assert (reversed_["payment_id"], reversed_["amount_minor"], reversed_["reason"]) == (
        "P-88231",
        -10500,
        "chargeback",
    )
    assert (reversed_["from_bucket"], reversed_["to_bucket"], reversed_["dpd"], reversed_["case_id"]) == (
        "M0",
        "M1",
        1,
        case_id,
    )
    assert reversed_["bucket"] == "M1"  # it had been recovered from M1: the report nets it from the recovered
    ((reopened),) = facts(book, "2026-03-02", "case_reopened")
    assert (reopened["case_id"], reopened["loan_id"]) == (case_id, "RL3")
    feed = {(f["reason"], f["action_id"]): f for f in facts(book, "2026-03-02", "platform_event")}
    sample = feed[("POST /v1/repayments/{payment_id}/reversal", "msg_2026030205_P-88231_reversal")]
    assert (sample["source"], sample["loan_id"], sample["payment_id"]) == ("platform/api", "RL3", "P-88231")
    assert sample["occurred_at"] == "2026-03-02T05:00:30Z"
    assert feed[("POST /v1/repayments", "msg_pay_88231")]["source"] == "platform/api"


def test_a_payment_is_reversed_once(book):
    before = stored(book)
    first = next(i for i in ddb_items(book, "IdempotencyTable") if i["key"]["S"] == "reversal#P-88231")
    book.runner.clock.now += timedelta(minutes=2)
    status, body = call(book, "/v1/repayments/P-88231/reversal", {"reason": "again, differently"})
    assert (status, body) == (202, first["response"]["S"])  # the first answer, byte for byte
    assert book.runner.functions["ApiFunction"].invoke(SAMPLE)["body"] == body  # the sample again, re-sent
    book.runner.pump()
    assert stored(book) == before and loan(book, "RL3")["bucket"]["S"] == "M1"
    assert len(facts(book, "2026-03-02", "repayment_reversed")) == 1


def test_an_unknown_payment_is_404_and_a_bad_reversal_400_writing_nothing(book):
    before = stored(book)
    status, body = call(book, "/v1/repayments/P-NOPE/reversal", {})
    assert status == 404 and json.loads(body) == {"Code": "NotFound", "Message": "unknown payment 'P-NOPE'"}
    status, body = call(book, "/v1/repayments/P-NOPE/reversal", b"")
    assert status == 404
    paid = {"payment_id": "P-2", "loan_id": "RL2", "paid_at": "2026-03-02T12:00:00+08:00", "amount": "1.00"}
    assert call(book, "/v1/repayments", paid)[0] == 202
    before = stored(book)
    for payload, field in (
        ({"reversed_at": "2026-03-02T03:59:59Z"}, "reversed_at"),  # before the payment
        ({"reversed_at": "yesterday"}, "reversed_at"),
        ({"payment_id": "P-3"}, "payment_id"),
        ({"note": "x"}, "note"),
    ):
        status, body = call(book, "/v1/repayments/P-2/reversal", payload)
        assert status == 400 and json.loads(body)["field"] == field, body
    assert stored(book) == before


def test_a_reversals_file_after_the_reopen_window_opens_a_new_case_from_the_original_due_date(book):
    from arrears.adapters.clients import client

    # Given RL1 cured by a file's payment on 2 March (its case closed that day)
    paid = [{"payment_id": "RP-F1", "loan_id": "RL1", "paid_at": "2026-03-02T13:00:00+08:00", "amount": "105.00"}]
    book.upload("repayments/r.csv", csv_bytes(paid))
    ((old_case, _),) = cases(book, "RL1").items()
    assert loan(book, "RL1")["bucket"]["S"] == "M0"
    # When a reversals file takes it back on 10 April (39 days later; CaseReopenDays is 30)
    book.runner.clock.now = datetime(2026, 4, 10, 2, 0, tzinfo=UTC)
    rows = [
        {"payment_id": "RP-F1", "reversed_at": "2026-04-10T09:00:00+08:00", "reason": "failed_debit"},
        {"payment_id": "NOPE", "reversed_at": "2026-04-10T09:00:00+08:00", "reason": ""},
    ]
    book.upload("reversals/r.csv", csv_bytes(rows))
    rejects = json.loads(
        client("s3").get_object(Bucket=book.imports_bucket, Key="reversals/r.csv.rejects.json")["Body"].read()
    )
    assert (rejects["kind"], rejects["accepted"], rejects["rejects"]) == (
        "reversals",
        1,
        [{"row": 2, "line": 3, "reason": "unknown payment 'NOPE'"}],
    )
    # Then RL1 is 40 days past its first due date (M2) in a new case
    state = loan(book, "RL1")
    assert state["bucket"]["S"] == "M2" and state["case_id"]["S"] != old_case
    assert set(cases(book, "RL1")) == {old_case, state["case_id"]["S"]}
    (reversed_,) = facts(book, "2026-04-10", "repayment_reversed")
    assert (reversed_["payment_id"], reversed_["amount_minor"], reversed_["dpd"], reversed_["reason"]) == (
        "RP-F1",
        -10500,
        40,
        "failed_debit",
    )
    assert not facts(book, "2026-04-10", "case_reopened") and facts(book, "2026-04-10", "case_opened")
    (event,) = [f for f in facts(book, "2026-04-10", "platform_event") if f["reason"].startswith("reversals/r.csv")]
    assert event["source"] == "platform/file" and "1 of 2 rows accepted" in event["reason"]
    # and the same file again changes nothing
    before = stored(book)
    book.upload("reversals/r.csv", csv_bytes(rows))
    assert stored(book) == before and len(facts(book, "2026-04-10", "repayment_reversed")) == 1


def test_the_daily_report_nets_reversals(book):
    day = report(book, date(2026, 3, 2))  # P-88231 (RL3), P-2 (RL2), RP-F1 (RL1) recovered from M1; P-88231 reversed
    assert day["amount_recovered"] == {"CNY": "106.00"} and day["amount_repaid"] == {"CNY": "106.00"}
    assert (day["amount_reversed"], day["reversals"], day["reopened"]) == ({"CNY": "-105.00"}, 1, 1)
    later = report(book, date(2026, 4, 10))  # RP-F1, recovered on 2 March, reversed
    assert later["amount_recovered"] == {"CNY": "-105.00"} and later["amount_reversed"] == {"CNY": "-105.00"}


def test_holds_and_opt_outs_from_the_api_and_from_files_become_facts_naming_their_source(book):
    assert call(book, "/v1/borrowers/RB1/holds", {"hold": "attorney"}, msg="msg_hold_1")[0] == 202
    assert call(book, "/v1/borrowers/RB1/holds/attorney", b"", method="DELETE", msg="msg_hold_2")[0] == 202
    assert call(book, "/v1/loans/RL2/holds", {"hold": "dispute"}, msg="msg_hold_3")[0] == 202
    rb2 = renamed(BORROWERS)[1]
    book.upload("borrowers/b2.csv", csv_bytes([{**rb2, "opt_out": "sms;email", "holds": "bankrupt"}]))
    book.upload("loans/l2.csv", csv_bytes([{**renamed(LOANS)[2], "holds": "hardship"}]))
    book.runner.pump()
    day = "2026-04-10"
    placed = {(f["borrower_id"], f["loan_id"], f["reason"], f["source"]) for f in facts(book, day, "hold_placed")}
    assert placed == {
        ("RB1", None, "attorney", "platform/api"),
        ("RB2", "RL2", "dispute", "platform/api"),  # from the ledger stream, which saw the loan's hold change
        ("RB2", None, "bankrupt", "platform/file"),
        ("RB1", "RL3", "hardship", "platform/file"),
    }
    lifted = {(f["borrower_id"], f["reason"], f["source"]) for f in facts(book, day, "hold_lifted")}
    assert lifted == {("RB1", "attorney", "platform/api")}
    opted = [(f["borrower_id"], f["channel"], f["source"]) for f in facts(book, day, "opt_out_placed")]
    assert opted == [("RB2", "email", "platform/file")]  # sms was refused before
    routes = {f["action_id"]: f["reason"] for f in facts(book, day, "platform_event") if f["source"] == "platform/api"}
    assert routes == {
        "msg_hold_1": "POST /v1/borrowers/{borrower_id}/holds",
        "msg_hold_2": "DELETE /v1/borrowers/{borrower_id}/holds/{hold}",
        "msg_hold_3": "POST /v1/loans/{loan_id}/holds",
    }


def test_a_payment_and_its_reversal_in_one_stream_batch_are_both_told_and_net_to_nothing(book):
    paid = {"payment_id": "P-BOTH", "loan_id": "RL2", "paid_at": "2026-04-10T09:30:00+08:00", "amount": "100.00"}
    before = loan(book, "RL2")
    assert call(book, "/v1/repayments", paid)[0] == 202
    assert call(book, "/v1/repayments/P-BOTH/reversal", {"reason": "failed_debit"})[0] == 202
    book.runner.pump()  # the stream gets PAY# and REV# together
    after = loan(book, "RL2")
    assert (after["bucket"]["S"], after["outstanding"]["N"]) == (before["bucket"]["S"], before["outstanding"]["N"])
    applied = [f for f in facts(book, "2026-04-10", "repayment_applied") if f["payment_id"] == "P-BOTH"]
    reversed_ = [f for f in facts(book, "2026-04-10", "repayment_reversed") if f["payment_id"] == "P-BOTH"]
    assert [f["amount_minor"] for f in applied + reversed_] == [10000, -10000]
    assert applied[0]["from_bucket"] == reversed_[0]["bucket"] == before["bucket"]["S"]
