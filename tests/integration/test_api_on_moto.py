"""Integration: the platform calls the API as it would in AWS. The real API handler (the Chalice app
behind API Gateway) gets REST proxy events, on the stack deployed from template.yaml into moto; the
ledger stream, the senders and the importer run as the local runner runs them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.conftest import csv_bytes
from tests.integration.test_pipeline_on_moto import BORROWERS, INSTALLMENTS, LOANS, ddb_items, sms_count

pytestmark = pytest.mark.integration

RUN_AT = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai: 1 DPD


def secret(stack) -> str:
    from arrears.adapters.clients import client

    return (
        "whsec_"
        + client("secretsmanager").get_secret_value(SecretId=stack.dep.physical["WebhookSecret"])["SecretString"]
    )


def call(
    stack,
    path: str,
    payload,
    *,
    method: str = "POST",
    headers: dict | None = None,
    key: str | None = None,
    at=None,
    msg: str | None = None,
):
    """Send a body signed as the platform signs it (``key``: another secret; ``headers``: overrides;
    ``msg``: the webhook-id)."""
    from arrears_local.apigw import rest_event, signed_headers

    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    h = {**signed_headers(key or secret(stack), body, at or stack.runner.clock.now, msg), **(headers or {})}
    out = stack.runner.functions["ApiFunction"].invoke(rest_event(method, path, h, body, now=stack.runner.clock.now))
    assert set(out) >= {"statusCode", "headers", "body"}
    return out["statusCode"], out["headers"], out["body"]


def payment(**kw) -> dict:
    return {"payment_id": "AP1", "loan_id": "AL3", "paid_at": "2026-03-02T12:00:00+08:00", "amount": "105.00", **kw}


def stored(stack) -> list[str]:
    """Every item of the ledger and the idempotency table, as text (to show nothing changed)."""
    return sorted(
        json.dumps(i, sort_keys=True) for t in ("LedgerTable", "IdempotencyTable") for i in ddb_items(stack, t)
    )


@pytest.fixture(scope="module")
def book(stack):
    """Three delinquent loans with their first SMS dispatched but not yet sent (held in the queue)."""
    ids = {"IL1": "AL1", "IL2": "AL2", "IL3": "AL3", "IB1": "AB1", "IB2": "AB2"}
    ren = lambda rows: [{k: ids.get(v, v) for k, v in r.items()} for r in rows]  # noqa: E731
    stack.upload("borrowers/b.csv", csv_bytes(ren(BORROWERS)))
    stack.upload("loans/l.csv", csv_bytes(ren(LOANS)))
    stack.upload("installments/i.csv", csv_bytes(ren(INSTALLMENTS)))
    stack.runner.clock.now = RUN_AT
    stack.runner.schedule("DailyRunFunction").fire(RUN_AT)
    worker = next(q for q in stack.runner.sqs if q.fn.logical == "ShardWorkerFunction")
    while worker.poll(stack.runner.clock) or any(s.poll(stack.runner.clock) for s in stack.runner.streams):
        pass
    stack.runner.clock.now = RUN_AT + timedelta(hours=3)
    return stack


def actions(stack, loan_id: str) -> list[str]:
    return [
        i["status"]["S"]
        for i in ddb_items(stack, "CollectionsTable")
        if i["loan_id"]["S"] == loan_id and i["sk"]["S"].startswith("ACT#")
    ]


def test_a_signed_repayment_is_recorded_applied_at_once_and_cures_the_loan(book):
    assert actions(book, "AL3") == ["planned"]
    sms_before = sms_count()
    status, headers, body = call(book, "/v1/repayments", payment(method="card", currency="cny"))
    assert status == 202 and headers["Content-Type"] == "application/json"
    assert json.loads(body) == {
        "payment_id": "AP1",
        "loan_id": "AL3",
        "paid_at": "2026-03-02T04:00:00Z",
        "amount": "105.00",
        "currency": "CNY",
        "recorded_at": "2026-03-02T04:00:00Z",
        "source": "api",
        "method": "card",
    }
    entry = next(i for i in ddb_items(book, "LedgerTable") if i["entry"]["S"] == "PAY#AP1")
    assert (entry["loan_id"]["S"], entry["amount"]["N"], entry["method"]["S"]) == ("AL3", "105.00", "card")
    for stream in book.runner.streams:  # the ledger stream alone, before any sender runs
        while stream.poll(book.runner.clock):
            pass
    loan = {i["loan_id"]["S"]: i for i in ddb_items(book, "LoansTable")}["AL3"]
    assert loan["bucket"]["S"] == "M0" and "case_id" not in loan
    case = next(
        i
        for i in ddb_items(book, "CollectionsTable")
        if i["loan_id"]["S"] == "AL3" and i["sk"]["S"].startswith("CASE#")
    )
    assert (case["status"]["S"], case["reason"]["S"]) == ("closed", "cured")
    assert actions(book, "AL3") == ["cancelled"]
    book.runner.pump()
    assert actions(book, "AL3") == ["cancelled"] and actions(book, "AL1") == ["sent"]
    assert sms_count() == sms_before + 1  # AL1's reminder only (AL2's borrower opted out of SMS)


def test_a_repeat_gets_the_first_answer_and_changes_nothing(book):
    before = stored(book)
    first = next(i for i in ddb_items(book, "IdempotencyTable") if i["key"]["S"] == "payment#AP1")["response"]["S"]
    book.runner.clock.now += timedelta(minutes=7)  # a retry after a time-out, signed anew
    status, _, body = call(book, "/v1/repayments", payment(method="card", currency="cny"))
    assert (status, body) == (202, first)
    status, _, body = call(book, "/v1/repayments", payment(amount="105.0", paid_at="2026-03-02T04:00:00Z"))
    assert (status, body) == (202, first)  # the same payment written another way
    assert stored(book) == before


def test_a_payment_id_repeated_with_other_values_is_a_conflict_naming_the_stored_ones(book):
    before = stored(book)
    for change in ({"amount": "106.00"}, {"loan_id": "AL1"}, {"paid_at": "2026-03-02T12:00:01+08:00"}):
        status, _, body = call(book, "/v1/repayments", payment(**change))
        answer = json.loads(body)
        assert status == 409 and answer["Code"] == "Conflict" and answer["field"] == "payment_id"
        assert answer["stored"] == {"loan_id": "AL3", "amount": "105.00", "paid_at": "2026-03-02T04:00:00Z"}
        assert "send a reversal and a new payment" in answer["Message"]
    assert stored(book) == before


def test_the_importer_rejects_a_row_changing_a_recorded_payment_and_skips_the_same_one(book):
    from arrears.adapters.clients import client

    before = stored(book)
    rows = [
        {"payment_id": "AP1", "loan_id": "AL3", "paid_at": "2026-03-02T12:00:00+08:00", "amount": "105.00"},
        {"payment_id": "AP1", "loan_id": "AL3", "paid_at": "2026-03-02T12:00:00+08:00", "amount": "99.00"},
    ]
    book.upload("repayments/again.csv", csv_bytes(rows[:1]))
    book.upload("repayments/changed.csv", csv_bytes(rows[1:]))
    reports = {
        k: json.loads(
            client("s3").get_object(Bucket=book.imports_bucket, Key=f"repayments/{k}.csv.rejects.json")["Body"].read()
        )
        for k in ("again", "changed")
    }
    assert (reports["again"]["accepted"], reports["again"]["rejected"]) == (1, 0)
    assert reports["changed"]["rejects"][0]["reason"].startswith(
        "payment_id 'AP1' was already recorded with loan_id AL3"
    )
    assert stored(book) == before


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"amount": "-3"}, "amount", "negative"),
        ({"amount": 1e3}, "amount", "not a plain decimal"),  # JSON 1000.0 keeps its digits: fine; 1e3 is not
        ({"amount": "1.005"}, "amount", "more than 2 decimal places for CNY"),
        ({"paid_at": "2026-03-02T12:00:00"}, "paid_at", "no UTC offset"),
        ({"loan_id": "NOPE"}, "loan_id", "unknown loan 'NOPE'"),
        ({"currency": "USD"}, "currency", "currency USD is not the loan's currency CNY"),
        ({"method": "by hand"}, "method", "method 'by hand' is not"),
        ({"payment_id": None}, "payment_id", "payment_id is missing"),
        ({"note": "x"}, "note", "unknown field(s) 'note'"),
        # naming the currency: the loan is a condition of the write, the answer still the import's
        ({"loan_id": "NOPE", "currency": "CNY"}, "loan_id", "unknown loan 'NOPE'"),
        ({"currency": "JPY", "amount": "1.5"}, "currency", "currency JPY is not the loan's currency CNY"),
        ({"currency": "CNY", "amount": "1.005"}, "amount", "more than 2 decimal places for CNY"),
        ({"currency": "CNY", "paid_at": "2026-01-31T23:00:00+08:00"}, "paid_at", "before the loan's disbursed_on"),
    ],
)
def test_a_bad_field_is_a_400_naming_it_and_nothing_is_written(book, change, field, reason):
    before = stored(book)
    body = payment(**{"payment_id": "AP-BAD", **change})
    if change.get("amount") == 1e3:
        body = json.dumps(payment(payment_id="AP-BAD")).replace('"105.00"', "1e3").encode()
    status, _, answer = call(book, "/v1/repayments", body)
    assert status == 400, answer
    assert json.loads(answer)["field"] == field and reason in json.loads(answer)["Message"]
    assert stored(book) == before


@pytest.mark.parametrize(
    ("headers", "key", "shift", "reason"),
    [
        ({"webhook-signature": "v1,AAAA"}, None, 0, "no valid signature"),
        ({}, "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY", 0, "no valid signature"),
        ({"webhook-signature": ""}, None, 0, "missing header(s) webhook-signature"),
        ({}, None, -301, "more than 300 seconds"),  # signed 5 min 1 s before the stack's (simulated) clock
    ],
)
def test_a_bad_signature_or_stale_timestamp_is_a_401_and_writes_nothing(book, headers, key, shift, reason):
    before = stored(book)
    at = book.runner.clock.now + timedelta(seconds=shift)
    status, _, body = call(book, "/v1/repayments", payment(payment_id="AP-SIG"), headers=headers, key=key, at=at)
    assert status == 401 and reason in json.loads(body)["Message"]
    assert stored(book) == before


def test_wrong_media_type_is_415_and_a_body_over_the_limit_413(book):
    before = stored(book)
    status, _, body = call(book, "/v1/repayments", payment(payment_id="AP-T"), headers={"Content-Type": "text/plain"})
    assert status == 415 and json.loads(body)["Code"] == "UnsupportedMediaType"
    big = json.dumps(payment(payment_id="AP-BIG", method="x" * 70_000)).encode()
    status, _, body = call(book, "/v1/repayments", big)
    assert status == 413 and "at most 65536" in json.loads(body)["Message"]
    assert stored(book) == before


def test_an_aws_failure_is_a_503_with_retry_after_and_writes_nothing(book, monkeypatch):
    from botocore.exceptions import ClientError

    from arrears.adapters.clients import client

    def throttled(**_kw):
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "TransactWriteItems")

    before = stored(book)
    monkeypatch.setattr(client("dynamodb"), "transact_write_items", throttled)
    status, headers, body = call(book, "/v1/repayments", payment(payment_id="AP-503", loan_id="AL1", amount="1.00"))
    assert status == 503 and headers["Retry-After"] == "2" and json.loads(body)["Code"] == "ServiceUnavailable"
    monkeypatch.undo()
    assert stored(book) == before
    status, _, _ = call(book, "/v1/repayments", payment(payment_id="AP-503", loan_id="AL1", amount="1.00"))
    assert status == 202  # the platform's retry goes through


def test_a_partial_payment_keeps_the_case_open_and_the_secret_can_rotate(book):
    from arrears.adapters import webhook_secrets
    from arrears.adapters.clients import client

    old = secret(book)
    client("secretsmanager").put_secret_value(
        SecretId=book.dep.physical["WebhookSecret"], SecretString="Tk9UQVNFQ1JFVE5PVEFTRUNSRVQxMjM0"
    )
    webhook_secrets.forget()  # a new container (a warm one looks again within 30 s of a mismatch)
    status, _, _ = call(book, "/v1/repayments", payment(payment_id="AP-R1", loan_id="AL1", amount="50.00"), key=old)
    assert status == 202  # the previous secret, still valid during the rotation
    status, _, _ = call(book, "/v1/repayments", payment(payment_id="AP-R2", loan_id="AL1", amount="5.00"))
    assert status == 202  # the new one
    book.runner.pump()
    loan = {i["loan_id"]["S"]: i for i in ddb_items(book, "LoansTable")}["AL1"]
    assert loan["bucket"]["S"] == "M1" and loan["outstanding"]["N"] == "259.00"  # 315 - 1 - 50 - 5


# ------------------------------------------------------------------ the platform's other events

BORROWER = {
    "name": "Zhao Lei",
    "phone": "+8613800000077",
    "timezone": "Asia/Shanghai",
    "language": "zh-CN",
    "jurisdiction": "CN",
    "opt_out": ["email"],
}
SCHEDULE = [
    {"seq": 1, "due_date": "2026-04-01", "principal_due": "100.00", "interest_due": "5.00", "fee_due": "0"},
    {"seq": 2, "due_date": "2026-05-01", "principal_due": "100.00", "interest_due": "5.00", "fee_due": "0"},
    {"seq": 3, "due_date": "2026-06-01", "principal_due": 100, "interest_due": 5.5, "fee_due": "0"},
]
LOAN = {
    "loan_id": "AL7",
    "borrower_id": "AB7",
    "product": "cash-3m",
    "currency": "CNY",
    "principal": "300.00",
    "disbursed_on": "2026-03-01",
    "schedule": SCHEDULE,
}


def items_of(stack, table: str, key: str, value: str) -> list[dict]:
    return [i for i in ddb_items(stack, table) if i[key]["S"] == value]


def test_a_borrower_put_lands_like_an_imported_row_and_echoes_no_personal_data(book):
    status, _, body = call(book, "/v1/borrowers/AB7", BORROWER, method="PUT", msg="msg_b7")
    assert status == 202 and json.loads(body)["borrower_id"] == "AB7"
    assert "Zhao" not in body and "+86" not in body
    (b,) = items_of(book, "BorrowersTable", "borrower_id", "AB7")
    assert b["timezone"]["S"] == "Asia/Shanghai" and b["opt_out"]["SS"] == ["email"]
    assert items_of(book, "ContactsTable", "borrower_id", "AB7")[0]["phone"]["S"] == "+8613800000077"
    again = call(book, "/v1/borrowers/AB7", {**BORROWER, "name": "changed"}, method="PUT", msg="msg_b7")
    assert again[0] == 202 and again[2] == body  # the same message: its first answer, nothing written
    assert items_of(book, "ContactsTable", "borrower_id", "AB7")[0]["name"]["S"] == "Zhao Lei"
    status, _, body = call(book, "/v1/borrowers/AB8", {**BORROWER, "phone": "13800000077"}, method="PUT")
    assert status == 400 and json.loads(body)["field"] == "phone"


def test_a_new_loan_with_its_schedule_is_evaluated_by_the_stream(book):
    status, _, body = call(book, "/v1/loans", LOAN, msg="msg_l7")
    assert status == 202 and json.loads(body)["installments"] == 3
    entries = sorted(i["entry"]["S"] for i in items_of(book, "LedgerTable", "loan_id", "AL7"))
    assert entries == ["INST#0001", "INST#0002", "INST#0003", "LOAN"]
    book.runner.pump()
    loan = items_of(book, "LoansTable", "loan_id", "AL7")[0]
    assert Decimal(loan["outstanding"]["N"]) == Decimal("315.5") and loan["bucket"]["S"] == "M0"
    assert call(book, "/v1/loans", LOAN, msg="msg_l7")[2] == body
    before = stored(book)
    status, _, answer = call(book, "/v1/loans", LOAN)  # another message: the loan exists
    assert status == 409 and "PUT /v1/loans/AL7/schedule" in json.loads(answer)["Message"]
    other = {**LOAN, "loan_id": "AL8"}
    bad = [
        ({**other, "borrower_id": "NOBODY"}, "borrower_id", "unknown borrower 'NOBODY'"),
        ({**other, "schedule": [{**SCHEDULE[0], "due_date": "2026-02-01"}]}, "schedule[0].due_date", "disbursed_on"),
        ({**other, "schedule": [SCHEDULE[0], SCHEDULE[0]]}, "schedule[1].seq", "appears twice"),
        ({**other, "schedule": [{**SCHEDULE[0], "fee_due": "0.001"}]}, "schedule[0].fee_due", "decimal places"),
        ({**other, "schedule": []}, "schedule", "1 to 98"),
        ({**other, "principal": "-1"}, "principal", "negative"),
    ]
    for payload, field, reason in bad:
        status, _, answer = call(book, "/v1/loans", payload)
        assert status == 400 and json.loads(answer)["field"] == field, answer
        assert reason in json.loads(answer)["Message"], answer
    assert stored(book) == before


def test_a_new_schedule_replaces_the_old_one_and_an_unknown_loan_is_404(book):
    status, _, body = call(book, "/v1/loans/AL7/schedule", {"schedule": SCHEDULE[:2]}, method="PUT")
    assert status == 202 and (json.loads(body)["installments"], json.loads(body)["removed"]) == (2, 1)
    book.runner.pump()
    assert Decimal(items_of(book, "LoansTable", "loan_id", "AL7")[0]["outstanding"]["N"]) == 210
    status, _, body = call(book, "/v1/loans/NOPE/schedule", {"schedule": SCHEDULE}, method="PUT")
    assert status == 404 and json.loads(body) == {"Code": "NotFound", "Message": "unknown loan 'NOPE'"}


def test_the_platform_places_and_lifts_its_own_holds(book):
    status, _, body = call(book, "/v1/loans/AL7/holds", {"hold": "dispute"})
    assert status == 202 and json.loads(body)["placed"] is True
    book.runner.pump()
    assert items_of(book, "LoansTable", "loan_id", "AL7")[0]["holds"]["SS"] == ["dispute"]
    status, _, body = call(book, "/v1/loans/AL7/holds/dispute", b"", method="DELETE")
    assert status == 202 and json.loads(body)["placed"] is False
    book.runner.pump()
    assert "holds" not in items_of(book, "LoansTable", "loan_id", "AL7")[0]
    assert call(book, "/v1/borrowers/AB7/holds", {"hold": "cease_contact"})[0] == 202
    assert items_of(book, "BorrowersTable", "borrower_id", "AB7")[0]["holds"]["SS"] == ["cease_contact"]
    before = stored(book)
    assert call(book, "/v1/loans/NOPE/holds", {"hold": "dispute"})[0] == 404
    assert call(book, "/v1/borrowers/NOPE/holds/attorney", b"", method="DELETE")[0] == 404
    assert call(book, "/v1/loans/AL7/holds/vacation", b"", method="DELETE")[0] == 404
    status, _, body = call(book, "/v1/loans/AL7/holds", {"hold": "attorney"})
    assert status == 400 and json.loads(body)["field"] == "hold"
    assert stored(book) == before


def test_a_webhook_id_sent_again_to_another_route_is_a_conflict_writing_nothing(book):
    """The same message again gets its first answer; the same webhook-id with a message to another route
    (found by the OpenAPI fuzz: it got the first route's answer, another route's schema) is a 409."""
    status, _, first = call(book, "/v1/borrowers/AB7/holds", {"hold": "attorney"}, msg="msg-reused-1")
    assert status == 202
    assert call(book, "/v1/borrowers/AB7/holds", {"hold": "attorney"}, msg="msg-reused-1")[::2] == (202, first)
    before = stored(book)
    for path, payload, method in (
        ("/v1/loans/AL7/holds", {"hold": "paused"}, "POST"),
        ("/v1/borrowers/AB7/holds/attorney", b"", "DELETE"),
    ):
        status, _, body = call(book, path, payload, method=method, msg="msg-reused-1")
        answer = json.loads(body)
        assert (status, answer["Code"], answer["field"]) == (409, "Conflict", "webhook-id"), body
        assert "POST /v1/borrowers/{borrower_id}/holds" in answer["Message"]
    assert stored(book) == before


def test_odd_values_in_any_field_of_any_route_get_a_4xx_never_a_5xx(book):
    """A small seeded fuzz (the schemathesis run over HTTP is a later step): every route, every field
    replaced by odd JSON values; answers are 202/400/404/409 with the error shape, never 5xx."""
    import random

    rng = random.Random(8)
    odd = [None, True, 0, -1, 1e308, 10**40, "", " ", "\u0000", "\u202e", "x" * 2000, [], {}, [1], {"a": 1}, "1e3", "NaN"]
    routes = [
        ("POST", "/v1/repayments", payment(payment_id="AP-FUZZ")),
        ("POST", "/v1/loans", {**LOAN, "loan_id": "AL-FUZZ"}),
        ("PUT", "/v1/loans/AL7/schedule", {"schedule": SCHEDULE}),
        ("PUT", "/v1/borrowers/AB-FUZZ", BORROWER),
        ("POST", "/v1/loans/AL7/holds", {"hold": "paused"}),
    ]
    for method, path, good in routes:
        for _ in range(25):
            body = dict(good)
            for name in rng.sample(sorted(body), k=min(len(body), rng.randint(1, 2))):
                body[name] = rng.choice(odd)
            status, _, answer = call(book, path, body, method=method)
            assert status in (202, 400, 404, 409), (path, body, status, answer)
            if status != 202:
                assert set(json.loads(answer)) >= {"Code", "Message"}


def test_a_repayment_naming_its_currency_is_one_write_without_reading_its_loan(book, monkeypatch):
    """Its loan's existence, currency and disbursement are conditions of the transaction that records
    it; a repeat still gets the first answer, another loan's payment_id still a 409."""
    from arrears.adapters import ledger_import

    def no_read(*_a, **_k):
        raise AssertionError("the loan was read")

    monkeypatch.setattr(ledger_import, "known_parents", no_read)
    body = payment(payment_id="AP-CUR", amount="1.5", currency="CNY")
    status, _, first = call(book, "/v1/repayments", body)
    assert status == 202 and json.loads(first)["amount"] == "1.50" and json.loads(first)["currency"] == "CNY"
    assert call(book, "/v1/repayments", body)[::2] == (202, first)
    assert call(book, "/v1/repayments", {**body, "amount": "2.00"})[0] == 409
    entry = next(i for i in ddb_items(book, "LedgerTable") if i["entry"]["S"] == "PAY#AP-CUR")
    assert (entry["loan_id"]["S"], Decimal(entry["amount"]["N"]), entry["currency"]["S"]) == ("AL3", Decimal("1.5"), "CNY")
