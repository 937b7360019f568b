"""The lake's analyst queries on synthetic lakes: ``violations`` finds exactly the violations planted
among lawful contacts (one of each kind), and the month-end queries (roll rates, vintages) and the
recovery curve equal an independent Python computation from the same facts."""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from arrears.domain.facts import COLUMNS
from arrears_local import query

pytest.importorskip("duckdb")
pytest.importorskip("sqlglot")

CN, NY, LA = "Asia/Shanghai", "America/New_York", "America/Los_Angeles"


class Lake:
    def __init__(self) -> None:
        self.facts: list[dict] = []

    def add(self, kind: str, at: datetime, loan: str | None, borrower: str, **kw: object) -> dict:
        row = {c: None for c in COLUMNS}
        row.update(
            fact_id=f"f{len(self.facts)}",
            fact_type=kind,
            occurred_at=at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            business_date=at.astimezone(UTC).date().isoformat(),
            loan_id=loan,
            borrower_id=borrower,
            currency="CNY",
            source="test",
            schema_version=2,
        )
        row.update(kw)
        self.facts.append(row)
        return row

    def write(self, out: Path, redeliver: float = 0.2) -> Path:
        rng = random.Random(5)
        by_day: dict[str, list[dict]] = defaultdict(list)
        for f in self.facts:
            by_day[f["business_date"]].append(f)
            if rng.random() < redeliver:
                by_day[f["business_date"]].append(f)  # a redelivered batch wrote it again
        for day, rows in by_day.items():
            folder = out / "outcomes" / "facts" / f"dt={day}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "part.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
        return out


def _named(out: Path, name: str, **params: str) -> list[dict]:
    q = query.named_queries()[name]
    columns, rows = query.run(out, q.sql, query.bind(q, params))
    return [dict(zip(columns, r, strict=True)) for r in rows]


def local(y: int, m: int, d: int, h: int, mi: int, tz: str) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime(y, m, d, h, mi, tzinfo=ZoneInfo(tz))


def _lawful(lake: Lake) -> None:
    """Contacts that break nothing, on the edges of every rule."""

    def sent(at: datetime, loan: str, borrower: str, channel: str, zones: str, j: str, **kw: object) -> dict:
        return lake.add(
            "action_sent",
            at,
            loan,
            borrower,
            channel=channel,
            zones=zones,
            jurisdiction=j,
            action_id=f"ok{len(lake.facts)}",
            case_id=kw.pop("case_id", f"C-{loan}"),
            **kw,
        )

    sent(local(2026, 3, 2, 8, 0, CN), "L1", "B1", "sms", CN, "CN")  # the first allowed minute
    sent(local(2026, 3, 2, 21, 59, CN), "L1", "B1", "sms", CN, "CN")  # the last; 2 a day is the cap
    sent(local(2026, 3, 3, 23, 30, CN), "L1", "B1", "letter", CN, "CN")  # letters have no hours
    sent(local(2026, 3, 3, 11, 0, NY), "L2", "B2", "email", f"{NY},{LA}", "US-NY")  # 08:00 in LA
    sent(local(2026, 3, 3, 11, 30, NY), "L2", "B2", "sms", f"{NY},{LA}", "US-NY")  # 08:30 in LA
    for day in range(4):  # 4 SMS in 7 days: the US weekly cap exactly
        sent(local(2026, 3, 10 + day, 12, 0, NY), "L3", "B3", "sms", NY, "US")
    # an opt-out placed and lifted before the contact; a hold placed and lifted
    lake.add("opt_out_placed", local(2026, 3, 4, 9, 0, CN), None, "B4", channel="sms", source="platform/api")
    lake.add("opt_out_lifted", local(2026, 3, 4, 10, 0, CN), None, "B4", channel="sms", source="platform/api")
    lake.add("hold_placed", local(2026, 3, 4, 9, 0, CN), "L4", "B4", reason="dispute", source="platform/file")
    lake.add("hold_lifted", local(2026, 3, 4, 10, 0, CN), "L4", "B4", reason="dispute", source="platform/file")
    sent(local(2026, 3, 4, 11, 0, CN), "L4", "B4", "sms", CN, "CN")
    # another borrower's opt-out and another loan's hold do not matter
    lake.add("opt_out_placed", local(2026, 3, 4, 9, 0, CN), None, "B9", channel="sms", source="platform/api")
    lake.add("hold_placed", local(2026, 3, 4, 9, 0, CN), "L9", "B9", reason="dispute", source="platform/api")
    # a case closed, then reopened by a reversal, then contacted
    lake.add("case_closed", local(2026, 3, 5, 9, 0, CN), "L5", "B5", case_id="C-L5", reason="cured")
    lake.add("case_reopened", local(2026, 3, 5, 10, 0, CN), "L5", "B5", case_id="C-L5")
    sent(local(2026, 3, 5, 11, 0, CN), "L5", "B5", "sms", CN, "CN")
    # an unknown jurisdiction gets the fallback rules (08:00-21:00)
    sent(local(2026, 3, 5, 20, 30, "Europe/Paris"), "L6", "B6", "email", "Europe/Paris", "FR")
    for day in range(7):  # 7 calls about one debt in 7 consecutive local days: the cap exactly
        sent(local(2026, 3, 20 + day, 10, 0, NY), "L7", "B7", "voice", NY, "US")


def _planted(lake: Lake) -> set[tuple[str, str]]:
    def sent(at: datetime, loan: str, borrower: str, channel: str, zones: str, j: str, name: str, **kw: object) -> None:
        lake.add(
            "action_sent",
            at,
            loan,
            borrower,
            channel=channel,
            zones=zones,
            jurisdiction=j,
            action_id=name,
            case_id=kw.pop("case_id", f"C-{loan}"),
            **kw,
        )

    sent(local(2026, 3, 6, 22, 0, CN), "L1", "B1", "sms", CN, "CN", "hours")  # 22:00 is outside
    sent(local(2026, 3, 6, 10, 0, NY), "L2", "B2", "sms", f"{NY},{LA}", "US-NY", "hours_zone")  # 07:00 in LA
    sent(local(2026, 3, 7, 9, 0, CN), "L1", "B1", "email", CN, "CN", "x1")
    sent(local(2026, 3, 7, 10, 0, CN), "L1", "B1", "email", CN, "CN", "x2")
    sent(local(2026, 3, 7, 11, 0, CN), "L1", "B1", "email", CN, "CN", "daily")  # the third e-mail of the day
    sent(local(2026, 3, 14, 12, 0, NY), "L3", "B3", "sms", NY, "US", "weekly")  # the 5th SMS in 7 days
    sent(local(2026, 3, 26, 15, 0, NY), "L7", "B7", "voice", NY, "US", "debt")  # the 8th call in 7 days
    lake.add("opt_out_placed", local(2026, 3, 8, 9, 0, CN), None, "B8", channel="wechat", source="operator")
    lake.add("opt_out_placed", local(2026, 3, 8, 9, 0, CN), None, "B8", channel="wechat", source="platform/api")
    lake.add("opt_out_lifted", local(2026, 3, 8, 9, 30, CN), None, "B8", channel="wechat", source="platform/api")
    sent(local(2026, 3, 8, 10, 0, CN), "L8", "B8", "wechat", CN, "CN", "opted_out")  # the operator's stands
    lake.add("hold_placed", local(2026, 3, 8, 9, 0, CN), None, "B10", reason="cease_contact", source="platform/api")
    sent(local(2026, 3, 8, 10, 0, CN), "L10", "B10", "sms", CN, "CN", "held")  # a borrower's hold
    lake.add("hold_placed", local(2026, 3, 8, 9, 0, CN), "L11", "B11", reason="paused", source="arrangement")
    sent(local(2026, 3, 8, 10, 0, CN), "L11", "B11", "sms", CN, "CN", "held_loan")  # a loan's hold
    lake.add("case_closed", local(2026, 3, 9, 9, 0, CN), "L12", "B12", case_id="C-L12", reason="cured")
    sent(local(2026, 3, 9, 10, 0, CN), "L12", "B12", "sms", CN, "CN", "after_cure")
    return {
        ("contact_hours", "hours"),
        ("contact_hours", "hours_zone"),
        ("daily_cap", "daily"),
        ("weekly_cap", "weekly"),
        ("voice_attempts_per_debt_7_days", "debt"),
        ("opt_out", "opted_out"),
        ("hold", "held"),
        ("hold", "held_loan"),
        ("after_case_closed", "after_cure"),
    }


def test_violations_is_empty_on_lawful_contacts_at_the_rules_edges(tmp_path):
    lake = Lake()
    _lawful(lake)
    assert _named(lake.write(tmp_path), "violations") == []


def test_violations_finds_each_planted_violation_and_nothing_else(tmp_path):
    lake = Lake()
    _lawful(lake)
    planted = _planted(lake)
    found = _named(lake.write(tmp_path), "violations")
    assert {(r["rule"], r["action_id"]) for r in found} == planted
    assert len(found) == len(planted)  # each once, though some facts were written twice
    only_some = _named(tmp_path, "violations", from_date="2026-03-09", to_date="2026-03-14")
    assert {r["action_id"] for r in only_some} == {"after_cure", "weekly"}  # earlier contacts still counted


# ------------------------------------------------------------------ month-end snapshots and curves

BUCKETS = ["M0", "M1", "M2", "M3", "M6+"]


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory) -> tuple[Path, list[dict]]:
    rng = random.Random(7)
    lake = Lake()
    ends = [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31), date(2026, 5, 31)]  # April missing
    for n in range(120):
        loan = f"L{n}"
        disbursed = date(2025, 10 + rng.randrange(3), 1 + rng.randrange(28))
        rank = rng.randrange(len(BUCKETS))
        for end in ends:
            if rng.random() < 0.15:
                continue  # no balance at this month end (paid off, or not yet disbursed)
            rank = max(0, min(len(BUCKETS) - 1, rank + rng.choice([-1, 0, 0, 1])))
            dpd = 0 if rank == 0 else 1 + 30 * (rank - 1) + rng.randrange(30)
            at = datetime(end.year, end.month, end.day, 17, 0, tzinfo=UTC)
            lake.add(
                "loan_snapshot",
                at,
                loan,
                f"B{n}",
                bucket=BUCKETS[rank],
                dpd=dpd,
                outstanding_minor=rng.randrange(1000, 90_000),
                amount_minor=0,
                disbursed_on=disbursed.isoformat(),
                currency=rng.choice(["CNY", "USD"]),
            )
    out = lake.write(tmp_path_factory.mktemp("snap"))
    return out, lake.facts


def _rank(bucket: str) -> int:
    return 0 if bucket == "M0" else int(bucket[1:].rstrip("+")) + bucket.endswith("+")


def test_roll_rates_are_each_loans_move_to_the_next_month_end(snapshots):
    out, facts = snapshots
    at = {(f["loan_id"], f["business_date"][:7]): f for f in facts}
    months = sorted({m for _, m in at})
    expected: Counter = Counter()
    for (loan, month), f in at.items():
        following = f"{month[:5]}{int(month[5:]) + 1:02d}"
        if following not in months:
            continue  # no month end after it in the lake (April is missing: March has no move)
        n = at.get((loan, following))
        to = n["bucket"] if n else "paid_off"
        fr, tr = _rank(f["bucket"]), (_rank(n["bucket"]) if n else None)
        move = (
            ("cured" if fr > 0 else "paid_off")
            if tr is None
            else "cured"
            if tr == 0 and fr > 0
            else "write_off"
            if to == "M6+" and f["bucket"] != "M6+"
            else "forward"
            if tr > fr
            else "back"
            if tr < fr
            else "stay"
        )
        expected[(month, f["bucket"], to, f["currency"], move)] += 1
    got = {
        (r["from_month"], r["from_bucket"], r["to_bucket"], r["currency"], r["movement"]): r["loans"]
        for r in _named(out, "roll_rates")
    }
    assert got == dict(expected)
    assert {m for m, *_ in got} == {"2026-01", "2026-02"}
    shares = defaultdict(float)
    for r in _named(out, "roll_rates"):
        shares[(r["from_month"], r["from_bucket"], r["currency"])] += r["share"]
    assert all(abs(v - 1) < 0.01 for v in shares.values())


def test_vintages_count_each_month_ends_loans_by_disbursement_month(snapshots):
    out, facts = snapshots
    expected: dict = defaultdict(lambda: [0, 0, 0])
    for f in facts:
        vintage, month = f["disbursed_on"][:7], f["business_date"][:7]
        mob = (int(month[:4]) - int(vintage[:4])) * 12 + int(month[5:]) - int(vintage[5:])
        e = expected[(vintage, month, mob, f["currency"])]
        e[0] += 1
        e[1] += f["dpd"] > 30
        e[2] += f["outstanding_minor"]
    got = {
        (r["vintage"], r["month"], r["months_on_book"], r["currency"]): [
            r["loans_with_balance"],
            r["dpd_30_plus"],
            r["balance_minor"],
        ]
        for r in _named(out, "vintages")
    }
    assert got == dict(expected)


def test_recovery_curve_is_the_capped_share_recovered_by_each_day_since_entry(tmp_path):
    rng = random.Random(3)
    lake = Lake()
    start = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
    for n in range(40):
        loan = f"L{n}"
        entered = start + timedelta(hours=rng.randrange(20 * 24))
        overdue = rng.randrange(10_000, 50_000)
        lake.add("bucket_entered", entered, loan, f"B{n}", bucket=rng.choice(["M1", "M2"]), amount_minor=overdue)
        for k in range(rng.randrange(4)):
            paid = entered + timedelta(hours=rng.randrange(-48, 30 * 24))
            lake.add(
                "repayment_applied",
                paid,
                loan,
                f"B{n}",
                amount_minor=rng.randrange(1000, 30_000),
                payment_id=f"P{n}-{k}",
            )
    out = lake.write(tmp_path)
    entries = [f for f in lake.facts if f["fact_type"] == "bucket_entered"]
    paid = [f for f in lake.facts if f["fact_type"] == "repayment_applied"]

    def ts(f: dict) -> datetime:
        return datetime.fromisoformat(f["occurred_at"].replace("Z", "+00:00"))

    last = max(ts(f) for f in lake.facts)  # the lake's last instant: later days are not yet known
    expected: dict = defaultdict(lambda: [0, 0, 0])
    for e in entries:
        for day in range(1, 31):
            if ts(e) + timedelta(days=day) > last:
                break
            got = sum(
                p["amount_minor"]
                for p in paid
                if p["loan_id"] == e["loan_id"] and ts(e) <= ts(p) < ts(e) + timedelta(days=day)
            )
            row = expected[(e["bucket"], day)]
            row[0] += 1
            row[1] += e["amount_minor"]
            row[2] += min(e["amount_minor"], max(0, got))
    got = {
        (r["bucket"], r["day"]): [r["entries"], r["overdue_minor"], r["recovered_minor"]]
        for r in _named(out, "recovery_curve", days="30")
    }
    assert got == dict(expected)


def test_arms_are_the_daily_reports_comparison_per_currency(tmp_path):
    """The arms query over the whole lake equals the daily reports' arms carried day by day
    (``advance_arms``, then ``arm_comparison``): loans, contacts, promises, cures, recovered per loan in
    each currency, the recovery rate and the challenger's difference with its interval."""
    from arrears.domain.report import advance_arms, arm_comparison

    rng = random.Random(13)
    lake = Lake()
    start = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)
    for n in range(60):
        loan, case = f"L{n}", f"C{n}"
        cur = "USD" if n % 5 == 0 else "CNY"
        arm = rng.choice(["champion", "champion", "call-early"])
        strategy = "us-default" if cur == "USD" else "cn-default"
        at = start + timedelta(hours=rng.randrange(30 * 24))
        common = dict(currency=cur, strategy=strategy, variant=arm)
        overdue = rng.randrange(5_000, 80_000)
        lake.add("action_planned", at, loan, f"B{n}", case_id=case, amount_minor=overdue, action_id=f"A{n}", **common)
        for k in range(rng.randrange(4)):
            lake.add(
                "action_sent", at + timedelta(hours=1 + 20 * k), loan, f"B{n}", case_id=case, channel="sms", **common
            )
        if rng.random() < 0.3:
            lake.add("promise_made", at + timedelta(days=1), loan, f"B{n}", case_id=case, currency=cur)
        t = at + timedelta(days=rng.randrange(1, 10))
        if rng.random() < 0.6:  # a part payment (no case_id on repayments: mapped by the loan)
            lake.add("repayment_applied", t, loan, f"B{n}", amount_minor=overdue // 3, from_bucket="M1", currency=cur)
        if rng.random() < 0.5:  # a curing payment and the closing at the same instant
            t2 = t + timedelta(days=2)
            lake.add(
                "repayment_applied",
                t2,
                loan,
                f"B{n}",
                amount_minor=overdue,
                from_bucket="M1",
                to_bucket="M0",
                currency=cur,
            )
            lake.add("case_closed", t2, loan, f"B{n}", case_id=case, reason="cured", currency=cur)
            lake.add(
                "repayment_applied",
                t2 + timedelta(days=1),
                loan,
                f"B{n}",
                amount_minor=500,
                from_bucket="M0",
                currency=cur,
            )
            if rng.random() < 0.3:  # reversed: the case reopens
                lake.add(
                    "repayment_reversed",
                    t2 + timedelta(days=3),
                    loan,
                    f"B{n}",
                    amount_minor=-overdue,
                    bucket="M1",
                    currency=cur,
                )
                lake.add("case_reopened", t2 + timedelta(days=3), loan, f"B{n}", case_id=case, currency=cur)
    lake.add("loan_evaluated", start + timedelta(days=45), "L0", "B0")  # the lake's last day
    out = lake.write(tmp_path)
    by_day: dict[str, list[dict]] = defaultdict(list)
    for f in lake.facts:
        by_day[f["business_date"]].append(f)
    state: dict = {}
    for d in sorted(by_day):
        state = advance_arms(state, by_day[d] + by_day[d][:3], date.fromisoformat(d))
    expected = arm_comparison(state)
    got = _named(out, "arms")
    assert {(r["strategy"], r["arm"]) for r in got} == {(s, a) for s, arms in expected.items() for a in arms}
    for r in got:
        e = expected[r["strategy"]][r["arm"]]
        assert (r["contacts"], r["promises"], r["cures"]) == (e["contacts"], e["promises"], e["cures"])
        assert r["loans"] == e["loans"]  # one currency per strategy here
        assert f"{r['recovered_per_loan_minor'] / 100:.2f}" == e["recovered_per_loan"][r["currency"]]
        assert r["recovery_rate"] == e["recovery_rate"]
        if "difference_vs_champion" in e:
            d = e["difference_vs_champion"]
            assert (r["difference_vs_champion"], [r["ci95_low"], r["ci95_high"]]) == (d["recovery_rate"], d["ci95"])
        else:
            assert r["difference_vs_champion"] is None


def test_agent_performance_credits_each_member_with_their_contacts_and_what_followed(tmp_path):
    rng = random.Random(21)
    lake = Lake()
    start = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    agents = ["ann", "bo", None]  # None: the automated channels
    for n in range(80):
        loan = f"L{n % 25}"
        agent = rng.choice(agents)
        at = start + timedelta(hours=rng.randrange(12 * 24))
        cur = "USD" if n % 25 == 0 else "CNY"
        sent = lake.add(
            "action_sent",
            at,
            loan,
            "B",
            case_id=f"C-{loan}",
            action_id=f"A{n}",
            agent=agent,
            currency=cur,
            channel="voice" if agent else "sms",
        )
        if agent:
            lake.add(
                "call_outcome",
                at,
                loan,
                "B",
                action_id=sent["action_id"],
                agent=agent,
                currency=cur,
                reason=rng.choice(["no_answer", "conversation", "promise"]),
            )
        if rng.random() < 0.4:
            lake.add(
                "repayment_applied",
                at + timedelta(days=rng.uniform(0, 9)),
                loan,
                "B",
                currency=cur,
                amount_minor=rng.randrange(100, 9000),
                payment_id=f"P{n}",
            )
        if rng.random() < 0.2:
            lake.add("promise_made", at + timedelta(hours=1), loan, "B", case_id=f"C-{loan}", currency=cur)
        if rng.random() < 0.1:
            lake.add(
                "action_blocked", at, loan, "B", case_id=f"C-{loan}", agent=agent, currency=cur, reason="daily_cap"
            )
    out = lake.write(tmp_path)

    def at_(f: dict) -> datetime:
        return datetime.fromisoformat(f["occurred_at"].replace("Z", "+00:00"))

    sent = [f for f in lake.facts if f["fact_type"] == "action_sent"]
    results = {f["action_id"]: f["reason"] for f in lake.facts if f["fact_type"] == "call_outcome"}
    credited: dict[str, int] = defaultdict(int)
    for p in (f for f in lake.facts if f["fact_type"] == "repayment_applied"):
        before = [s for s in sent if s["loan_id"] == p["loan_id"] and at_(s) <= at_(p) < at_(s) + timedelta(days=7)]
        if before:
            last = max(before, key=lambda s: (at_(s), s["action_id"]))
            credited[last["action_id"]] += p["amount_minor"]
    last_contact = {}
    for s in sorted(sent, key=lambda s: (at_(s), s["action_id"])):
        last_contact[s["case_id"]] = (s["agent"] or "", s["currency"])
    expected: dict = {}
    for key in {((s["agent"] or ""), s["currency"]) for s in sent}:
        mine = [s for s in sent if ((s["agent"] or ""), s["currency"]) == key]
        cases = [c for c, who in last_contact.items() if who == key]
        expected[key] = {
            "cases_worked": len({s["case_id"] for s in mine}),
            "contacts": len(mine),
            "right_party_contacts": sum(results.get(s["action_id"]) in ("conversation", "promise") for s in mine),
            "repaid_within_7_days_minor": sum(credited[s["action_id"]] for s in mine),
            "promises": sum(f["fact_type"] == "promise_made" and f["case_id"] in cases for f in lake.facts),
            "compliance_blocks": sum(
                f["fact_type"] == "action_blocked" and ((f["agent"] or ""), f["currency"]) == key for f in lake.facts
            ),
        }
    got = {
        (r["agent"], r["currency"]): {k: r[k] for k in expected[(r["agent"], r["currency"])]}
        for r in _named(out, "agent_performance")
    }
    for key in expected:
        assert got[key] == expected[key], key
    assert set(got) == set(expected)


def test_imports_by_day_reads_what_became_of_each_file(tmp_path):
    lake = Lake()
    at = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    lake.add(
        "platform_event",
        at,
        None,
        None,
        source="platform/file",
        reason="loans/a.csv: 8 of 10 rows accepted, 2 rejected",
    )
    lake.add(
        "platform_event",
        at,
        None,
        None,
        source="platform/file",
        reason="repayments/b: x.csv: rejected whole: not UTF-8: byte 0xff",
    )
    lake.add("platform_event", at, None, None, source="platform/api", reason="POST /v1/repayments")
    got = _named(lake.write(tmp_path), "imports_by_day")
    assert [(r["file"], r["rows"], r["accepted"], r["rejected"], r["rejected_whole"]) for r in got] == [
        ("loans/a.csv", 10, 8, 2, None),
        ("repayments/b: x.csv", None, None, None, "not UTF-8: byte 0xff"),  # a key may hold ': '
    ]
