"""The named queries (infra/athena/queries) run locally with DuckDB (arrears query), and each of their
numbers equals the daily report's, an independent Python computation from the same facts
(arrears/domain/report.py), on a synthetic lake with redelivered facts, two currencies, reversals,
re-evaluations and every kind of action outcome."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from arrears.domain.facts import COLUMNS
from arrears.domain.money import to_minor
from arrears.domain.report import daily_report
from arrears_local import query
from tests.conftest import ROOT

pytest.importorskip("duckdb")
pytest.importorskip("sqlglot")

BUCKETS = ["M1", "M2", "M3", "M4", "M5", "M6", "M6+"]
DAYS = [date(2026, 3, 1) + timedelta(days=i) for i in range(4)]


def _fact(rng: random.Random, n: int, day: date) -> dict:
    kind = rng.choice(
        [
            "loan_evaluated",
            "loan_evaluated",
            "case_opened",
            "case_closed",
            "case_reopened",
            "action_planned",
            "action_sent",
            "action_cancelled",
            "action_blocked",
            "action_deferred",
            "promise_made",
            "promise_kept",
            "promise_broken",
            "repayment_applied",
            "repayment_reversed",
            "call_outcome",
        ]
    )
    currency = rng.choice(["CNY", "USD"])
    row = {c: None for c in COLUMNS}
    row.update(
        fact_id=f"f{n}",
        fact_type=kind,
        occurred_at=f"{day.isoformat()}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00Z",
        business_date=day.isoformat(),
        loan_id=f"L{rng.randrange(30):03d}",
        currency=currency,
        channel=rng.choice(["sms", "email", "voice"]),
        source="test",
    )
    if kind == "loan_evaluated":
        row.update(
            bucket=rng.choice(["M0", *BUCKETS[:3]]),
            outstanding_minor=rng.randrange(100, 900_000),
            amount_minor=rng.randrange(0, 50_000),
        )
    elif kind == "case_closed":
        row["reason"] = rng.choice(["cured", "written_off"])
    elif kind in ("action_blocked", "action_deferred"):
        row["reason"] = rng.choice(["quiet_hours:CN", "daily_cap", "capacity", "opt_out:sms", "hold:dispute"])
    elif kind == "repayment_applied":
        row.update(amount_minor=rng.randrange(1, 100_000), from_bucket=rng.choice([None, "M0", "M1", "M2"]))
    elif kind == "repayment_reversed":
        row.update(amount_minor=-rng.randrange(1, 100_000), bucket=rng.choice([None, "M0", "M1"]))
    elif kind == "call_outcome":
        row["reason"] = rng.choice(["no_answer", "promise"])
    return row


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> tuple[Path, list[dict]]:
    """OUT/outcomes/facts/dt=.../*.json as arrears run writes it, some facts written twice (redelivery)."""
    rng = random.Random(11)
    out = tmp_path_factory.mktemp("lake")
    facts = [_fact(rng, n, rng.choice(DAYS)) for n in range(1500)]
    files: dict[date, list[list[dict]]] = defaultdict(lambda: [[], []])
    for f in facts:
        day = date.fromisoformat(f["business_date"])
        files[day][0].append(f)
        if rng.random() < 0.15:  # a redelivered batch wrote it again, in another object
            files[day][1].append(f)
    for day, objects in files.items():
        folder = out / "outcomes" / "facts" / f"dt={day.isoformat()}"
        folder.mkdir(parents=True)
        for i, rows in enumerate(objects):
            (folder / f"part-{i}.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return out, facts


def _named(out: Path, name: str, **params: str) -> list[dict]:
    q = query.named_queries()[name]
    columns, rows = query.run(out, q.sql, query.bind(q, params))
    return [dict(zip(columns, r, strict=True)) for r in rows]


def _reports(facts: list[dict]) -> dict[str, dict]:
    by_day: dict[str, list[dict]] = defaultdict(list)
    for f in facts:
        by_day[f["business_date"]].append(f)
    return {d: daily_report(date.fromisoformat(d), rows + rows[:5], BUCKETS) for d, rows in by_day.items()}


def test_every_named_query_is_documented_translates_and_runs(lake):
    out, _ = lake
    queries = query.named_queries()
    assert {"daily_overview", "buckets_by_day", "recovered_by_day", "deferred_and_blocked_by_rule"} <= set(queries)
    for q in queries.values():
        assert q.description and all(p.doc for p in q.params), q.name
        query.to_duckdb(q.sql)
        query.run(out, q.sql, query.bind(q, {}))  # runs with its defaults


def test_daily_overview_counts_are_the_daily_reports(lake):
    out, facts = lake
    reports = _reports(facts)
    rows = {r["dt"]: r for r in _named(out, "daily_overview")}
    assert set(rows) == set(reports)
    for day, rep in reports.items():
        r = rows[day]
        assert (r["newly_overdue"], r["cured"], r["reopened"]) == (rep["newly_overdue"], rep["cured"], rep["reopened"])
        for k in ("planned", "sent", "cancelled", "blocked", "deferred"):
            assert r[k] == rep["actions"][k], (day, k)
        assert (r["promises_made"], r["promises_kept"], r["promises_broken"]) == tuple(
            rep["promises"][k] for k in ("made", "kept", "broken")
        )
        assert (r["repayments"], r["reversals"]) == (rep["repayments"], rep["reversals"])


def test_buckets_by_day_is_the_reports_book(lake):
    out, facts = lake
    reports = _reports(facts)
    rows = _named(out, "buckets_by_day")
    for day, rep in reports.items():
        mine = [r for r in rows if r["dt"] == day]
        loans: dict[str, int] = defaultdict(int)
        for r in mine:
            loans[r["bucket"]] += r["loans"]
            assert (
                to_minor(Decimal(rep["balance_by_bucket"][r["bucket"]][r["currency"]]), r["currency"])
                == r["balance_minor"]
            )
            assert (
                to_minor(Decimal(rep["overdue_by_bucket"][r["bucket"]][r["currency"]]), r["currency"])
                == r["overdue_minor"]
            )
        assert {b: n for b, n in rep["loans_by_bucket"].items() if n} == dict(loans)
        shown = {(b, c) for b, money in rep["balance_by_bucket"].items() for c in money}
        assert shown == {(r["bucket"], r["currency"]) for r in mine}


def test_recovered_by_day_is_the_reports_money(lake):
    out, facts = lake
    reports = _reports(facts)
    rows = _named(out, "recovered_by_day")
    for day, rep in reports.items():
        for r in (r for r in rows if r["dt"] == day):
            c = r["currency"]
            for col, key in (
                ("repaid_minor", "amount_repaid"),
                ("recovered_minor", "amount_recovered"),
                ("reversed_minor", "amount_reversed"),
            ):
                assert r[col] == to_minor(Decimal(rep[key].get(c, "0")), c), (day, c, col)


def test_deferred_and_blocked_by_rule_adds_up_to_the_reports(lake):
    out, facts = lake
    reports = _reports(facts)
    rows = _named(out, "deferred_and_blocked_by_rule", from_date="2026-03-02", to_date="2026-03-03")
    assert {r["dt"] for r in rows} == {"2026-03-02", "2026-03-03"}  # the parameters bound the dates
    for day in ("2026-03-02", "2026-03-03"):
        deferred: dict[str, int] = defaultdict(int)
        for r in rows:
            if r["dt"] == day and r["kind"] == "deferred":
                deferred[r["rule"]] += r["contacts"]
        assert dict(deferred) == reports[day]["actions"]["deferred_by_rule"]
        blocked = sum(r["contacts"] for r in rows if r["dt"] == day and r["kind"] == "blocked")
        assert blocked == reports[day]["actions"]["blocked"]


def test_template_declares_each_named_query_as_its_file_says():
    named = ROOT / "infra" / "athena" / "named.py"
    result = subprocess.run([sys.executable, str(named), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "arrears_local.cli", "query", *args], capture_output=True, text=True)


def test_cli_answers_and_refuses_in_one_line(lake):
    out, _ = lake
    listed = _cli("--list")
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) == len(query.named_queries())
    ok = _cli("--named", "recovered_by_day", "--param", "from_date=2026-03-04", "--out", str(out), "--csv")
    assert ok.returncode == 0 and ok.stdout.splitlines()[0] == "dt,currency,repaid_minor,recovered_minor,reversed_minor"
    assert {line.split(",")[0] for line in ok.stdout.splitlines()[1:]} == {"2026-03-04"}
    raw = _cli("SELECT '=1+1' AS cell, -5 AS n", "--out", str(out), "--csv")
    assert raw.stdout.splitlines()[1] == "'=1+1,-5"  # a formula neutralised, a number left alone
    as_json = _cli("SELECT count(DISTINCT fact_id) AS n FROM outcomes", "--out", str(out), "--json")
    assert json.loads(as_json.stdout) == [{"n": 1500}]
    for args, code, says in (
        (("--named", "nope", "--out", str(out)), 2, "no named query 'nope'"),
        (("--named", "daily_overview", "--param", "day=1", "--out", str(out)), 1, "has no parameter 'day'"),
        (("SELECT nonsense FROM outcomes", "--out", str(out)), 1, "nonsense"),
        (("SELECT 1", "--out", str(out / "nowhere")), 1, "no facts under"),
        ((), 2, "give either SQL or --named"),
    ):
        r = _cli(*args)
        assert (r.returncode, len(r.stderr.splitlines())) == (code, 1), (args, r.stderr)
        assert says in r.stderr and "Traceback" not in r.stderr


@pytest.fixture(scope="module")
def contacts_lake(tmp_path_factory) -> tuple[Path, list[dict]]:
    """Contacts, call results, promises and repayments on 12 loans over 10 days, some written twice."""
    rng = random.Random(5)
    out = tmp_path_factory.mktemp("contacts")
    start = datetime(2026, 3, 1, tzinfo=UTC)
    facts: list[dict] = []

    def add(kind: str, at: datetime, loan: str, **kw: object) -> dict:
        row = {c: None for c in COLUMNS}
        row.update(
            fact_id=f"f{len(facts)}",
            fact_type=kind,
            occurred_at=at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            business_date=at.date().isoformat(),
            loan_id=loan,
            currency="USD" if loan in ("L10", "L11") else "CNY",
            source="test",
            **kw,
        )
        facts.append(row)
        return row

    for n in range(160):
        at = start + timedelta(minutes=rng.randrange(10 * 24 * 60))
        loan = f"L{rng.randrange(12)}"
        if rng.random() < 0.5:
            channel = rng.choice(["sms", "voice", "email"])
            sent = add(
                "action_sent",
                at,
                loan,
                action_id=f"A{n}",
                channel=channel,
                step=f"{channel}-{rng.randrange(2)}",
                cost_micros=rng.choice([50_000, 1_200_000, None]),
            )
            if channel == "voice":
                add(
                    "call_outcome",
                    at,
                    loan,
                    action_id=sent["action_id"],
                    channel="voice",
                    reason=rng.choice(["promise", "no_answer", "connected", "conversation"]),
                )
        elif rng.random() < 0.7:
            add("repayment_applied", at, loan, amount_minor=rng.randrange(1, 50_000), payment_id=f"P{n}")
        else:
            kind = rng.choice(["promise_made", "promise_kept", "promise_broken"])
            add(kind, at, loan, action_id=f"PR{n}", amount_minor=rng.randrange(1000, 90_000))
    # a promise kept: what was paid on its loan between its making and its keeping (not after)
    t1 = start + timedelta(days=2)
    add("promise_made", t1, "L97", action_id="PRX", amount_minor=5000)
    add("repayment_applied", t1 + timedelta(days=1), "L97", amount_minor=3000, payment_id="PX1")
    add("promise_kept", t1 + timedelta(days=3), "L97", action_id="PRX", amount_minor=5000)
    add("repayment_applied", t1 + timedelta(days=4), "L97", amount_minor=999, payment_id="PX2")
    # the window's edges: paid 6.5 days after the only contact (credited), exactly 7 days after (not)
    t0 = start + timedelta(days=3, hours=5)
    add("action_sent", t0, "L98", action_id="EDGE1", channel="sms", step="sms-edge")
    add("repayment_applied", t0 + timedelta(days=6, hours=12), "L98", amount_minor=777, payment_id="PE1")
    add("action_sent", t0, "L99", action_id="EDGE2", channel="sms", step="sms-edge")
    add("repayment_applied", t0 + timedelta(days=7), "L99", amount_minor=999, payment_id="PE2")
    by_day: dict[str, list[dict]] = defaultdict(list)
    for f in facts:
        by_day[f["business_date"]].append(f)
        if rng.random() < 0.2:
            by_day[f["business_date"]].append(f)  # redelivered
    for day, rows in by_day.items():
        folder = out / "outcomes" / "facts" / f"dt={day}"
        folder.mkdir(parents=True)
        (folder / "part.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return out, facts


def _at(f: dict) -> datetime:
    return datetime.fromisoformat(f["occurred_at"].replace("Z", "+00:00"))


@pytest.mark.parametrize(("first", "last"), [("2026-03-03", "2099-12-31"), ("2026-03-02", "2026-03-05")])
def test_channel_effectiveness_is_a_last_touch_count_of_the_facts(contacts_lake, first, last):
    out, facts = contacts_lake
    sent = [f for f in facts if f["fact_type"] == "action_sent" and first <= f["business_date"] <= last]
    paid = [f for f in facts if f["fact_type"] == "repayment_applied"]
    results = {f["action_id"]: f["reason"] for f in facts if f["fact_type"] == "call_outcome"}
    promised = {a for a, r in results.items() if r == "promise"}
    week = timedelta(days=7)
    want: dict[tuple, dict] = defaultdict(lambda: defaultdict(int))
    loans: dict[tuple, set] = defaultdict(set)
    for s in sent:
        g = want[(s["channel"], s["step"], s["currency"])]
        g["contacts"] += 1
        loans[(s["channel"], s["step"], s["currency"])].add(s["loan_id"])
        g["promises"] += s["action_id"] in promised
        g["right_party_contacts"] += results.get(s["action_id"]) in ("conversation", "promise")
        g["delivered_or_connected"] += s["channel"] != "voice" or results.get(s["action_id"]) in (
            "connected",
            "conversation",
            "promise",
        )
        g["cost_micros"] += s["cost_micros"] or 0
        g["followed_by_payment"] += any(p["loan_id"] == s["loan_id"] and _at(s) <= _at(p) < _at(s) + week for p in paid)
        g["repaid_within_7_days_minor"] += 0
    for p in paid:
        before = [s for s in sent if s["loan_id"] == p["loan_id"] and _at(s) <= _at(p) < _at(s) + week]
        if before:
            touch = max(before, key=lambda s: (_at(s), s["action_id"]))
            want[(touch["channel"], touch["step"], touch["currency"])]["repaid_within_7_days_minor"] += p[
                "amount_minor"
            ]
    got = {
        (r["channel"], r["step"], r["currency"]): r
        for r in _named(out, "channel_effectiveness", from_date=first, to_date=last)
    }
    assert set(got) == set(want)
    for key, g in want.items():
        assert {k: (got[key][k] or 0) for k in g} == dict(g), key
        assert got[key]["loans"] == len(loans[key])
        assert got[key]["repaid_per_contact_minor"] == round(g["repaid_within_7_days_minor"] / g["contacts"], 2)
        per_cost = round(g["repaid_within_7_days_minor"] * 1e6 / g["cost_micros"], 2) if g["cost_micros"] else None
        assert got[key]["repaid_minor_per_unit_cost"] == per_cost
    assert sum(g["repaid_within_7_days_minor"] for g in want.values()) > 0 and any(g["promises"] for g in want.values())
    edge = got[("sms", "sms-edge", "CNY")]
    assert (edge["contacts"], edge["followed_by_payment"], edge["repaid_within_7_days_minor"]) == (2, 1, 777)


def test_promises_by_day_counts_each_promise_once(contacts_lake):
    out, facts = contacts_lake
    want: dict[tuple, dict] = defaultdict(
        lambda: {
            "made": 0,
            "kept": 0,
            "broken": 0,
            "promised_minor": 0,
            "rpc": 0,
            "resolved_promised_minor": 0,
            "resolved_paid_minor": 0,
        }
    )
    made = {(f["action_id"], f["loan_id"]): f for f in facts if f["fact_type"] == "promise_made"}
    for f in facts:
        key = (f["business_date"], f["currency"])
        if f["fact_type"].startswith("promise_"):
            g = want[key]
            g[f["fact_type"].removeprefix("promise_")] += 1
            if f["fact_type"] == "promise_made":
                g["promised_minor"] += f["amount_minor"]
            else:
                g["resolved_promised_minor"] += f["amount_minor"]
                m = made.get((f["action_id"], f["loan_id"]))
                if m is not None:
                    g["resolved_paid_minor"] += sum(
                        p["amount_minor"]
                        for p in facts
                        if p["fact_type"] == "repayment_applied"
                        and p["loan_id"] == f["loan_id"]
                        and _at(m) <= _at(p) <= _at(f)
                    )
    for f in facts:
        if f["fact_type"] == "call_outcome" and f["reason"] in ("conversation", "promise"):
            key = (f["business_date"], f["currency"])
            if key in want:
                want[key]["rpc"] += 1
    got = {(r["dt"], r["currency"]): r for r in _named(out, "promises_by_day")}
    assert set(got) == set(want)
    for key, g in want.items():
        rpc = g.pop("rpc")
        assert {k: got[key][k] for k in g} == g, key
        resolved = g["kept"] + g["broken"]
        assert got[key]["kept_rate"] == (round(g["kept"] / resolved, 4) if resolved else None)
        assert got[key]["promise_rate"] == (round(g["made"] / rpc, 4) if rpc else None)
    assert sum(g["resolved_paid_minor"] for g in want.values()) == 3000  # the kept promise: paid before, not after
