"""Integration: payment plans and settlements end to end on the stack deployed from template.yaml into
moto. An agent offers, the link goes out by SMS through the sender and the guard, the borrower opens
it, proves who they are and accepts; the ledger stream applies the arrangement (hold, stage plan, DPD
from the plan), a missed installment breaks it, a settlement paid in full is written down and closes
the case as settled; the platform receives each step as a signed callback (Standard Webhooks)."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.conftest import csv_bytes, load_event
from tests.integration.test_api_on_moto import call
from tests.integration.test_hostile_imports import _facts, _report
from tests.integration.test_ops_api_on_moto import loan, ops
from tests.integration.test_pipeline_on_moto import BORROWERS, INSTALLMENTS, LOANS

pytestmark = pytest.mark.integration

RUN_AT = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai: 1 DPD
ID_NUMBER = "110101199003071234"  # a PRC ID number: born 1990-03-07, last four 1234


@pytest.fixture(scope="module")
def book(stack):
    ids = {"IL1": "OL1", "IL2": "OL2", "IL3": "OL3", "IB1": "OB1", "IB2": "OB2"}
    ren = lambda rows: [{k: ids.get(v, v) for k, v in r.items()} for r in rows]  # noqa: E731
    borrowers = [{**b, "id_number": ID_NUMBER if b["borrower_id"] == "IB1" else ""} for b in BORROWERS]
    stack.upload("borrowers/b.csv", csv_bytes(ren(borrowers)))
    stack.upload("loans/l.csv", csv_bytes(ren(LOANS)))
    stack.upload("installments/i.csv", csv_bytes(ren(INSTALLMENTS)))
    stack.runner.clock.now = RUN_AT
    stack.runner.schedule("DailyRunFunction").fire(RUN_AT)
    stack.runner.pump()
    stack.runner.clock.now = RUN_AT + timedelta(hours=2)  # 11:00 in Shanghai: within contact hours
    return stack


def pay(stack, link: str, step: str, answer: str):
    """The borrower's page's request (``verify`` or ``accept``), as the browser sends it."""
    from arrears_local.apigw import rest_event

    path = link.split("://", 1)[1].split("/", 1)[1].split("?", 1)[0]
    event = rest_event(
        "POST",
        f"/{path}/{step}",
        {"Content-Type": "application/json"},
        json.dumps({"answer": answer}).encode(),
        now=stack.runner.clock.now,
    )
    out = stack.runner.functions["ApiFunction"].invoke(event)
    return out["statusCode"], json.loads(out["body"])


def texts(stack) -> list[str]:
    from moto.sns.models import sns_backends

    return [m[1] for b in sns_backends.values() for r in b.values() for m in r.sms_messages.values()]


def links(stack) -> list[str]:
    return [m for t in texts(stack) for m in re.findall(r"https?://\S+/pay/\S+", t)]


def link_in_sms(stack) -> str:
    """The next link sent: the guard may defer it (the day's SMS cap): then it goes the next morning."""
    before = len(links(stack))
    for _ in range(3):
        stack.runner.pump()
        if len(links(stack)) > before:
            return links(stack)[-1]
        stack.runner.clock.now += timedelta(days=1)  # no daily run: only the deferred message comes back
    raise AssertionError("no link was sent")


def test_limits_are_set_by_an_admin_only_and_an_agent_beyond_them_needs_a_supervisor(book):
    limits = {
        "agent": {"max_installments": 3, "min_first_payment_pct": "20", "max_discount_pct": "10", "max_days": 90},
        "supervisor": {"max_installments": 6, "min_first_payment_pct": "10", "max_discount_pct": "30", "max_days": 180},
    }
    assert ops(book, "PUT", "/v1/ops/settings/plan-limits/cash-3m", "supervisor", limits)[0] == 403
    status, body = ops(book, "PUT", "/v1/ops/settings/plan-limits/cash-3m", "admin", limits)
    assert status == 202 and body["value"]["agent"]["max_installments"] == "3"
    bad = {**limits, "supervisor": {**limits["supervisor"], "max_installments": 2}}
    status, body = ops(book, "PUT", "/v1/ops/settings/plan-limits/cash-3m", "admin", bad)
    assert status == 400 and body["field"] == "supervisor"
    shown = ops(book, "GET", "/v1/ops/settings", "analyst")[1]["plan_limits"]["cash-3m"]
    assert shown["agent"]["max_installments"] == "3" and shown["supervisor"]["max_discount_pct"] == "30"
    costs = {"currency": "CNY", "costs": {"sms": "0.04", "voice": "1.10"}}
    assert ops(book, "PUT", "/v1/ops/settings/channel-costs", "admin", {**costs, "costs": {"fax": "1"}})[0] == 400
    assert ops(book, "PUT", "/v1/ops/settings/channel-costs", "admin", costs)[0] == 202
    assert ops(book, "GET", "/v1/ops/settings", "agent")[1]["channel_costs"] == costs
    usd = {"currency": "USD", "costs": {"sms": "0.01"}}
    assert ops(book, "PUT", "/v1/ops/settings/channel-costs", "admin", usd)[0] == 202
    got = ops(book, "GET", "/v1/ops/settings", "agent")[1]
    assert got["channel_costs"] == usd  # the last set
    assert got["channel_costs_by_currency"] == {costs["currency"]: costs["costs"], "USD": {"sms": "0.01"}}
    campaign = {
        "campaign_id": "cost-check",
        "name": "cost check",
        "target": {"buckets": ["M1"]},
        "channel": "sms",
        "template": "zh-CN/m1_reminder",
    }
    status, dry = ops(book, "POST", "/v1/ops/campaigns/dry-run", "supervisor", campaign, key=None)
    assert status == 200 and dry["cost_currency"] == "CNY"
    assert dry["estimated_cost"] == str(Decimal("0.04") * dry["would_send_today"])
    # an agent's 5-installment plan is beyond the agent's 3: it waits for a supervisor
    status, offer = ops(book, "POST", "/v1/ops/loans/OL1/offers", "agent", {"kind": "plan", "installments": 5})
    assert status == 202 and offer["status"] == "pending_approval"
    assert not [t for t in texts(book) if "/pay/" in t]
    # beyond even a supervisor's: refused, naming the limit
    status, body = ops(
        book,
        "POST",
        "/v1/ops/loans/OL1/offers",
        "agent",
        {"kind": "settlement", "discount_pct": "40", "pay_by": "2026-03-20"},
    )
    assert status == 422 and "discount" in body["Message"]
    # a borrower without an ID number on file cannot be checked: no link
    status, body = ops(book, "POST", "/v1/ops/loans/OL2/offers", "agent", {"kind": "plan", "installments": 2})
    assert status == 409 and "ID number" in body["Message"]
    assert ops(book, "GET", "/v1/ops/offers/pending", "agent")[0] == 403
    waiting = ops(book, "GET", "/v1/ops/offers/pending", "supervisor")[1]["offers"]
    assert [(o["loan_id"], o["offer_id"], o["by"]) for o in waiting] == [("OL1", offer["offer_id"], "ann")]
    assert ops(book, "POST", f"/v1/ops/loans/OL1/offers/{offer['offer_id']}/approve", "agent", {})[0] == 403
    status, body = ops(book, "POST", f"/v1/ops/loans/OL1/offers/{offer['offer_id']}/withdraw", "agent", {})
    assert status == 202 and body["status"] == "withdrawn"
    assert ops(book, "GET", "/v1/ops/offers/pending", "supervisor")[1]["offers"] == []


def test_a_plan_goes_out_through_the_guard_is_accepted_once_pauses_dunning_and_breaks_when_missed(book):
    status, offer = ops(
        book, "POST", "/v1/ops/loans/OL1/offers", "agent", {"kind": "plan", "installments": 3, "every_days": 14}
    )
    assert status == 202 and offer["status"] == "offered"
    assert [d[1] for d in offer["terms"]["schedule"]] == ["35.00", "35.00", "35.00"]  # 105.00 overdue in 3
    link = link_in_sms(book)  # the SMS sender sends it through the guard
    assert "105" not in next(t for t in texts(book) if link in t)  # the text says nothing of the debt
    sent = [f for f in _facts(book, "action_sent") if f["loan_id"] == "OL1" and f.get("strategy") == "offer"]
    assert sent and "guard passed" in sent[0]["reason"]
    # the page tells nothing before the visitor proves who they are; wrong answers count
    status, body = pay(book, link, "verify", "0000")
    assert status == 403 and "4 tries left" in body["Message"] and "105" not in json.dumps(body)
    status, shown = pay(book, link, "verify", "1990-03-07")
    assert status == 200 and shown["kind"] == "plan" and len(shown["schedule"]) == 3
    status, accepted = pay(book, link, "accept", "1234")
    assert status == 200 and accepted["accepted"]
    assert pay(book, link, "accept", "1234") == (200, accepted)  # a double click: the same answer, one arrangement
    book.runner.pump()  # the ledger stream applies the arrangement; the callback reaches the platform
    state = loan(book, "OL1")
    assert state["stage"]["S"] == "plan" and "paused" in state["holds"]["SS"]
    assert state["bucket"]["S"] == "M1" and state.get("case_id")
    started = [e for e in book.platform.events.values() if e["type"] == "arrangement.started"]
    assert [e["data"]["loan_id"] for e in started] == ["OL1"] and not book.platform.refused
    # the platform may not change the schedule under an active arrangement
    new = {
        "schedule": [{"seq": 1, "due_date": "2026-03-01", "principal_due": "1.00", "interest_due": "0", "fee_due": "0"}]
    }
    status, _, body = call(book, "/v1/loans/OL1/schedule", new, method="PUT")
    assert status == 409 and "arrangement" in json.loads(body)["Message"]
    # nor through a file: a changed installment is rejected, the same one again is fine
    rows = [dict(r, loan_id="OL1") for r in INSTALLMENTS if r["loan_id"] == "IL1"]
    book.upload("installments/again.csv", csv_bytes(rows))
    book.upload("installments/changed.csv", csv_bytes([dict(rows[2], due_date="2026-06-01")]))
    assert _report(book, "installments/again.csv")["accepted"] == 3
    changed = _report(book, "installments/changed.csv")
    assert changed["accepted"] == 0 and "arrangement" in changed["rejects"][0]["reason"]
    # the first installment paid, then nothing: the second one's date passes and the plan breaks
    payment = {"payment_id": "OP1", "loan_id": "OL1", "paid_at": "2026-03-02T12:00:00+08:00", "amount": "35.00"}
    assert call(book, "/v1/repayments", payment)[0] == 202
    book.runner.pump()
    assert loan(book, "OL1")["stage"]["S"] == "plan"
    start = book.runner.clock.now
    for day in range(1, 20):
        at = start + timedelta(days=day)
        book.runner.clock.now = at
        book.runner.schedule("DailyRunFunction").fire(at)
        book.runner.pump()
    state = loan(book, "OL1")
    assert "stage" not in state and "paused" not in state.get("holds", {}).get("SS", [])
    broken = [f for f in _facts(book, "arrangement_broken") if f["loan_id"] == "OL1"]
    second_due = accepted["schedule"][1]["due_on"]  # as accepted: the plan moved to start that day
    assert len(broken) == 1 and second_due in broken[0]["reason"]
    assert {e["type"] for e in book.platform.events.values()} >= {"arrangement.started", "arrangement.broken"}
    assert not [f for f in _facts(book, "case_closed") if f["loan_id"] == "OL1"]  # never counted as a cure


def test_a_settlement_paid_in_full_writes_the_rest_down_and_closes_the_case_as_settled(book):
    pay_by = (book.runner.clock.now + timedelta(days=5)).date().isoformat()
    body = {"kind": "settlement", "discount_pct": "25", "pay_by": pay_by}  # beyond an agent's 10% here
    status, offer = ops(book, "POST", "/v1/ops/loans/OL3/offers", "agent", body)
    assert status == 202 and offer["status"] == "pending_approval"
    approved = ops(book, "POST", f"/v1/ops/loans/OL3/offers/{offer['offer_id']}/approve", "supervisor", {})
    assert approved[0] == 202 and approved[1]["status"] == "offered" and approved[1]["approved_by"] == "ann"
    assert ops(book, "GET", "/v1/ops/offers/pending", "supervisor")[1]["offers"] == []
    link = link_in_sms(book)
    assert pay(book, link, "accept", "1234")[0] == 200
    book.runner.pump()
    outstanding = loan(book, "OL3")["outstanding"]["N"]
    amount = offer["terms"]["schedule"][0][1]
    payment = {
        "payment_id": f"OS-{uuid.uuid4().hex[:6]}",
        "loan_id": "OL3",
        "paid_at": book.runner.clock.now.isoformat(),
        "amount": amount,
    }
    assert call(book, "/v1/repayments", payment)[0] == 202
    book.runner.pump()
    state = loan(book, "OL3")
    assert state["outstanding"]["N"] == "0" and "case_id" not in state and "stage" not in state
    forgiven = float(outstanding) - float(amount)
    assert abs(float(state["forgiven"]["N"]) - forgiven) < 0.01
    closed = [f for f in _facts(book, "case_closed") if f["loan_id"] == "OL3"]
    assert [f["reason"] for f in closed] == ["settled"]
    written = [f for f in _facts(book, "settlement_written_down") if f["loan_id"] == "OL3"]
    assert len(written) == 1 and abs(written[0]["amount_minor"] - round(forgiven * 100)) <= 1
    done = [
        e
        for e in book.platform.events.values()
        if e["type"] == "arrangement.completed" and e["data"]["loan_id"] == "OL3"
    ]
    assert done and done[0]["data"]["forgiven"] is not None


def test_a_link_locks_after_five_wrong_answers_and_a_forged_or_expired_one_shows_nothing(book):
    status, offer = ops(book, "POST", "/v1/ops/loans/OL1/offers", "agent", {"kind": "plan", "installments": 2})
    if status == 409:  # OL1's earlier plan broke: a new offer is allowed
        pytest.fail(offer["Message"])
    link = link_in_sms(book)
    for _ in range(4):
        assert pay(book, link, "verify", "9999")[0] == 403
    status, body = pay(book, link, "verify", "9999")
    assert status == 423
    assert pay(book, link, "verify", "1234")[0] == 423  # locked, even for the right answer
    book.runner.pump()  # the API's facts reach the lake from the idempotency table's stream
    failed = [f for f in _facts(book, "offer_identity_failed") if f["action_id"] == offer["offer_id"]]
    assert sorted(f["reason"] for f in failed)[-1] == "attempt 5 of 5; locked" and len(failed) == 5
    forged = link.replace("/pay/v1.", "/pay/v1.x")
    assert pay(book, forged, "verify", "1234")[0] == 404
    book.runner.clock.now += timedelta(days=8)
    assert pay(book, link, "verify", "1234")[0] in (410, 423)


def test_the_callbacks_are_retried_with_backoff_and_land_in_the_dlq_when_the_platform_keeps_failing(book):
    from arrears.adapters.clients import client
    from arrears.usecases.callbacks import backoff_s

    assert [backoff_s(n) for n in (1, 2, 3, 6, 10)] == [30, 60, 120, 900, 900]
    sqs = client("sqs")
    event = json.loads(load_event("callback_sqs.json")["Records"][0]["body"])  # the Lambda console's sample
    event["id"] = "evt_test_retry"
    sqs.send_message(QueueUrl=book.dep.physical["CallbackQueue"], MessageBody=json.dumps(event))
    book.platform.fail_next = 2
    for _ in range(3):
        book.runner.pump()
        book.runner.clock.now += timedelta(minutes=20)
    assert "evt_test_retry" in book.platform.events
    before = book.platform.deliveries
    sqs.send_message(QueueUrl=book.dep.physical["CallbackQueue"], MessageBody=json.dumps(event))  # a redelivery
    book.runner.pump()
    assert book.platform.deliveries == before  # delivered once: not posted again


def test_a_withdrawn_offers_link_is_not_sent_though_its_message_was_queued(book):
    from tests.integration.test_pipeline_on_moto import ddb_items

    status, offer = ops(book, "POST", "/v1/ops/loans/OL1/offers", "agent", {"kind": "plan", "installments": 2})
    assert status == 202 and offer["status"] == "offered"
    before = len(links(book))
    assert ops(book, "POST", f"/v1/ops/loans/OL1/offers/{offer['offer_id']}/withdraw", "agent", {})[0] == 202
    book.runner.pump()
    book.runner.clock.now += timedelta(days=1)  # a deferred message would come back now
    book.runner.pump()
    assert len(links(book)) == before
    acts = [
        i
        for i in ddb_items(book, "CollectionsTable")
        if i["loan_id"]["S"] == "OL1" and i.get("step", {}).get("S") == f"offer:{offer['offer_id']}"
    ]
    assert [(a["status"]["S"], "withdrawn" in a["reason"]["S"]) for a in acts] == [("cancelled", True)]
