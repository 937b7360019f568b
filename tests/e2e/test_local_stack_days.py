"""End to end: `arrears run` on a small synthetic book for simulated days, checked against an
independent recomputation from the book's files (no arrears code is used to compute expectations)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

pytestmark = pytest.mark.e2e
SHANGHAI = ZoneInfo("Asia/Shanghai")
DAYS = 24


def rows(folder: Path, kind: str) -> list[dict[str, str]]:
    with open(folder / f"{kind}.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from arrears_local.book import synthetic_book

    base = tmp_path_factory.mktemp("e2e")
    book = synthetic_book(base / "book", borrowers=150, seed=11)
    out = base / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "arrears_local.cli", "run", "--book", str(book), "--days", str(DAYS), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    reports = {p.parent.name[3:]: json.loads(p.read_text()) for p in (out / "reports").glob("dt=*/daily-report.json")}
    return book, out, reports, proc.stdout


def expected_snapshot(book: Path, run_at: datetime) -> tuple[Counter, dict]:
    """Bucket counts and balances at a daily run, computed naively from the files."""
    tz = {b["borrower_id"]: ZoneInfo(b["timezone"]) for b in rows(book, "borrowers")}
    loans = {loan["loan_id"]: loan for loan in rows(book, "loans")}
    schedule = defaultdict(list)
    for i in rows(book, "installments"):
        due = Decimal(i["principal_due"]) + Decimal(i["interest_due"]) + Decimal(i["fee_due"])
        schedule[i["loan_id"]].append([date.fromisoformat(i["due_date"]), int(i["seq"]), due])
    paid = defaultdict(Decimal)
    for p in rows(book, "repayments"):
        if datetime.fromisoformat(p["paid_at"]) <= run_at:
            paid[p["loan_id"]] += Decimal(p["amount"])
    counts: Counter = Counter()
    balance: dict = defaultdict(lambda: defaultdict(Decimal))
    for loan_id, items in schedule.items():
        pool = paid[loan_id]
        unpaid = []
        for due_date, _seq, amount in sorted(items):
            take = min(pool, amount)
            pool -= take
            if amount - take > 0:
                unpaid.append((due_date, amount - take))
        if not unpaid:
            continue
        local_day = run_at.astimezone(tz[loans[loan_id]["borrower_id"]]).date()
        dpd = (local_day - unpaid[0][0]).days
        if dpd < 1:
            continue
        bucket = "M1" if dpd <= 30 else "M2" if dpd <= 60 else "M3"
        counts[bucket] += 1
        balance[bucket][loans[loan_id]["currency"]] += sum(r for _, r in unpaid)
    return counts, balance


def test_every_day_has_a_report_and_a_printed_line(run):
    _, _, reports, stdout = run
    assert len(reports) == DAYS
    assert sum(1 for line in stdout.splitlines() if "delinquent=" in line) == DAYS


def test_buckets_and_balances_match_an_independent_recomputation(run):
    book, _, reports, _ = run
    assert any(r["delinquent_loans"] for r in reports.values())
    for day, report in sorted(reports.items()):
        d = date.fromisoformat(day)
        counts, balance = expected_snapshot(book, datetime.combine(d, time(9, 0), SHANGHAI))
        got = {b: n for b, n in report["loans_by_bucket"].items() if n}
        assert got == dict(counts), day
        for bucket, by_currency in balance.items():
            assert {c: Decimal(v) for c, v in report["balance_by_bucket"][bucket].items()} == dict(by_currency), day


def test_all_delivered_repayments_are_accounted_for(run):
    book, _, reports, _ = run
    start = min(date.fromisoformat(d) for d in reports)
    last_event = datetime.combine(start + timedelta(days=DAYS), time(0, 15), SHANGHAI)
    expected = defaultdict(Decimal)
    loans = {loan["loan_id"]: loan["currency"] for loan in rows(book, "loans")}
    for p in rows(book, "repayments"):
        if datetime.fromisoformat(p["paid_at"]) <= last_event:
            expected[loans[p["loan_id"]]] += Decimal(p["amount"])
    got = defaultdict(Decimal)
    for r in reports.values():
        for currency, amount in r["amount_repaid"].items():
            got[currency] += Decimal(amount)
    assert got == expected


def test_every_planned_action_ends_sent_blocked_or_cancelled_and_providers_match(run):
    _, out, reports, _ = run
    summary = json.loads((out / "summary.json").read_text())
    actions = Counter()
    for r in reports.values():
        actions.update({k: v for k, v in r["actions"].items() if isinstance(v, int)})
    assert actions["planned"] > 0
    assert actions["planned"] == actions["sent"] + actions["blocked"] + actions["cancelled"]
    sent_by_channel = Counter()
    for r in reports.values():
        sent_by_channel.update(r["actions"]["sent_by_channel"])
    # what the reports say was sent is what each provider received, channel by channel
    assert dict(sent_by_channel) == {k: v for k, v in summary["contacts"].items() if v}
    assert {"sms", "voice", "wechat"} <= set(sent_by_channel)
    assert summary["errors"] == {}


def test_outcomes_table_answers_the_same_as_the_report(run):
    """The named queries, run by `arrears query` over what the run wrote, agree with the daily reports."""
    pytest.importorskip("duckdb")
    from arrears_local import query

    _, out, reports, _ = run
    named = query.named_queries()["daily_overview"]
    columns, rows = query.run(out, named.sql, query.bind(named, {}))
    got = {r["dt"]: r for r in (dict(zip(columns, row, strict=True)) for row in rows)}
    assert {d: r["sent"] for d, r in got.items() if r["sent"]} == {
        d: r["actions"]["sent"] for d, r in reports.items() if r["actions"]["sent"]
    }
    for d, r in reports.items():
        if d in got:
            assert (got[d]["newly_overdue"], got[d]["cured"], got[d]["repayments"]) == (
                r["newly_overdue"],
                r["cured"],
                r["repayments"],
            )


def test_no_contact_outside_contact_hours_or_on_an_opted_out_channel(run):
    """The guard's invariant over the whole simulated run, from the outcomes the analysts see."""
    book, out, _, _ = run
    people = {b["borrower_id"]: b for b in rows(book, "borrowers")}
    hours = {"CN": (8, 22), "US": (8, 21)}
    sent = [
        json.loads(line) for p in (out / "outcomes" / "facts").glob("*/*.json") for line in p.read_text().splitlines()
    ]
    sent = [f for f in sent if f["fact_type"] == "action_sent"]
    assert sent
    for f in sent:
        who = people[f["borrower_id"]]
        local = datetime.fromisoformat(f["occurred_at"].replace("Z", "+00:00")).astimezone(ZoneInfo(who["timezone"]))
        start, end = hours[who["jurisdiction"]]
        assert f["channel"] == "letter" or start <= local.hour < end, (f["action_id"], local)
        assert f["channel"] not in who["opt_out"].split(";")


def test_the_violations_query_finds_none_and_every_contact_says_where_and_what_it_cost(run):
    """The violations named query, computed from the raw facts and the rules table the stack wrote, is
    empty over the whole run; every contact carries what it needs (zones, jurisdiction, cost), every
    repayment its days_late, and the day partitions were compacted to a few objects."""
    pytest.importorskip("duckdb")
    from arrears_local import query

    _, out, _, _ = run
    assert (out / "outcomes" / "rules" / "rules.json").is_file()
    named = query.named_queries()["violations"]
    columns, found = query.run(out, named.sql, query.bind(named, {}))
    assert found == [], [dict(zip(columns, r, strict=True)) for r in found[:5]]
    facts = [
        json.loads(line) for p in (out / "outcomes" / "facts").glob("*/*.json") for line in p.read_text().splitlines()
    ]
    sent = [f for f in facts if f["fact_type"] == "action_sent"]
    assert sent and all(f["zones"] and f["jurisdiction"] and f["cost_micros"] is not None for f in sent)
    assert all(f["schema_version"] == 2 for f in facts)
    repaid = [f for f in facts if f["fact_type"] == "repayment_applied"]
    assert repaid and all(f["days_late"] is None or f["days_late"] >= 0 for f in repaid)
    assert any(f["days_late"] and f["days_late"] > 0 for f in repaid)
    objects = Counter(p.parent.name for p in (out / "outcomes" / "facts").glob("*/*.json"))
    assert sorted(objects.values())[len(objects) // 2] <= 3, objects  # the median day: compacted


def test_every_sent_contact_can_be_explained_from_the_outcomes(run):
    """arrears explain: the strategy step that produced the action, and every rule it passed."""
    from arrears_local.explain import explain, facts_in

    _, out, _, _ = run
    facts = list(facts_in(out / "outcomes" / "facts"))
    sent = [f for f in facts if f["fact_type"] == "action_sent"]
    for f in sent[:20]:
        lines = explain(facts, f["action_id"])
        assert lines[0].startswith(f"action {f['action_id']}") and f"step {f['step']}" in lines[0]
        assert any(" planned " in line and f["step"] in line for line in lines)
        assert any(" sent " in line and "guard passed: borrower_only, holds, opt_out" in line for line in lines)
