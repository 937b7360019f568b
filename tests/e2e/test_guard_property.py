"""Property: over random whole books run through the local stack for simulated days, with every
queue message delivered twice, no contact leaves outside the borrower's hours, above a cap, on an
opted-out channel, for a held loan or borrower, or twice for one action. Checked from what the
providers received and from the outcomes by the auditor's check (``arrears_local.audit``: the
rules' numbers restated from the law, not imported from the guard); days are the borrower's local
calendar days."""

from __future__ import annotations

import csv
import json
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.e2e

ZONES = {
    "CN": ["Asia/Shanghai", "Asia/Urumqi"],
    "US": ["America/New_York", "America/Los_Angeles", "Pacific/Honolulu"],
}
START = date(2026, 3, 10)
DAYS = 10


@st.composite
def books(draw):
    borrowers, loans, installments, repayments = [], [], [], []
    for i in range(draw(st.integers(3, 7))):
        juris = draw(st.sampled_from(["CN", "US"]))
        tz = draw(st.sampled_from(ZONES[juris]))
        bid = f"PB{i}"
        borrowers.append(
            {
                "borrower_id": bid,
                "name": f"Person {i}",
                "phone": f"+86139{i:08d}" if juris == "CN" else f"+1415555{i:04d}",
                "email": f"p{i}@example.com",
                "wechat_openid": f"o{i:020d}" if juris == "CN" else "",
                "id_number": "",
                "address": f"{i} Test Road",
                "timezone": tz,
                "language": "zh-CN" if juris == "CN" else "en-US",
                "jurisdiction": juris,
                "credit_grade": "B",
                "opt_out": ";".join(draw(st.sets(st.sampled_from(["sms", "email", "voice", "wechat"]), max_size=2))),
                "holds": draw(st.sampled_from(["", "", "", "cease_contact", "attorney"])),
            }
        )
        for n in range(draw(st.integers(1, 2))):
            lid = f"PL{i}{n}"
            loans.append(
                {
                    "loan_id": lid,
                    "borrower_id": bid,
                    "product": "cash-3m",
                    "currency": "CNY" if juris == "CN" else "USD",
                    "principal": "300.00",
                    "disbursed_on": "2025-12-01",
                    "holds": draw(st.sampled_from(["", "", "", "dispute", "paused"])),
                }
            )
            late = draw(st.integers(-3, 70))  # days past the first due date at the start
            for s in range(3):
                due = START - timedelta(days=late) + timedelta(days=30 * s)
                installments.append(
                    {
                        "loan_id": lid,
                        "seq": str(s + 1),
                        "due_date": due.isoformat(),
                        "principal_due": "100.00",
                        "interest_due": "5.00",
                        "fee_due": "0",
                    }
                )
            if draw(st.booleans()):
                day = START + timedelta(days=draw(st.integers(0, DAYS - 1)), hours=draw(st.integers(0, 23)))
                repayments.append(
                    {
                        "payment_id": f"PP{lid}",
                        "loan_id": lid,
                        "paid_at": datetime.combine(day, datetime.min.time(), ZoneInfo(tz)).isoformat(),
                        "amount": draw(st.sampled_from(["50.00", "105.00", "210.00"])),
                    }
                )
    return {"borrowers": borrowers, "loans": loans, "installments": installments, "repayments": repayments}


def write(folder: Path, book: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for kind, rows in book.items():
        if rows:
            with open(folder / f"{kind}.csv", "w", newline="", encoding="utf-8") as f:
                w = csv.DictWriter(f, fieldnames=list(rows[0]))
                w.writeheader()
                w.writerows(rows)
    return folder


@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
@given(book=books())
def test_no_contact_breaks_a_rule_over_whole_books_with_duplicate_deliveries(book, tmp_path_factory):
    from arrears_local.book import Book
    from arrears_local.runner import SqsSource
    from arrears_local.sim import midnight, start_stack

    base = tmp_path_factory.mktemp("prop")
    sim = start_stack(base / "out", {"ShardCount": "2"}, serve=False, start_clock=midnight(START, "UTC"))
    SqsSource.duplicate_deliveries = True
    try:
        sim.runner.clock.now = midnight(START, sim.business_tz)
        sim.import_book(Book.load(write(base / "book", book)))
        sim.run_days(Book.load(base / "book"), START, DAYS, lambda r: None)
        sim.write_out()
        contacts = sim.contacts()
    finally:
        SqsSource.duplicate_deliveries = False
        sim.stop()
    from arrears_local.audit import Contact, violations

    people = {b["borrower_id"]: b for b in book["borrowers"]}
    facts = [
        json.loads(line)
        for p in (base / "out" / "outcomes" / "facts").glob("*/*.json")
        for line in p.read_text().splitlines()
    ]
    sent = {f["action_id"]: f for f in facts if f["fact_type"] == "action_sent"}  # one per action
    # nothing was contacted twice: what the providers received is exactly one per sent action
    assert sum(contacts.values()) == len(sent), (contacts, len(sent))
    results = {f["action_id"]: f["reason"] for f in facts if f["fact_type"] == "call_outcome"}
    made = [
        Contact(
            f["action_id"],
            f["loan_id"],
            f["borrower_id"],
            f["channel"],
            datetime.fromisoformat(f["occurred_at"].replace("Z", "+00:00")),
        )
        for f in sent.values()
    ]
    assert violations(made, people, {loan["loan_id"]: loan for loan in book["loans"]}, results) == []
