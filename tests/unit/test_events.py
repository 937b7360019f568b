"""The sample events in events/ parse into the handlers' typed inputs (they are also console tests)."""

import importlib.util
import json
import sys
from datetime import UTC, datetime
from decimal import Decimal

from arrears.usecases.send import ActionMessage
from tests.conftest import ROOT, load_event


def handler_module(name: str):
    spec = importlib.util.spec_from_file_location(f"events_test_{name}", ROOT / "functions" / name / "app.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_ledger_stream_event():
    app = handler_module("ledger_events")
    pay, marker = (app.parse_change(r) for r in load_event("ledger_stream_repayment.json")["Records"])
    assert (pay.loan_id, pay.entry, pay.event) == ("L0000010", "PAY#P-L0000010-1-1", "INSERT")
    assert Decimal(pay.new["amount"]) == Decimal("352.50")
    assert marker.at == datetime(2026, 3, 15, 1, tzinfo=UTC)  # an EVAL marker is applied as of its run


def test_shard_work_event():
    app = handler_module("shard_worker")
    work = app.parse_work(load_event("shard_work_sqs.json")["Records"][0]["body"])
    assert (work.shard, work.run_at, work.start_key) == ("0003", datetime(2026, 3, 15, 1, tzinfo=UTC), None)


def test_sms_action_event():
    msg = ActionMessage.parse(json.loads(load_event("sms_action_sqs.json")["Records"][0]["body"]))
    assert (msg.channel, msg.template, msg.borrower_id) == ("sms", "zh-CN/m1_reminder", "B000011")


def test_voice_action_event():
    msg = ActionMessage.parse(json.loads(load_event("voice_action_sqs.json")["Records"][0]["body"]))
    assert (msg.channel, msg.template) == ("voice", "flow/zh-CN/m2_firm_call")


def test_dispatch_work_event():
    app = handler_module("shard_worker")
    work = app.parse_work(load_event("dispatch_work_sqs.json")["Records"][0]["body"])
    assert type(work).__name__ == "Dispatch" and work.run_at == datetime(2026, 3, 15, 1, tzinfo=UTC)


def test_schedule_events_carry_the_scheduled_time():
    for name in ("daily_run_schedule.json", "daily_report_schedule.json", "train_schedule.json"):
        assert load_event(name)["scheduled_time"].endswith("Z")


def test_api_reversal_event_is_a_signed_rest_proxy_event_for_the_reversal_route():
    """The sample is what API Gateway sends the API's function (tests/integration/test_reversals_on_moto.py
    invokes it on the local stack): a REST (v1) proxy event on the route's own resource, signed as the
    platform signs (the Standard Webhooks spec's test secret, at its webhook-timestamp)."""
    from arrears.domain.webhooks import verify

    event = load_event("api_reversal_rest.json")
    resource = "/v1/repayments/{payment_id}/reversal"
    assert event["resource"] == event["requestContext"]["resourcePath"] == resource
    assert event["httpMethod"] == "POST" and event["pathParameters"] == {"payment_id": "P-88231"}
    headers = {k.lower(): v for k, v in event["headers"].items()}
    at = datetime.fromtimestamp(int(headers["webhook-timestamp"]), UTC)
    assert (
        verify(["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], headers, event["body"].encode(), at) == headers["webhook-id"]
    )
    swagger = json.loads((ROOT / "infra" / "api" / "swagger.json").read_text())
    assert "post" in swagger["paths"][resource]


def test_api_facts_stream_event():
    """An API request's first answer, inserted with its facts: the facts' lines are what the function
    writes; any other record (a file's payment, a change) carries none."""
    app = handler_module("api_facts")
    (record,) = load_event("api_facts_stream.json")["Records"]
    (fact,) = [json.loads(line) for line in app.facts_of(record).splitlines()]
    assert (fact["fact_type"], fact["action_id"], fact["payment_id"]) == ("platform_event", "msg_pay_88231", "P-88231")
    assert app.facts_of({**record, "eventName": "MODIFY"}) == ""
    image = {k: v for k, v in record["dynamodb"]["NewImage"].items() if k != "facts"}
    assert app.facts_of({**record, "dynamodb": {**record["dynamodb"], "NewImage": image}}) == ""
