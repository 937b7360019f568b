"""The domain core in process (``arrears_local/core.py``): reproducible, a cured loan is not contacted
again, the guard's rules hold; and the adaptive-against-static comparison of the learning bench runs
on it (``arrears_local/adaptive.py``). That its figures are the whole stack's is
``tests/e2e/test_core_matches_stack.py``."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from arrears_local import adaptive, core
from arrears_local import world as worlds
from arrears_local.book import Book, synthetic_book

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Book:
    return Book.load(synthetic_book(tmp_path_factory.mktemp("core") / "book", borrowers=150, seed=5))


def docs(name: str) -> dict:
    return adaptive.load_docs({j: ROOT / "bench" / f"{name}-{j.lower()}.yaml" for j in ("CN", "US")})


def one(book: Book, seed: int, name: str = "adaptive") -> core.CoreRun:
    run = core.CoreRun(book, worlds.load("default"), seed, adaptive.parsed(docs(name)), learning=core.Learning())
    return run.run(book.earliest_due() - timedelta(days=1), 45)


def test_a_core_run_is_reproducible_and_never_contacts_a_loan_after_its_cure(book):
    first, again = one(book, 3), one(book, 3)
    rows = first.rows()
    assert rows == again.rows() and rows != one(book, 4).rows()  # the seed, and only the seed, changes it
    closed: dict[str, list[str]] = defaultdict(list)
    for f in rows:
        if f["fact_type"] == "case_closed":
            closed[f["case_id"]].append(f["occurred_at"])
    sent = [f for f in rows if f["fact_type"] == "action_sent"]
    assert sent and closed
    for f in sent:  # a contact about a case goes before the case closes, never after
        assert all(f["occurred_at"] <= at for at in closed.get(f["case_id"], []))
    kinds = {f["fact_type"] for f in rows}
    assert {"loan_evaluated", "case_opened", "action_planned", "repayment_applied", "call_outcome"} <= kinds
    planned = [str(f["reason"]) for f in rows if f["fact_type"] == "action_planned"]
    assert any("bandit: " in r and " local (" in r for r in planned)  # the bandit chose channels and hours


def test_the_adaptive_comparison_warms_up_learns_and_compares_on_other_seeds(book):
    start = book.earliest_due() - timedelta(days=1)
    got = adaptive.compare(book, "default", docs("static"), docs("adaptive"), 100, [1, 2], start, 45)
    assert set(got["ratios"]) == set(adaptive.RATIOS) and got["seeds"] == [1, 2]
    for seed in ("1", "2"):
        run = got["runs"][seed]
        assert run["static"]["contacts_by_channel"]["wechat"] == 0  # the baseline texts, the adaptive may not
        assert run["ratios"]["recovery_rate"] == pytest.approx(
            run["adaptive"]["recovery_rate"] / run["static"]["recovery_rate"]
        )
    mean = sum(got["runs"][s]["ratios"]["recovered_per_contact"] for s in ("1", "2")) / 2
    assert got["ratios"]["recovered_per_contact"] == round(mean, 3)
    assert got["warmup"]["model_doc"]["choice"] in ("new", "heuristic")


class Rude:
    """A world that fails each day and answers texts with what arrears cannot take."""

    def start(self, book, seed):
        pass

    def on_day(self, day):
        raise RuntimeError("boom")

    def on_contact(self, c):
        from arrears_local.world import CallResult, Payment

        late = Payment(c.loan_id, Decimal("1.00"), c.local_time.replace(tzinfo=None))
        return (
            [CallResult(c.action_id, "promise"), late] if c.channel != "voice" else [CallResult(c.action_id, "maybe")]
        )


def test_a_world_that_fails_or_answers_nonsense_is_refused_and_the_run_goes_on(book):
    static = adaptive.parsed(docs("static"))
    run = core.CoreRun(book, Rude(), 3, static).run(book.earliest_due() - timedelta(days=1), 45)
    assert any("on_day(" in r and "failed: RuntimeError: boom" in r for r in run.refused)
    assert any("a CallResult for" in r and "after a sms contact" in r for r in run.refused)
    assert any("has no time zone" in r for r in run.refused)
    assert any("call result 'maybe' is not one of" in r for r in run.refused)
    assert adaptive.run_figures(run)["contacts"] > 0 and run.reactions["payment"] == 0
