"""Integration: the real handlers on moto, with every resource created from template.yaml."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import csv_bytes

pytestmark = pytest.mark.integration

BORROWERS = [
    {
        "borrower_id": "IB1",
        "name": "Wang Wei",
        "phone": "+8613800000001",
        "email": "",
        "wechat_openid": "",
        "id_number": "",
        "timezone": "Asia/Shanghai",
        "language": "zh-CN",
        "jurisdiction": "CN",
        "credit_grade": "B",
        "opt_out": "",
    },
    {
        "borrower_id": "IB2",
        "name": "Li Na",
        "phone": "+8613800000002",
        "email": "",
        "wechat_openid": "",
        "id_number": "",
        "timezone": "Asia/Shanghai",
        "language": "zh-CN",
        "jurisdiction": "CN",
        "credit_grade": "C",
        "opt_out": "sms",
    },
]
LOANS = [
    {
        "loan_id": f"IL{n}",
        "borrower_id": b,
        "product": "cash-3m",
        "currency": "CNY",
        "principal": "300.00",
        "disbursed_on": "2026-02-01",
    }
    for n, b in ((1, "IB1"), (2, "IB2"), (3, "IB1"))
]
INSTALLMENTS = [
    {
        "loan_id": f"IL{n}",
        "seq": str(s),
        "due_date": d,
        "principal_due": "100.00",
        "interest_due": "5.00",
        "fee_due": "0",
    }
    for n in (1, 2, 3)
    for s, d in ((1, "2026-03-01"), (2, "2026-04-01"), (3, "2026-05-01"))
]


def ddb_items(stack, logical: str) -> list[dict]:
    from arrears.adapters.clients import client

    return client("dynamodb").scan(TableName=stack.dep.physical[logical])["Items"]


def sms_count(phone: str | None = None) -> int:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    sent = sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sms_messages.values()
    return sum(1 for to, _ in sent if phone is None or to == phone)


def sqs_send(stack, body: dict) -> None:
    from arrears.adapters.clients import client

    client("sqs").send_message(QueueUrl=stack.dep.physical["SmsQueue"], MessageBody=json.dumps(body))


@pytest.fixture(scope="module")
def book(stack):
    stack.upload("borrowers/b.csv", csv_bytes(BORROWERS))
    stack.upload("loans/l.csv", csv_bytes(LOANS))
    stack.upload("installments/i.csv", csv_bytes(INSTALLMENTS))
    return stack


def test_import_lands_rows_and_writes_a_report_next_to_the_file(book):
    from arrears.adapters.clients import client

    ledger = ddb_items(book, "LedgerTable")
    assert len(ledger) == 3 + 9
    report = json.loads(
        client("s3").get_object(Bucket=book.imports_bucket, Key="installments/i.csv.rejects.json")["Body"].read()
    )
    assert (report["rows"], report["accepted"], report["rejected"]) == (9, 9, 0)
    pii = {k for item in ddb_items(book, "LedgerTable") + ddb_items(book, "LoansTable") for k in item}
    assert not pii & {"name", "phone", "email", "id_number", "wechat_openid"}, "personal data outside ContactsTable"


def test_reimporting_the_same_file_changes_nothing(book):
    before = sorted(json.dumps(i, sort_keys=True) for i in ddb_items(book, "LoansTable"))
    book.upload("installments/i-again.csv", csv_bytes(INSTALLMENTS))
    after = sorted(json.dumps(i, sort_keys=True) for i in ddb_items(book, "LoansTable"))
    assert before == after


def test_bad_rows_are_rejected_with_row_and_reason_and_good_rows_land(book):
    from arrears.adapters.clients import client

    rows = [
        {"payment_id": "IPX1", "loan_id": "NOPE", "paid_at": "2026-03-01T10:00:00+08:00", "amount": "1.00"},
        {"payment_id": "IPX2", "loan_id": "IL3", "paid_at": "2026-02-20T10:00:00+08:00", "amount": "-3"},
        {"payment_id": "IPX3", "loan_id": "IL3", "paid_at": "yesterday", "amount": "3.00"},
    ]
    book.upload("repayments/bad.csv", csv_bytes(rows))
    report = json.loads(
        client("s3").get_object(Bucket=book.imports_bucket, Key="repayments/bad.csv.rejects.json")["Body"].read()
    )
    reasons = {r["row"]: r["reason"] for r in report["rejects"]}
    assert "unknown loan 'NOPE'" in reasons[1] and "negative" in reasons[2] and "ISO-8601" in reasons[3]
    book.upload("loans/broken.csv", b"\x00\x01 not a csv at all")
    whole = json.loads(
        client("s3").get_object(Bucket=book.imports_bucket, Key="loans/broken.csv.rejects.json")["Body"].read()
    )
    assert whole["rejected_whole"]


def test_daily_run_opens_cases_sends_one_sms_and_respects_opt_out(book):
    sent_before = sms_count()
    run_at = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai, 1 DPD
    book.runner.clock.now = run_at
    book.runner.schedule("DailyRunFunction").fire(run_at)
    book.runner.pump()
    loans = {i["loan_id"]["S"]: i for i in ddb_items(book, "LoansTable")}
    assert {loans[f"IL{n}"]["bucket"]["S"] for n in (1, 2, 3)} == {"M1"}
    actions = [i for i in ddb_items(book, "CollectionsTable") if i["sk"]["S"].startswith("ACT#")]
    status = {i["loan_id"]["S"]: i["status"]["S"] for i in actions}
    assert status == {"IL1": "sent", "IL2": "blocked", "IL3": "sent"}
    assert sms_count() - sent_before == 2


def test_redelivered_and_duplicate_messages_never_send_twice(book):
    sent_before = sms_count()
    act = next(
        i for i in ddb_items(book, "CollectionsTable") if i["sk"]["S"].startswith("ACT#") and i["loan_id"]["S"] == "IL1"
    )
    body = {
        "action_id": act["action_id"]["S"],
        "loan_id": "IL1",
        "case_id": act["case_id"]["S"],
        "channel": "sms",
        "template": "zh-CN/m1_reminder",
        "borrower_id": "IB1",
    }
    for _ in range(3):
        sqs_send(book, body)
    book.runner.pump()
    assert sms_count() == sent_before


def test_repayment_cures_the_loan_closes_the_case_and_keeps_history(book):
    pay = [{"payment_id": "IP1", "loan_id": "IL3", "paid_at": "2026-03-03T10:00:00+08:00", "amount": "105.00"}]
    book.runner.clock.now = datetime(2026, 3, 3, 2, 5, tzinfo=UTC)
    book.upload("repayments/p1.csv", csv_bytes(pay))
    loan = {i["loan_id"]["S"]: i for i in ddb_items(book, "LoansTable")}["IL3"]
    assert loan["bucket"]["S"] == "M0" and "case_id" not in loan
    items = [i for i in ddb_items(book, "CollectionsTable") if i["loan_id"]["S"] == "IL3"]
    case = next(i for i in items if i["sk"]["S"].startswith("CASE#"))
    assert (case["status"]["S"], case["reason"]["S"]) == ("closed", "cured")
    history = [i for i in items if i["sk"]["S"].startswith("BH#")]
    assert [(h["bucket"]["S"], h["entered_on"]["S"], h["left_on"]["S"]) for h in history] == [
        ("M1", "2026-03-02", "2026-03-03")
    ]


def test_partial_payment_keeps_the_case_open(book):
    pay = [{"payment_id": "IP2", "loan_id": "IL1", "paid_at": "2026-03-03T11:00:00+08:00", "amount": "50.00"}]
    book.upload("repayments/p2.csv", csv_bytes(pay))
    loan = {i["loan_id"]["S"]: i for i in ddb_items(book, "LoansTable")}["IL1"]
    assert loan["bucket"]["S"] == "M1" and loan["outstanding"]["N"] == "265.00"


def test_a_cured_loan_cancels_its_pending_action_at_send_time(book):
    """An action whose loan is cured before the sender gets to it is cancelled, not sent."""
    from arrears.adapters.clients import client

    sent_before = sms_count()
    run_at = datetime(2026, 3, 2, 1, 0, tzinfo=UTC) + timedelta(days=31)  # IL2 and IL1 roll, IL3's 2nd is due
    book.runner.clock.now = run_at
    book.runner.schedule("DailyRunFunction").fire(run_at)
    # deliver the shard work and the ledger stream, but hold back the SMS queue: pay IL3 in full first
    worker = next(q for q in book.runner.sqs if q.fn.logical == "ShardWorkerFunction")
    while worker.poll(book.runner.clock) or any(s.poll(book.runner.clock) for s in book.runner.streams):
        pass
    pay = [{"payment_id": "IP3", "loan_id": "IL3", "paid_at": "2026-04-02T10:00:00+08:00", "amount": "210.00"}]
    client("s3").put_object(Bucket=book.imports_bucket, Key="repayments/p3.csv", Body=csv_bytes(pay))
    book.runner.pump()
    il3 = [
        i for i in ddb_items(book, "CollectionsTable") if i["loan_id"]["S"] == "IL3" and i["sk"]["S"].startswith("ACT#")
    ]
    assert sorted(i["status"]["S"] for i in il3) == ["cancelled", "sent"]
    assert sms_count() == sent_before


def test_sms_at_night_is_deferred_by_the_guard_and_sent_the_next_morning(book):
    """The send-time guard: at 23:00 local the contact is not allowed; it is recorded as deferred
    (rule and reason) and delivered when allowed, once."""
    from arrears.adapters.clients import client

    borrower = {**BORROWERS[0], "borrower_id": "IB9", "phone": "+8613800000009"}
    loan = {**LOANS[0], "loan_id": "IL9", "borrower_id": "IB9"}
    inst = [{**INSTALLMENTS[0], "loan_id": "IL9", "due_date": "2026-04-01"}]
    night = datetime(2026, 4, 5, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai: 4 DPD when the schedule lands
    book.runner.clock.now = night
    book.upload("borrowers/b9.csv", csv_bytes([borrower]))
    book.upload("loans/l9.csv", csv_bytes([loan]))
    sent_before = sms_count("+8613800000009")
    book.upload("installments/i9.csv", csv_bytes(inst))
    book.runner.schedule("DailyRunFunction").fire(night)  # a run that lands at night (e.g. a late retry)
    book.runner.pump()
    assert sms_count("+8613800000009") == sent_before
    act = next(
        i for i in ddb_items(book, "CollectionsTable") if i["loan_id"]["S"] == "IL9" and i["sk"]["S"].startswith("ACT#")
    )
    assert act["status"]["S"] == "planned"
    facts = [
        json.loads(line)
        for key in client("s3")
        .list_objects_v2(Bucket=book.outcomes_bucket, Prefix="facts/dt=2026-04-05/")
        .get("Contents", [])
        for line in client("s3")
        .get_object(Bucket=book.outcomes_bucket, Key=key["Key"])["Body"]
        .read()
        .decode()
        .splitlines()
    ]
    deferred = [f for f in facts if f["fact_type"] == "action_deferred" and f["loan_id"] == "IL9"]
    assert deferred and deferred[0]["reason"].startswith("contact_hours: outside 08:00-22:00")
    book.runner.clock.now = datetime(2026, 4, 5, 23, 59, tzinfo=UTC)  # 07:59 local: still held
    book.runner.pump()
    assert sms_count("+8613800000009") == sent_before
    book.runner.clock.now = datetime(2026, 4, 6, 0, 30, tzinfo=UTC)  # 08:30 local
    book.runner.pump()
    assert sms_count("+8613800000009") == sent_before + 1
    ledger = [i for i in ddb_items(book, "ContactLedgerTable") if i["borrower_id"]["S"] == "IB9"]
    assert len(json.loads(ledger[0]["events"]["S"])) == 1
    sent = [
        json.loads(line)
        for key in client("s3").list_objects_v2(Bucket=book.outcomes_bucket, Prefix="facts/dt=2026-04-06/")["Contents"]
        for line in client("s3")
        .get_object(Bucket=book.outcomes_bucket, Key=key["Key"])["Body"]
        .read()
        .decode()
        .splitlines()
    ]
    [why] = [f["reason"] for f in sent if f["fact_type"] == "action_sent" and f["loan_id"] == "IL9"]
    # explainable: the strategy step that produced it, and every guard rule it passed
    assert why.startswith("m1-reminders/m1-sms (cn-default v1 champion): 0 days after bucket entry; guard passed: ")
    assert "borrower_only, holds, opt_out, open_promise, contact_hours, channel_caps" in why


def plant_voice_action(book, aid: str) -> dict:
    """A planned call for IL9 (its case opened by the deferral test above); returns its queue message."""
    from arrears.adapters.clients import client

    case_id = next(
        i["case_id"]["S"] for i in ddb_items(book, "CollectionsTable") if i["sk"]["S"].startswith("CASE#IL9#")
    )
    client("dynamodb").put_item(
        TableName=book.dep.physical["CollectionsTable"],
        Item={
            "loan_id": {"S": "IL9"},
            "sk": {"S": f"ACT#{aid}"},
            "kind": {"S": "action"},
            "case_id": {"S": case_id},
            "status": {"S": "planned"},
            "borrower_id": {"S": "IB9"},
            "action_id": {"S": aid},
            "channel": {"S": "voice"},
            "template": {"S": "flow/zh-CN/m1_soft_call"},
            "step": {"S": "m1-call"},
        },
    )
    return {
        "action_id": aid,
        "loan_id": "IL9",
        "case_id": case_id,
        "channel": "voice",
        "template": "flow/zh-CN/m1_soft_call",
        "borrower_id": "IB9",
    }


def test_a_claim_whose_answer_was_lost_and_retried_by_the_sdk_still_sends_once(book, monkeypatch):
    """DynamoDB applies the claim (planned -> sent) but the answer times out; the SDK retries it and
    the retry's condition fails on the sender's own write. The sender must see the claim as its own:
    the call is placed once, not dropped as if another delivery had claimed it."""
    from botocore.exceptions import ReadTimeoutError
    from moto.core.botocore_stubber import BotocoreStubber

    from arrears.adapters.channels import SimulatedVoice, simulated_outcome
    from arrears.adapters.clients import client

    aid = next(f"iclaim{n:04d}" for n in range(1000) if simulated_outcome(f"iclaim{n:04d}") == "no_answer")
    body = plant_voice_action(book, aid)
    lost = []
    real = BotocoreStubber.__call__

    def answer_lost_once(self, event_name, request, **kw):
        data = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
        claim = event_name.endswith("dynamodb.UpdateItem") and f'"ACT#{aid}"'.encode() in data and b'"sent_at"' in data
        response = real(self, event_name, request, **kw)
        if claim and not lost:
            lost.append(aid)
            raise ReadTimeoutError(endpoint_url=request.url)
        return response

    monkeypatch.setattr(BotocoreStubber, "__call__", answer_lost_once)
    client("sqs").send_message(QueueUrl=book.dep.physical["VoiceQueue"], MessageBody=json.dumps(body))
    book.runner.pump()
    assert lost == [aid]
    assert [p for p in SimulatedVoice.placed if p[2] == aid] == [("+8613800000009", "flow/zh-CN/m1_soft_call", aid)]
    act = client("dynamodb").get_item(
        TableName=book.dep.physical["CollectionsTable"], Key={"loan_id": {"S": "IL9"}, "sk": {"S": f"ACT#{aid}"}}
    )
    assert (act["Item"]["status"]["S"], act["Item"]["outcome"]["S"]) == ("sent", "no_answer")


def test_a_call_result_whose_recording_fails_after_the_claim_is_finished_by_the_redelivery(book, monkeypatch):
    """The call is placed once; its result (a promise) is kept on the action before anything else, so
    when writing it to the contact ledger fails, and then writing the promise fails, each redelivery
    finishes what is left and never calls again."""
    from pynamodb.exceptions import PutError

    from arrears.adapters.channels import SimulatedVoice, simulated_outcome
    from arrears.adapters.clients import client
    from arrears.adapters.models import LedgerModel
    from arrears.usecases import send

    aid = next(f"ivoice{n:04d}" for n in range(1000) if simulated_outcome(f"ivoice{n:04d}") == "promise")
    collections = book.dep.physical["CollectionsTable"]
    body = plant_voice_action(book, aid)
    failures = []
    real_record_call, real_save = send.record_call, LedgerModel.save

    def record_call_failing_once(*a, **kw):
        if "contact ledger" not in failures:
            failures.append("contact ledger")
            raise RuntimeError("injected: the contact ledger write failed")
        return real_record_call(*a, **kw)

    def save_failing_once(self, *a, **kw):
        if self.entry.startswith("PTP#") and "promise" not in failures:
            failures.append("promise")
            raise PutError("injected: the promise write failed")
        return real_save(self, *a, **kw)

    monkeypatch.setattr(send, "record_call", record_call_failing_once)
    monkeypatch.setattr(LedgerModel, "save", save_failing_once)
    client("sqs").send_message(QueueUrl=book.dep.physical["VoiceQueue"], MessageBody=json.dumps(body))
    book.runner.pump()
    assert failures == ["contact ledger", "promise"]  # both writes failed once, on two deliveries
    assert [p for p in SimulatedVoice.placed if p[2] == aid] == [("+8613800000009", "flow/zh-CN/m1_soft_call", aid)]
    act = client("dynamodb").get_item(TableName=collections, Key={"loan_id": {"S": "IL9"}, "sk": {"S": f"ACT#{aid}"}})
    assert (act["Item"]["status"]["S"], act["Item"]["outcome"]["S"]) == ("sent", "promise")
    [ledger] = [i for i in ddb_items(book, "ContactLedgerTable") if i["borrower_id"]["S"] == "IB9"]
    assert [e[4] for e in json.loads(ledger["events"]["S"]) if e[3] == aid] == ["conversation"]
    assert any(i["entry"]["S"] == f"PTP#{aid}" for i in ddb_items(book, "LedgerTable") if i["loan_id"]["S"] == "IL9")
    loan = {i["loan_id"]["S"]: i for i in ddb_items(book, "LoansTable")}["IL9"]
    assert loan["promise_id"]["S"] == aid  # the ledger stream opened the promise on the loan
    facts = [
        json.loads(line)
        for key in client("s3").list_objects_v2(Bucket=book.outcomes_bucket, Prefix="facts/")["Contents"]
        for line in client("s3")
        .get_object(Bucket=book.outcomes_bucket, Key=key["Key"])["Body"]
        .read()
        .decode()
        .splitlines()
    ]
    outcomes = {
        (f["fact_id"], f["reason"]) for f in facts if f["fact_type"] == "call_outcome" and f["action_id"] == aid
    }
    assert len(outcomes) == 1 and next(iter(outcomes))[1] == "promise"


def test_duplicates_in_one_batch_read_their_contexts_again_together_and_call_once(book, monkeypatch):
    """Two planned calls, each delivered twice in one batch: the second deliveries read what the
    first ones did in one read (not one each), and each call is placed at most once."""
    import sys

    from arrears.adapters.channels import SimulatedVoice
    from arrears.adapters.clients import client

    bodies = [plant_voice_action(book, aid) for aid in ("idupa001", "idupb001")]
    book.runner.functions["VoiceSenderFunction"]._load()
    app = sys.modules["arrears_fn_VoiceSenderFunction"]
    reads: list[list[str]] = []
    real = app.contexts

    def counted(messages):  # type: ignore[no-untyped-def]
        reads.append([m.action_id for m in messages])
        return real(messages)

    monkeypatch.setattr(app, "contexts", counted)
    placed_before = len(SimulatedVoice.placed)
    book.runner.clock.now = datetime(2026, 4, 13, 2, 0, tzinfo=UTC)  # 10:00 local, after IL9's promise
    for body in bodies + bodies:
        client("sqs").send_message(QueueUrl=book.dep.physical["VoiceQueue"], MessageBody=json.dumps(body))
    book.runner.pump()
    assert reads[0] == ["idupa001", "idupb001", "idupa001", "idupb001"]
    assert reads[1] == ["idupa001", "idupb001"]  # both second deliveries, read once
    placed = [p[2] for p in SimulatedVoice.placed[placed_before:]]
    status = {
        i["action_id"]["S"]: (i["status"]["S"], i.get("reason", {}).get("S"))
        for i in ddb_items(book, "CollectionsTable")
        if i["sk"]["S"] in ("ACT#idupa001", "ACT#idupb001")
    }
    assert placed and all(placed.count(aid) == 1 for aid in placed), status


def test_a_shard_delivered_again_after_it_finished_reads_no_loans(book, monkeypatch):
    from arrears.adapters import runs, store
    from arrears.adapters.clients import client
    from arrears.domain.timeutil import iso

    run_at = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # the daily run of the test above
    _, done = runs.state_of(run_at)
    assert done
    read: list[str] = []
    real = store.due_loans

    def due_loans(shard, *args):  # type: ignore[no-untyped-def]
        read.append(shard)
        return real(shard, *args)

    monkeypatch.setattr(store, "due_loans", due_loans)
    for shard in sorted(done):
        body = {"shard": shard, "run_at": iso(run_at)}
        client("sqs").send_message(QueueUrl=book.dep.physical["WorkQueue"], MessageBody=json.dumps(body))
    book.runner.pump()
    assert read == []
    assert runs.summary_of(run_at) is not None  # dispatched once; asked again, skipped


def test_a_loans_state_is_written_after_its_case_items_whatever_their_order(book, monkeypatch):
    """The loan's state is the commit point: when a case item's write fails, the state is not written
    either (the retry finds the change again), even when the loans come first in what is saved."""
    from arrears.adapters import store
    from arrears.adapters.models import CollectionModel, LoanModel

    loan = LoanModel.get("IL1", consistent_read=True)
    seen = loan.last_contact_at
    loan.last_contact_at = "2099-01-01T00:00:00Z"
    case = CollectionModel("IL1", "CASE#IL1#order-test", kind="case", case_id="IL1#order-test", status="open")

    def failing(*_: object, **__: object) -> None:
        raise RuntimeError("the case items' write failed")

    monkeypatch.setattr(CollectionModel, "batch_write", failing)
    with pytest.raises(RuntimeError):
        store.save_all([loan, case])
    assert LoanModel.get("IL1", consistent_read=True).last_contact_at == seen
