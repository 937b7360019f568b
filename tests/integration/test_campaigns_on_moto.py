"""Integration: operations' campaigns on the stack deployed from template.yaml into moto. A supervisor
creates, dry-runs and starts a campaign through the operations API; the start's job reaches
CampaignFunction through the campaigns table's stream, which dispatches today's work at once under
the channel's capacity and the campaign's cap; the senders send it through the compliance guard; a
pause drops what is still queued; the daily run goes on with the campaign beside the strategy."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from tests.conftest import load_event
from tests.integration.test_hostile_imports import _facts
from tests.integration.test_ops_api_on_moto import ops
from tests.integration.test_pipeline_on_moto import ddb_items

pytestmark = pytest.mark.integration

START = date(2026, 3, 1)


@pytest.fixture(scope="module")
def world(stack, tmp_path_factory):
    """A synthetic book of 60 borrowers run for 25 days (loans in M1 with the strategy's work done),
    the clock at 10:00 in Shanghai."""
    from arrears_local.book import Book, synthetic_book

    book = Book.load(synthetic_book(tmp_path_factory.mktemp("book"), borrowers=60, seed=11))
    first = min(date.fromisoformat(r["due_date"]) for r in book.rows("installments"))
    stack.import_book(book)
    stack.run_days(book, first, 25, lambda r: None)
    stack.runner.clock.now = datetime.combine(first + timedelta(days=25), datetime.min.time(), UTC) + timedelta(hours=2)
    stack.runner.pump()
    return stack


def campaign(cid: str, **kw) -> dict:
    return {
        "campaign_id": cid,
        "name": f"{cid} drive",
        "target": {"buckets": ["M1", "M2"], "jurisdictions": ["CN"]},
        "channel": "sms",
        "template": "zh-CN/m1_reminder",
        "daily_cap": 4,
        "priority": "ranked",
        **kw,
    }


def streams_only(stack) -> None:
    """Deliver the streams (the ledger's, the campaigns'), not the senders' queues."""
    for stream in stack.runner.streams:
        while stream.poll(stack.runner.clock):
            pass


def statuses(stack, cid: str) -> list[str]:
    return [
        i["status"]["S"]
        for i in ddb_items(stack, "CollectionsTable")
        if i["sk"]["S"].startswith("ACT#") and i.get("strategy", {}).get("S") == f"campaign:{cid}"
    ]


def test_a_campaign_is_created_dry_run_started_and_sends_within_its_cap(world):
    body = campaign("m1-drive")
    status, dry = ops(world, "POST", "/v1/ops/campaigns/dry-run", "supervisor", body)
    assert status == 200 and dry["matched"] > 4 and dry["would_send_today"] <= 4, dry
    assert dry["items_read"] <= 1.2 * dry["matched"] + 2  # the due index's date range, not the book
    assert ops(world, "POST", "/v1/ops/campaigns", "agent", body)[0] == 403
    status, made = ops(world, "POST", "/v1/ops/campaigns", "supervisor", body)
    assert status == 202 and made["status"] == "draft"
    assert ops(world, "POST", "/v1/ops/campaigns", "supervisor", body)[0] == 409  # the id is taken
    assert ops(world, "POST", "/v1/ops/campaigns/m1-drive/pause", "supervisor", {})[0] == 409  # not running

    sms_before = len([f for f in _facts(world, "action_sent") if f["channel"] == "sms"])
    status, started = ops(world, "POST", "/v1/ops/campaigns/m1-drive/start", "supervisor", {})
    assert status == 202 and (started["status"], started["was"]) == ("running", "draft")
    world.runner.pump()  # the job -> CampaignFunction -> PLAN entries -> actions -> the SMS sender
    sent = statuses(world, "m1-drive")
    assert 1 <= len(sent) <= 4 and "sent" in sent  # planned: the guard put it off (an open promise, say)
    status, view = ops(world, "GET", "/v1/ops/campaigns/m1-drive", "analyst")
    progress = view["progress"]
    assert status == 200 and progress["planned"] == len(sent) and progress["sent"] == sent.count("sent")
    assert progress["targeted"] == dry["matched"] and progress["worked"] == len(sent)
    assert len([f for f in _facts(world, "action_sent") if f["channel"] == "sms"]) == sms_before + sent.count("sent")
    # its contacts never take the strategy's place on the loans' cases
    loans = {i["loan_id"]["S"]: i for i in ddb_items(world, "LoansTable")}
    assert not any(i.get("strategy", {}).get("S", "").startswith("campaign:") for i in loans.values())
    status, listed = ops(world, "GET", "/v1/ops/campaigns", "agent")
    row = next(c for c in listed["campaigns"] if c["campaign_id"] == "m1-drive")
    assert status == 200 and row["status"] == "running" and row["counters"]["planned"] == len(sent)
    # a second start is refused; the audit names who did it
    assert ops(world, "POST", "/v1/ops/campaigns/m1-drive/start", "supervisor", {})[0] == 409
    status, audit = ops(world, "GET", "/v1/ops/audit", "admin")
    assert {"POST /v1/ops/campaigns", "POST /v1/ops/campaigns/{campaign_id}/start"} <= {
        r["route"] for r in audit["records"] if r["target"] == {"campaign_id": "m1-drive"}
    }


def test_a_paused_campaign_sends_nothing_more_its_queued_messages_included(world):
    body = campaign("pause-drive", daily_cap=3, target={"buckets": ["M1", "M2"]})
    assert ops(world, "POST", "/v1/ops/campaigns", "supervisor", body)[0] == 202
    assert ops(world, "POST", "/v1/ops/campaigns/pause-drive/start", "supervisor", {})[0] == 202
    streams_only(world)  # dispatched and queued, not yet sent
    queued = statuses(world, "pause-drive")
    assert queued and set(queued) == {"planned"}
    assert ops(world, "POST", "/v1/ops/campaigns/pause-drive/pause", "supervisor", {})[0] == 202
    world.runner.pump()
    assert set(statuses(world, "pause-drive")) == {"cancelled"}
    reasons = {f["reason"] for f in _facts(world, "action_cancelled") if f["strategy"] == "campaign:pause-drive"}
    assert reasons == {"campaign pause-drive is paused: its queued contacts are dropped"}
    status, view = ops(world, "GET", "/v1/ops/campaigns/pause-drive", "supervisor")
    assert view["progress"]["sent"] == 0 and view["status"] == "paused"


def test_one_contact_a_loan_a_day_and_the_daily_run_goes_on_with_the_campaign(world):
    # every loan the first campaign reached today is deferred for a second campaign today
    reached = {
        i["loan_id"]["S"]
        for i in ddb_items(world, "CollectionsTable")
        if i.get("strategy", {}).get("S") == "campaign:m1-drive"
    }
    body = campaign("same-day", daily_cap=500, target={"loan_ids": sorted(reached)}, priority="after_strategy")
    assert ops(world, "POST", "/v1/ops/campaigns", "supervisor", body)[0] == 202
    assert ops(world, "POST", "/v1/ops/campaigns/same-day/start", "supervisor", {})[0] == 202
    world.runner.pump()
    assert statuses(world, "same-day") == []
    rules = [
        f["reason"].split(":")[0] for f in _facts(world, "action_deferred") if f["strategy"] == "campaign:same-day"
    ]
    assert rules and set(rules) == {"one_contact_a_day"}

    # the next day's run proposes m1-drive's work again, within its cap, beside the strategy's
    before = len(statuses(world, "m1-drive"))
    next_run = world.runner.clock.now + timedelta(days=1) - timedelta(hours=1)  # 09:00 in Shanghai
    world.runner.clock.now = next_run
    world.runner.schedule("DailyRunFunction").fire(next_run)
    world.runner.clock.now = next_run + timedelta(hours=1)
    world.runner.pump()
    after = statuses(world, "m1-drive")
    assert before < len(after) <= before + 4
    summary = json.loads(
        next(i for i in ddb_items(world, "RunsTable") if i["run_at"]["S"].startswith(next_run.strftime("%Y-%m-%dT%H")))[
            "summary"
        ]["S"]
    )
    assert summary["campaigns"].get("m1-drive", 0) == len(after) - before


def test_the_lambda_console_commands_change_the_status_as_the_api_does(world):
    from arrears.adapters import campaign_store

    assert ops(world, "POST", "/v1/ops/campaigns", "supervisor", campaign("console-drive"))[0] == 202
    fn = world.runner.functions["CampaignFunction"]
    for name, expected in (("start", "running"), ("pause", "paused"), ("resume", "running"), ("cancel", "cancelled")):
        event = {**load_event(f"campaign_command_{name}.json"), "campaign_id": "console-drive"}
        out = fn.invoke(event)
        assert out["status"] == expected
        assert campaign_store.get("console-drive")[0].status == expected
    with pytest.raises(Exception, match="cancelled: it cannot start"):
        fn.invoke({**load_event("campaign_command_start.json"), "campaign_id": "console-drive"})
    records = [i for i in ddb_items(world, "AuditTable") if "console-drive" in i["target"]["S"]]
    assert sorted(i["route"]["S"] for i in records if i["role"]["S"] == "aws-console") == [
        "campaign_command cancel", "campaign_command pause", "campaign_command resume", "campaign_command start",
    ]  # fmt: skip


def test_bad_campaigns_are_refused_naming_the_field(world):
    cases = [
        (campaign("x", channel="fax"), "channel"),
        (campaign("Bad Id"), "campaign_id"),
        (campaign("x", target={}), "target"),
        (campaign("x", target={"buckets": ["M9"]}), "target.buckets"),
        (campaign("x", target={"dpd": [30, 10]}), "target.dpd"),
        (campaign("x", starts_at="2026-03-01T00:00:00+08:00", ends_at="2026-02-01T00:00:00+08:00"), "ends_at"),
        (campaign("x", daily_cap=0), "daily_cap"),
        (campaign("x", priority="first"), "priority"),
        ({**campaign("x"), "colour": "red"}, "colour"),
    ]
    for body, field in cases:
        status, answer = ops(world, "POST", "/v1/ops/campaigns", "supervisor", body)
        assert (status, answer.get("field")) == (400, field), (body, answer)
