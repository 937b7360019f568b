"""The lake on the local stack: what version 2 of the outcomes table adds, written by the real handlers
(a contact's zones, jurisdiction and cost; a repayment's days late; the month-end snapshot with the
vintage), and the daily report's compaction of a day's objects and its compliance rules table."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from tests.conftest import csv_bytes
from tests.integration.test_pipeline_on_moto import BORROWERS, INSTALLMENTS, LOANS

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def book(stack):
    stack.upload("borrowers/b.csv", csv_bytes(BORROWERS))
    stack.upload("loans/l.csv", csv_bytes(LOANS))
    stack.upload("installments/i.csv", csv_bytes(INSTALLMENTS))
    return stack


def _objects(stack, day: str) -> list[str]:
    from arrears.adapters.clients import client

    listed = client("s3").list_objects_v2(Bucket=stack.outcomes_bucket, Prefix=f"facts/dt={day}/")
    return [o["Key"] for o in listed.get("Contents", [])]


def _facts(stack, day: str, kind: str) -> list[dict]:
    from arrears.adapters.facts_sink import read_day

    return list({r["fact_id"]: r for r in read_day(stack.outcomes_bucket, day) if r["fact_type"] == kind}.values())


def _run(stack, at: datetime) -> None:
    stack.runner.clock.now = at
    stack.runner.schedule("DailyRunFunction").fire(at)
    stack.runner.pump()


def test_a_contact_says_where_it_was_checked_and_what_it_cost(book):
    _run(book, datetime(2026, 3, 2, 1, 0, tzinfo=UTC))  # 09:00 in Shanghai, 1 DPD
    sent = _facts(book, "2026-03-02", "action_sent")
    assert sent and all(
        (f["zones"], f["jurisdiction"], f["cost_micros"], f["product"], f["schema_version"])
        == ("Asia/Shanghai", "CN", 50_000, "cash-3m", 2)
        for f in sent
    )  # an SMS at the default CNY cost of 0.05
    assert all(f["segment"] for f in sent)


def test_a_repayment_says_how_many_local_days_late_it_was(book):
    pay = [
        {"payment_id": "LP1", "loan_id": "IL3", "paid_at": "2026-03-03T01:00:00+08:00", "amount": "105.00"},
        {"payment_id": "LP2", "loan_id": "IL3", "paid_at": "2026-03-03T02:00:00+08:00", "amount": "10.00"},
    ]
    book.runner.clock.now = datetime(2026, 3, 3, 2, 5, tzinfo=UTC)
    book.upload("repayments/late.csv", csv_bytes(pay))
    got = {f["payment_id"]: f["days_late"] for f in _facts(book, "2026-03-03", "repayment_applied")}
    # due 2026-03-01, paid on the 3rd local (the 2nd in UTC): 2 days late; the second payment went to
    # the installment due 2026-04-01, not yet due: on time
    assert got == {"LP1": 2, "LP2": 0}


def test_the_daily_report_compacts_the_day_and_writes_the_rules_in_force(book):
    from arrears.adapters.clients import client
    from arrears.config import Settings
    from arrears.usecases.reporting import build_report

    before = _objects(book, "2026-03-02")
    facts_before = {f["fact_id"] for f in _facts(book, "2026-03-02", "action_sent")}
    assert len(before) > 1
    settings = Settings.from_env(book.runner.functions["DailyReportFunction"].env)
    report = build_report(settings, date(2026, 3, 2))
    after = _objects(book, "2026-03-02")
    assert len(after) == 1 and after[0].split("/")[-1].startswith("compacted-")
    assert report["lake"]["objects_merged"] == len(before)
    assert {f["fact_id"] for f in _facts(book, "2026-03-02", "action_sent")} == facts_before
    again = build_report(settings, date(2026, 3, 2))  # a re-run: the same object, the same figures
    assert _objects(book, "2026-03-02") == after and again["actions"] == report["actions"]
    body = client("s3").get_object(Bucket=book.outcomes_bucket, Key="rules/rules.json")["Body"].read().decode()
    rules = [json.loads(line) for line in body.splitlines()]
    assert {
        "jurisdiction": "CN",
        "rule": "daily_cap",
        "channel": "sms",
        "cap": 2,
        "from_time": None,
        "until_time": None,
    } in rules
    assert any(r["jurisdiction"] == "*" and r["rule"] == "contact_hours" for r in rules)


def test_the_month_end_run_snapshots_every_loan_with_a_balance(book):
    _run(book, datetime(2026, 3, 31, 1, 0, tzinfo=UTC))  # the 31st in Shanghai: the month's last day
    snaps = {f["loan_id"]: f for f in _facts(book, "2026-03-31", "loan_snapshot")}
    assert set(snaps) == {"IL1", "IL2", "IL3"}  # IL3 paid its first installment: current, with a balance
    assert snaps["IL3"]["bucket"] == "M0" and snaps["IL1"]["bucket"] == "M1"
    assert all(f["disbursed_on"] == "2026-02-01" and f["outstanding_minor"] > 0 for f in snaps.values())
    _run(book, datetime(2026, 4, 1, 1, 0, tzinfo=UTC))  # not a month end: no snapshot
    assert _facts(book, "2026-04-01", "loan_snapshot") == []
