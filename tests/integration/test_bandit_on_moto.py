"""The bandit on the local stack: a strategy step that offers a second channel and send hours is
planned with the bandit's pick (said on the action and its fact, with the exploration share), the
action waits for its send hour, then goes out once; the daily report learns the counts the shard
workers read, a day once its contacts have had their 7 days."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from tests.conftest import csv_bytes
from tests.integration.test_pipeline_on_moto import BORROWERS, INSTALLMENTS, LOANS, ddb_items

pytestmark = pytest.mark.integration

STRATEGY = {
    "id": "cn-default",
    "name": "China, learning M1",
    "segments": [
        {
            "name": "m1-learning",
            "match": {"buckets": ["M1"], "jurisdictions": ["CN"]},
            "cooldown_hours": 20,
            "steps": [
                {
                    "id": "m1-first",
                    "after_days": 0,
                    "channel": "sms",
                    "template": "zh-CN/m1_reminder",
                    "options": [{"channel": "wechat", "template": "zh-CN/m1_wechat_reminder"}],
                    "hours": [18],
                }
            ],
        }
    ],
}


@pytest.fixture(scope="module")
def book(stack):
    from arrears.adapters import strategy_store

    strategy_store.publish(STRATEGY, stack.runner.clock.now)
    borrowers = [{**b, "wechat_openid": f"o{n}"} for n, b in enumerate(BORROWERS)]
    stack.upload("borrowers/b.csv", csv_bytes(borrowers))
    stack.upload("loans/l.csv", csv_bytes(LOANS))
    stack.upload("installments/i.csv", csv_bytes(INSTALLMENTS))
    return stack


def _facts(stack, day: str) -> list[dict]:
    from arrears.adapters.facts_sink import read_day

    return list({r["fact_id"]: r for r in read_day(stack.outcomes_bucket, day)}.values())


def test_the_bandits_pick_waits_for_its_send_hour_and_goes_out_once(book):
    run_at = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    book.runner.clock.now = run_at
    book.runner.schedule("DailyRunFunction").fire(run_at)
    book.runner.pump()
    actions = {i["loan_id"]["S"]: i for i in ddb_items(book, "CollectionsTable") if i["sk"]["S"].startswith("ACT#")}
    il1 = actions["IL1"]
    assert il1["channel"]["S"] in ("sms", "wechat") and il1["not_before"]["S"] == "2026-03-02T10:00:00Z"
    assert (
        "bandit: " in il1["why"]["S"]
        and "at 18:00 local" in il1["why"]["S"]
        and "exploration share 10%" in il1["why"]["S"]
    )
    assert il1["status"]["S"] == "planned"  # 09:00: before its hour
    planned = [f for f in _facts(book, "2026-03-02") if f["fact_type"] == "action_planned" and f["loan_id"] == "IL1"]
    assert planned and "exploration share 10%" in planned[0]["reason"]
    book.runner.clock.now = datetime(2026, 3, 2, 9, 59, tzinfo=UTC)
    book.runner.pump()
    assert (
        next(i for i in ddb_items(book, "CollectionsTable") if i["sk"]["S"] == il1["sk"]["S"])["status"]["S"]
        == "planned"
    )
    book.runner.clock.now = datetime(2026, 3, 2, 10, 1, tzinfo=UTC)  # 18:01 local
    book.runner.pump()
    after = next(i for i in ddb_items(book, "CollectionsTable") if i["sk"]["S"] == il1["sk"]["S"])
    assert after["status"]["S"] == "sent"
    sent = [f for f in _facts(book, "2026-03-02") if f["fact_type"] == "action_sent" and f["loan_id"] == "IL1"]
    assert len(sent) == 1 and sent[0]["channel"] == il1["channel"]["S"] and sent[0]["segment"] == "m1-learning"


def test_the_daily_report_learns_the_day_whose_contacts_have_had_their_7_days(book):
    from arrears.adapters import bandit_store
    from arrears.adapters.clients import client
    from arrears.config import Settings
    from arrears.usecases.reporting import build_report

    settings = Settings.from_env(book.runner.functions["DailyReportFunction"].env)
    book.runner.clock.now = datetime(2026, 3, 10, 16, 15, tzinfo=UTC)  # 00:15 on the 11th in Shanghai
    report = build_report(settings, date(2026, 3, 10))
    sent = [
        f for f in _facts(book, "2026-03-02") if f["fact_type"] == "action_sent" and f.get("segment") == "m1-learning"
    ]
    assert report["bandit"] == {"learned": "2026-03-02", "contacts": len(sent)} and sent  # that day's contacts
    s3 = client("s3")
    day = json.loads(
        s3.get_object(Bucket=book.outcomes_bucket, Key=f"{bandit_store.DAYS}2026-03-02.json")["Body"].read()
    )
    (ctx,) = [k for k in day if k.startswith("cn-default|m1-learning|m1-first")]
    assert any(key.endswith("@18") for key in day[ctx])  # sent at 18:00 local, as chosen
    again = build_report(settings, date(2026, 3, 10))  # a re-run: the same day's counts, not twice
    current = json.loads(s3.get_object(Bucket=book.outcomes_bucket, Key=bandit_store.KEY)["Body"].read())
    assert (
        current["counts"] == day and current["learned_through"] == "2026-03-02" and again["bandit"] == report["bandit"]
    )


def test_a_step_sent_at_the_payment_hour_waits_for_the_hour_the_borrower_last_paid_at(book):
    from arrears.adapters import strategy_store
    from arrears.adapters.models import LoanModel

    steps = STRATEGY["segments"][0]["steps"]
    again = {"id": "m1-again", "after_days": 3, "channel": "sms", "template": "zh-CN/m1_second_reminder"}
    doc = {
        **STRATEGY,
        "segments": [{**STRATEGY["segments"][0], "steps": [*steps, {**again, "send_at": "payment_hour"}]}],
    }
    book.runner.clock.now = datetime(2026, 3, 11, 0, 0, tzinfo=UTC)
    strategy_store.publish(doc, book.runner.clock.now)
    paid = [{"payment_id": "IP-hour", "loan_id": "IL1", "paid_at": "2026-03-11T14:30:00+08:00", "amount": "10.00"}]
    book.runner.clock.now = datetime(2026, 3, 11, 7, 0, tzinfo=UTC)
    book.upload("repayments/hour.csv", csv_bytes(paid))
    assert LoanModel.get("IL1").last_paid_at == "2026-03-11T06:30:00Z"  # the stream keeps the latest paid_at
    run_at = datetime(2026, 3, 12, 1, 0, tzinfo=UTC)
    book.runner.clock.now = run_at
    book.runner.schedule("DailyRunFunction").fire(run_at)
    book.runner.pump()
    planned = {
        i["loan_id"]["S"]: i
        for i in ddb_items(book, "CollectionsTable")
        if i["sk"]["S"].startswith("ACT#") and i.get("step", {}).get("S") == "m1-again"
    }
    assert planned["IL1"]["not_before"]["S"] == "2026-03-12T06:00:00Z"  # 14:00 local
    assert "the hour the borrower last paid at" in planned["IL1"]["why"]["S"]
    assert "not_before" not in planned["IL3"]  # the same borrower's other loan: no payment on it yet, sent at once
