"""Champion/challenger comparison and the dry run."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import yaml

from arrears.domain.experiments import LoanOutcome, compare_arms, dry_run
from arrears.domain.strategies import LoanView, parse_strategy

DEFAULTS = Path(__file__).resolve().parents[2] / "layers" / "arrears" / "arrears" / "strategies"


def test_a_real_difference_is_inside_the_interval_and_none_is_found_between_equal_arms():
    rng = random.Random(1)
    rows = [
        LoanOutcome(
            f"A{i}", "champion", Decimal(100), Decimal(rng.choice([0, 100])) if rng.random() < 0.6 else Decimal(0)
        )
        for i in range(4000)
    ]
    rows += [
        LoanOutcome(f"B{i}", "calls-first", Decimal(100), Decimal(100) if rng.random() < 0.36 else Decimal(0))
        for i in range(4000)
    ]
    rows += [
        LoanOutcome(f"C{i}", "same", Decimal(100), Decimal(100) if rng.random() < 0.30 else Decimal(0))
        for i in range(4000)
    ]
    report = compare_arms(rows)
    lo, hi = report["calls-first"]["difference_vs_champion"]["ci95"]
    assert lo < 0.06 < hi and lo > 0  # champion recovers ~30%, the challenger ~36%
    lo, hi = report["same"]["difference_vs_champion"]["ci95"]
    assert lo < 0 < hi
    assert report["champion"]["loans"] == 4000 and "difference_vs_champion" not in report["champion"]


def test_dry_run_counts_what_would_happen_without_doing_it():
    s = parse_strategy(yaml.safe_load((DEFAULTS / "cn-default.yaml").read_text()))
    today = date(2026, 4, 10)
    book = [
        LoanView(
            f"L{i}",
            f"L{i}#c",
            "M1",
            3,
            Decimal(1000),
            Decimal(300),
            "B",
            None,
            "cash-3m",
            "CN",
            "zh-CN",
            today - timedelta(days=2),
        )
        for i in range(30)
    ]
    book.append(book[0]._replace(loan_id="US1", jurisdiction="US"))
    out = dry_run(s, book, today, datetime(2026, 4, 10, 2, tzinfo=UTC))
    assert out["by_step"] == [
        {"variant": "champion", "segment": "m1-reminders", "step": "m1-sms", "channel": "sms", "loans": 30}
    ]
    assert out["no_action"] == 1


def test_recovered_per_loan_is_per_currency_never_added_across():
    rows = [
        LoanOutcome("C1", "champion", Decimal(100), Decimal(60), currency="CNY"),
        LoanOutcome("C2", "champion", Decimal(100), Decimal(0), currency="CNY"),
        LoanOutcome("U1", "champion", Decimal(10), Decimal(5), currency="USD"),
        LoanOutcome("J1", "champion", Decimal(1000), Decimal(333), currency="JPY"),
    ]
    champion = compare_arms(rows)["champion"]
    assert champion["recovered_per_loan"] == {"CNY": "30.00", "JPY": "333", "USD": "5.00"}
    assert champion["loans"] == 4 and champion["recovery_rate"] == round((0.6 + 0 + 0.5 + 0.333) / 4, 4)
