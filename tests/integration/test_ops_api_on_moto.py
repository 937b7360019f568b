"""Integration: operations staff call the operations API (``/v1/ops/...``) as they would in AWS: REST
proxy events to the real API handler, on the stack deployed from template.yaml into moto, signed in
with bearer tokens of the local key (the local stack's stand-in for the Cognito user pool)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest

from tests.integration import test_api_on_moto
from tests.integration.test_api_on_moto import call
from tests.integration.test_hostile_imports import _facts
from tests.integration.test_pipeline_on_moto import ddb_items

pytestmark = pytest.mark.integration

book = test_api_on_moto.book  # the fixture: three delinquent loans with their first SMS planned


def token(stack, role: str, user: str = "ann", **kw) -> str:
    from arrears_local.auth import mint

    return mint(stack.out, role, user, **kw)


def ops(
    stack, method: str, path: str, role: str | None = "agent", body=None, *, key: str | None = "auto", headers=None
):
    """Call an operations route as ``role`` (None: no token); ``key``: the Idempotency-Key (auto: a new one)."""
    from arrears_local.apigw import rest_event

    raw = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else b"")
    h = {"Content-Type": "application/json"}
    if role:
        h["Authorization"] = f"Bearer {token(stack, role)}"
    if key:
        h["Idempotency-Key"] = uuid.uuid4().hex if key == "auto" else key
    h |= headers or {}
    out = stack.runner.functions["ApiFunction"].invoke(rest_event(method, path, h, raw, now=stack.runner.clock.now))
    return out["statusCode"], json.loads(out["body"])


def loan(stack, loan_id: str) -> dict:
    return {i["loan_id"]["S"]: i for i in ddb_items(stack, "LoansTable")}[loan_id]


def test_who_may_do_what_follows_the_roles(book):
    assert ops(book, "GET", "/v1/ops/me", "analyst") == (
        200,
        {"user": "ann", "role": "analyst", "permissions": ["dashboards.read", "strategies.read"]},
    )
    assert ops(book, "GET", "/v1/ops/loans/AL1", "analyst")[0] == 403
    assert ops(book, "POST", "/v1/ops/loans/AL1/notes", "analyst", {"text": "x"})[0] == 403
    assert ops(book, "GET", "/v1/ops/audit", "agent")[0] == 403
    assert ops(book, "GET", "/v1/ops/audit", "supervisor")[0] == 403
    assert ops(book, "GET", "/v1/ops/audit", "admin")[0] == 200


def test_no_token_a_foreign_or_an_expired_one_or_a_webhook_signature_is_a_401(book, tmp_path):
    from arrears_local.auth import ensure_key, mint

    status, body = ops(book, "GET", "/v1/ops/me", None)
    assert status == 401 and "Bearer" in body["Message"]
    ensure_key(tmp_path)  # another stack's key
    foreign = mint(tmp_path, "admin", "mallory")
    assert ops(book, "GET", "/v1/ops/me", None, headers={"Authorization": f"Bearer {foreign}"})[0] == 401
    expired = token(book, "admin", now=book.runner.clock.now.timestamp() - 86400 * 400)
    status, body = ops(book, "GET", "/v1/ops/me", None, headers={"Authorization": f"Bearer {expired}"})
    assert status == 401 and "expired" in body["Message"]
    # a request signed as the platform signs its webhooks is no credential here ...
    from arrears_local.apigw import signed_headers
    from tests.integration.test_api_on_moto import secret

    raw = json.dumps({"text": "x"}).encode()
    signed = signed_headers(secret(book), raw, book.runner.clock.now)
    status, body = ops(book, "POST", "/v1/ops/loans/AL1/notes", None, raw, headers=signed)
    assert status == 401 and "not a webhook signature" in body["Message"]
    # ... and a bearer token is none on the platform's routes
    payment = {"payment_id": "OPX", "loan_id": "AL1", "paid_at": "2026-03-02T12:00:00+08:00", "amount": "1.00"}
    status, _, body = call(
        book,
        "/v1/repayments",
        payment,
        headers={"Authorization": f"Bearer {token(book, 'admin')}", "webhook-signature": ""},
    )
    assert status == 401


def test_a_note_is_written_once_audited_in_full_and_hashed_in_the_lake(book):
    text = "borrower says salary comes on the 15th"
    key = f"note-{uuid.uuid4().hex}"
    status, first = ops(book, "POST", "/v1/ops/loans/AL1/notes", "agent", {"text": text}, key=key)
    assert status == 202 and first["by"] == "ann"
    assert ops(book, "POST", "/v1/ops/loans/AL1/notes", "agent", {"text": "changed"}, key=key) == (202, first)
    notes = [i for i in ddb_items(book, "CollectionsTable") if i["sk"]["S"].startswith("NOTE#")]
    assert [(n["note"]["S"], n["by"]["S"]) for n in notes] == [(text, "ann")]
    status, view = ops(book, "GET", "/v1/ops/loans/AL1", "agent")
    assert status == 200 and {"kind": "note", "by": "ann", "text": text} in [
        {k: e.get(k) for k in ("kind", "by", "text")} for e in view["timeline"]
    ]
    status, audit = ops(book, "GET", "/v1/ops/audit", "admin")
    record = next(r for r in audit["records"] if r["at_key"].endswith(key))
    assert (record["user"], record["role"], record["route"]) == ("ann", "agent", "POST /v1/ops/loans/{loan_id}/notes")
    assert record["after"] == {"text": text} and record["target"] == {"loan_id": "AL1"}
    book.runner.pump()  # the facts stored with the answer reach the lake from the idempotency table's stream
    fact = next(f for f in _facts(book, "operator_write") if f["action_id"].endswith(key))
    assert fact["source"] == "operator/agent" and fact["loan_id"] == "AL1"
    reason = json.loads(fact["reason"])
    assert reason["user"] == "ann" and set(reason["fields"]) == {"text"}
    assert text not in json.dumps(fact)  # the value's hash, never the value
    status, body = ops(
        book, "POST", "/v1/ops/loans/AL1/promises", "agent", {"until": "2026-03-05", "amount": "1"}, key=key
    )
    assert status == 409 and body["field"] == "Idempotency-Key"


def test_bad_writes_are_refused_naming_what_is_wrong_and_write_nothing(book):
    before = len(ddb_items(book, "AuditTable"))
    cases = [
        ("/v1/ops/loans/AL1/notes", {"text": ""}, None, 400, "text"),
        ("/v1/ops/loans/AL1/notes", {"text": "x", "extra": 1}, None, 400, "extra"),
        ("/v1/ops/loans/AL1/notes", b"{not json", None, 400, None),
        ("/v1/ops/loans/AL1/notes", {"text": "x"}, "", 400, "Idempotency-Key"),
        ("/v1/ops/loans/NOPE/notes", {"text": "x"}, None, 404, None),
        ("/v1/ops/loans/AL1/holds", {"hold": "deceased"}, None, 400, "hold"),
        ("/v1/ops/loans/AL1/promises", {"until": "2026-13-01", "amount": "5"}, None, 400, "until"),
        ("/v1/ops/loans/AL1/promises", {"until": "2026-02-01", "amount": "5"}, None, 400, "until"),
        ("/v1/ops/loans/AL1/promises", {"until": "2026-03-04", "amount": "0"}, None, 400, "amount"),
        ("/v1/ops/loans/AL1/promises", {"until": "2026-03-04", "amount": "5.001"}, None, 400, "amount"),
        ("/v1/ops/loans/AL1/promises", {"until": "2026-03-04", "amount": "99999"}, None, 400, "amount"),
    ]
    for path, body, key, status, field in cases:
        got, answer = ops(book, "POST", path, "agent", body, key="auto" if key is None else key)
        assert got == status and answer.get("field") == field, (path, body, answer)
    assert len(ddb_items(book, "AuditTable")) == before


def test_an_operators_dispute_hold_stops_dunning_and_only_an_operator_lifts_it(book):
    status, _ = ops(book, "POST", "/v1/ops/loans/AL1/holds", "agent", {"hold": "dispute", "reason": "fee disputed"})
    assert status == 202
    book.runner.pump()
    assert loan(book, "AL1")["holds"]["SS"] == ["dispute"]
    status, view = ops(book, "GET", "/v1/ops/loans/AL1", "supervisor")
    assert view["holds"] == {"dispute": ["operator"]}
    # the platform lifting its own (absent) dispute hold leaves the operator's in force
    status, _, _ = call(book, "/v1/loans/AL1/holds/dispute", b"", method="DELETE")
    book.runner.pump()
    assert loan(book, "AL1")["holds"]["SS"] == ["dispute"]
    assert ops(book, "DELETE", "/v1/ops/loans/AL1/holds/dispute", "agent")[0] == 202
    book.runner.pump()
    assert "holds" not in loan(book, "AL1")
    assert [f["reason"] for f in _facts(book, "hold_placed") if f["loan_id"] == "AL1"] == ["dispute"]
    assert ops(book, "DELETE", "/v1/ops/loans/AL1/holds/nonsense", "agent")[0] == 404


def test_a_promise_made_to_an_agent_opens_on_the_loan_and_waits_dunning(book):
    today = (book.runner.clock.now + timedelta(hours=8)).date()  # Shanghai
    until = (today + timedelta(days=3)).isoformat()
    status, body = ops(book, "POST", "/v1/ops/loans/AL2/promises", "agent", {"until": until, "amount": "50"})
    assert status == 202 and body["until"] == until and body["amount"] == "50.00"
    book.runner.pump()
    state = loan(book, "AL2")
    assert (state["promise_until"]["S"], state["promise_amount"]["N"]) == (until, "50.00")
    assert [f["loan_id"] for f in _facts(book, "promise_made") if f["loan_id"] == "AL2"] == ["AL2"]
    status, view = ops(book, "GET", "/v1/ops/loans/AL2", "agent")
    assert view["promise"] == {"until": until, "amount": "50.00"}
    assert any(e["kind"] == "promise" and e["by"] == "operator/ann" for e in view["timeline"])


def test_the_sample_event_is_what_api_gateway_sends_for_a_note(book):
    """events/api_ops_note_rest.json (for the Lambda console) with a real token pasted in."""
    from tests.conftest import load_event

    event = load_event("api_ops_note_rest.json")
    event["headers"]["Authorization"] = f"Bearer {token(book, 'agent', 'console-user')}"
    out = book.runner.functions["ApiFunction"].invoke(event)
    assert out["statusCode"] == 202 and json.loads(out["body"])["by"] == "console-user"


def test_a_strategy_goes_from_draft_to_published_to_active_and_back(book):
    status, listing = ops(book, "GET", "/v1/ops/strategies", "analyst")
    cn = next(s for s in listing["strategies"] if s["id"] == "cn-default")
    assert status == 200 and cn["active"] == cn["versions"][-1]["version"] and cn["draft"] is None
    start = cn["active"]
    status, current = ops(book, "GET", f"/v1/ops/strategies/cn-default/versions/{start}", "analyst")
    assert status == 200 and current["state"] == "active"
    doc = current["document"]
    assert ops(book, "PUT", "/v1/ops/strategies/cn-default/draft", "analyst", {"document": doc})[0] == 403
    assert ops(book, "PUT", "/v1/ops/strategies/cn-default/draft", "agent", {"document": doc})[0] == 403

    # refused drafts name what is wrong, and save nothing
    status, body = ops(
        book, "PUT", "/v1/ops/strategies/cn-default/draft", "supervisor", {"document": {**doc, "id": "x"}}
    )
    assert status == 400 and body["field"] == "document.id"
    bad = json.loads(json.dumps(doc))
    bad["segments"][0]["match"]["buckets"] = ["M9"]
    status, body = ops(book, "PUT", "/v1/ops/strategies/cn-default/draft", "supervisor", {"document": bad})
    assert status == 400 and "'M9' is not a configured bucket" in body["Message"]
    status, body = ops(
        book, "PUT", "/v1/ops/strategies/cn-default/draft", "supervisor", {"document": {"id": "cn-default"}}
    )
    assert status == 400 and "invalid strategy" in body["Message"]
    assert ops(book, "POST", "/v1/ops/strategies/cn-default/versions", "supervisor", {})[0] == 409  # no draft yet

    changed = json.loads(json.dumps(doc))
    changed["name"] = "China consumer loans (zh-CN), quieter M1"
    status, body = ops(book, "PUT", "/v1/ops/strategies/cn-default/draft", "supervisor", {"document": changed})
    assert status == 202 and body["state"] == "draft"
    status, d = ops(book, "GET", "/v1/ops/strategies/cn-default/diff", "analyst")
    assert (
        status == 200
        and '+  "name": "China consumer loans (zh-CN), quieter M1"' in d["diff"]
        and d["from"] == str(start)
    )

    status, body = ops(book, "POST", "/v1/ops/strategies/cn-default/versions", "supervisor", {})
    assert status == 202 and body["version"] == start + 1
    from arrears.adapters import strategy_store

    assert strategy_store.active_version("cn-default") == start  # published is not active
    assert ops(book, "GET", "/v1/ops/strategies/cn-default/versions/draft", "analyst")[0] == 404  # consumed

    status, body = ops(book, "POST", "/v1/ops/strategies/cn-default/active", "supervisor", {"version": start + 1})
    assert status == 202 and (body["active"], body["previous"]) == (start + 1, start)
    assert strategy_store.active_version("cn-default") == start + 1
    assert ops(book, "POST", "/v1/ops/strategies/cn-default/active", "supervisor", {"version": start + 1})[0] == 409
    assert ops(book, "POST", "/v1/ops/strategies/cn-default/active", "supervisor", {"version": 99})[0] == 404
    status, body = ops(book, "POST", "/v1/ops/strategies/cn-default/rollback", "admin", {})
    assert status == 202 and body["active"] == start
    assert strategy_store.active_version("cn-default") == start

    status, audit = ops(book, "GET", "/v1/ops/audit", "admin")
    routes = [r["route"].rsplit("/", 1)[1] for r in audit["records"] if r["target"] == {"strategy_id": "cn-default"}]
    assert sorted(routes) == ["active", "draft", "rollback", "versions"]


def test_the_dashboard_shows_the_reports_trend_and_every_queue(book):
    from datetime import datetime

    before = book.runner.clock.now
    book.runner.clock.now = datetime.fromisoformat("2026-03-02T16:15:00+00:00")  # the day after, 00:15 in Shanghai
    try:
        book.runner.schedule("DailyReportFunction").fire(book.runner.clock.now)
        status, board = ops(book, "GET", "/v1/ops/dashboard?days=3", "analyst")
    finally:
        book.runner.clock.now = before
    assert status == 200, board
    assert [t["day"] for t in board["trend"]] == ["2026-03-02"] and board["latest"]["delinquent_loans"] >= 1
    names = {q["queue"]: q for q in board["queues"]}
    assert {"sms", "sms-dlq", "ledger-events-dlq", "api-facts-dlq", "import-failures-dlq"} <= set(names)
    assert names["sms-dlq"]["dead_letter"] and not names["sms"]["dead_letter"]
    assert ops(book, "GET", "/v1/ops/dashboard?days=0", "analyst")[0] == 400


def test_an_agents_call_is_reserved_through_the_guard_before_the_number_is_shown(book):
    from datetime import datetime as dt

    from arrears.adapters.contact_ledger import _load

    status, call = ops(book, "POST", "/v1/ops/loans/AL1/calls", "agent", {}, key="call-1")
    assert status == 202 and call["number"].startswith("+") and call["guard"].startswith("passed: ")
    assert ops(book, "POST", "/v1/ops/loans/AL1/calls", "agent", {}, key="call-1") == (202, call)  # once
    borrower = loan(book, "AL1")["borrower_id"]["S"]
    booked = [e for e in _load(borrower).events if e.action_id == call["call_id"]]
    assert [(e.channel, e.outcome) for e in booked] == [("voice", "attempt")]  # it counts in the caps
    stored = next(i for i in ddb_items(book, "IdempotencyTable") if i["key"]["S"].endswith("#call-1"))
    assert call["number"] not in json.dumps(stored)  # the number is never stored with the answer

    status, done = ops(
        book, "POST", f"/v1/ops/loans/AL1/calls/{call['call_id']}/result", "agent", {"result": "conversation"}
    )
    assert status == 202 and [e.outcome for e in _load(borrower).events if e.action_id == call["call_id"]] == [
        "conversation"
    ]
    book.runner.pump()  # the API's facts reach the lake (ApiFactsFunction)
    from arrears.adapters.facts_sink import read_day

    told = {
        f["fact_type"]: f
        for day in ("2026-03-01", "2026-03-02")
        for f in read_day(book.outcomes_bucket, day)
        if f.get("action_id") == call["call_id"]
    }
    sent, result = told["action_sent"], told["call_outcome"]
    assert (sent["agent"], sent["step"], sent["source"], sent["zones"]) == (
        "ann",
        "agent_call",
        "operator/agent",
        "Asia/Shanghai",
    )
    assert sent["cost_micros"] == 1_200_000 and (result["agent"], result["reason"]) == ("ann", "conversation")
    assert ops(book, "POST", "/v1/ops/loans/AL1/calls/agent-nope/result", "agent", {"result": "busy"})[0] == 404
    assert ops(book, "POST", f"/v1/ops/loans/AL1/calls/{call['call_id']}/result", "agent", {"result": "x"})[0] == 400

    # at 23:00 in Shanghai the guard refuses, naming the rule and when it would allow it
    before = book.runner.clock.now
    book.runner.clock.now = dt.fromisoformat("2026-03-02T15:00:00+00:00")
    try:
        status, body = ops(book, "POST", "/v1/ops/loans/AL1/calls", "agent", {})
    finally:
        book.runner.clock.now = before
    assert (
        status == 409
        and "the compliance guard refuses the call" in body["Message"]
        and "allowed from" in body["Message"]
    )


def test_a_supervisor_unmasks_personal_data_for_a_reason_and_it_is_audited(book):
    borrower = loan(book, "AL1")["borrower_id"]["S"]
    assert ops(book, "POST", f"/v1/ops/borrowers/{borrower}/unmask", "agent", {"reason": "verify identity"})[0] == 403
    status, body = ops(book, "POST", f"/v1/ops/borrowers/{borrower}/unmask", "supervisor", {"reason": "short"})
    assert status == 400 and body["field"] == "reason"
    status, body = ops(
        book, "POST", f"/v1/ops/borrowers/{borrower}/unmask", "supervisor", {"reason": "borrower disputes identity"}
    )
    assert status == 202 and body["personal_data"]["phone"].startswith("+") and "phone" in body["unmasked"]
    status, audit = ops(book, "GET", "/v1/ops/audit", "admin")
    record = next(r for r in audit["records"] if r["route"].endswith("/unmask"))
    assert record["after"]["reason"] == "borrower disputes identity" and record["target"] == {"borrower_id": borrower}
    assert body["personal_data"]["phone"] not in json.dumps(audit)


def test_a_call_that_ends_in_a_promise_records_it_on_the_loan(book):
    status, call = ops(book, "POST", "/v1/ops/loans/AL1/calls", "agent", {})
    assert status == 202
    today = (book.runner.clock.now + timedelta(hours=8)).date()
    path = f"/v1/ops/loans/AL1/calls/{call['call_id']}/result"
    assert ops(book, "POST", path, "agent", {"result": "busy", "until": today.isoformat()})[1]["field"] == "until"
    status, body = ops(book, "POST", path, "agent", {"result": "promise", "until": today.isoformat(), "amount": "20"})
    assert status == 202 and body["promise"] == {"until": today.isoformat(), "amount": "20.00"}
    book.runner.pump()
    assert loan(book, "AL1")["promise_amount"]["N"] == "20.00"
    outcomes = [f for f in _facts(book, "call_outcome") if f["action_id"] == call["call_id"]]
    assert [(f["reason"], f["source"]) for f in outcomes] == [("promise", "operator/agent")]


def test_the_work_queue_is_the_days_dispatched_cases_most_valuable_first(book):
    status, q = ops(book, "GET", "/v1/ops/queue", "agent")
    assert status == 200 and q["total"] >= 1
    values = [float(c["expected_recovery"]) for c in q["cases"]]
    assert values == sorted(values, reverse=True)
    assert all(c["bucket"] == "M1" for c in ops(book, "GET", "/v1/ops/queue?bucket=M1", "agent")[1]["cases"])
    assert ops(book, "GET", "/v1/ops/queue?bucket=M5", "agent")[1]["cases"] == []
    assert ops(book, "GET", "/v1/ops/queue?limit=0", "agent")[0] == 400
    assert ops(book, "GET", "/v1/ops/queue", "analyst")[0] == 403


def test_a_strategy_dry_run_is_a_job_fanned_out_over_the_shards(book):
    status, job = ops(book, "POST", "/v1/ops/strategies/cn-default/dry-runs", "supervisor", {"version": "1"}, key=None)
    assert status == 202 and job["status"] == "running"
    assert ops(book, "POST", "/v1/ops/strategies/cn-default/dry-runs", "analyst", {}, key=None)[0] == 403
    status, running = ops(book, "GET", f"/v1/ops/strategies/dry-runs/{job['job_id']}", "analyst")
    assert status == 200 and running["status"] == "running" and running["shards_done"] == 0
    book.runner.pump()  # the shard workers count their shards
    status, done = ops(book, "GET", f"/v1/ops/strategies/dry-runs/{job['job_id']}", "analyst")
    assert status == 200 and done["status"] == "done" and done["shards_done"] == done["shards"] == 4
    from arrears.adapters import strategy_store
    from arrears.config import Settings
    from arrears.usecases.dry_run import dry_run_book

    settings = Settings.from_env(book.runner.functions["DailyRunFunction"].env)
    whole = dry_run_book(settings, strategy_store.load("cn-default", 1), book.runner.clock.now)  # one process
    assert (done["loans"], done["no_action"], done["by_step"]) == (whole["loans"], whole["no_action"], whole["by_step"])
    assert done["loans"] >= 1
    assert ops(book, "GET", "/v1/ops/strategies/dry-runs/nope", "analyst")[0] == 404
    assert (
        ops(book, "POST", "/v1/ops/strategies/cn-default/dry-runs", "supervisor", {"version": "99"}, key=None)[0] == 404
    )


def test_a_supervisor_assigns_cases_to_agents_queues(book):
    def mine(user: str) -> list[str]:
        auth = {"Authorization": f"Bearer {token(book, 'agent', user)}"}
        status, body = ops(book, "GET", "/v1/ops/queue/mine", None, headers=auth)
        assert status == 200 and body["user"] == user
        return [c["loan_id"] for c in body["cases"]]

    assert ops(book, "POST", "/v1/ops/loans/AL2/assignment", "agent", {"user": "ann"})[0] == 403
    assert ops(book, "POST", "/v1/ops/loans/AL2/assignment", "supervisor", {"user": ""})[0] == 400
    assert ops(book, "POST", "/v1/ops/loans/AL2/assignment", "supervisor", {"user": "ann"})[0] == 202
    assert mine("ann") == ["AL2"] and mine("bob") == []
    assert ops(book, "GET", "/v1/ops/loans/AL2", "agent")[1]["assigned_to"] == "ann"
    assert ops(book, "POST", "/v1/ops/loans/AL2/assignment", "supervisor", {"user": "bob"})[0] == 202
    assert mine("ann") == [] and mine("bob") == ["AL2"]
    status, audit = ops(book, "GET", "/v1/ops/audit", "admin")
    moved = [r for r in audit["records"] if r["route"] == "POST /v1/ops/loans/{loan_id}/assignment"]
    assert {"before": {"assigned_to": "ann"}, "after": {"assigned_to": "bob"}} in [
        {"before": r["before"], "after": r["after"]} for r in moved
    ]
    assert ops(book, "DELETE", "/v1/ops/loans/AL2/assignment", "supervisor")[0] == 202
    assert mine("bob") == [] and ops(book, "GET", "/v1/ops/loans/AL2", "agent")[1]["assigned_to"] is None
