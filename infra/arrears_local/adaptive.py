"""Adaptive against static: the learning figures of ``make bench`` (issue: a strategy that learns).

On one book and one world, with the domain core in process (``core.py``):

1. **Warm-up** (its own seed): the adaptive strategies run with the heuristic ranking and a bandit that
   learns online from its own contacts, as a fresh stack would. From its facts, as the weekly job
   would: the propensity model (``propensity.fit``, trained on the decisions before day 40 and tested
   on the rest; kept only if it beats the heuristic there, as the training function decides), the bandit's counts, and the strategy
   proposal (``proposals.propose`` on the step statistics and the arms), adopted as a challenger
   (``ProposalAdoption=challenger``).
2. **Evaluation** on other seeds: each seed runs twice on the same book and world, the static
   baseline (no model, no bandit, no proposal) and the adaptive default (the learned model ranking, the
   bandit starting from the warm-up's counts and still learning online, the proposal's challenger).

Each figure is the mean over the evaluation seeds of adaptive over static, whole run over whole run.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from arrears.domain import bandit, propensity
from arrears.domain.proposals import propose, step_stats
from arrears.domain.report import advance_arms, arm_comparison
from arrears.domain.strategies import Strategy, parse_strategy
from arrears.domain.timeutil import zone

from . import world as worlds
from .book import Book
from .checks import read_document
from .core import Config, CoreRun, Learning
from .whatif import DEFAULT_COST, figures_of

#: the warm-up's time split: trained on the decisions before this day of the run, tested on the rest
SPLIT_DAY = 40
#: the weekly proposal judges the contacts made 35 to 7 days before it (usecases/proposals.WINDOW)
WINDOW = (timedelta(days=35), timedelta(days=7))
RATIOS = ("recovered_per_contact", "recovery_rate", "contacts_per_cure")


def arms_state(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The arms comparison's state after the run, carried a business day at a time as the daily
    report carries it (a loan's repayment counts for the case it had that day)."""
    by_day: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_day[str(r["business_date"])].append(r)
    state: dict[str, Any] = {}
    for day in sorted(by_day):
        state = advance_arms(state, by_day[day], date.fromisoformat(day))
    return state


def run_figures(run: CoreRun, cost: Mapping[str, float] = DEFAULT_COST) -> dict[str, Any]:
    """A core run's figures, as ``arrears whatif`` computes them from a stack's outputs."""
    rows = run.rows()
    return figures_of(arms_state(rows)["cases"], rows, dict(run.reactions), dict(cost))


def load_docs(paths: Mapping[str, Path]) -> dict[str, dict[str, Any]]:
    """Jurisdiction -> strategy document."""
    return {j: read_document(p) for j, p in paths.items()}


def parsed(docs: Mapping[str, Mapping[str, Any]]) -> dict[str, Strategy]:
    return {j: parse_strategy(dict(d)) for j, d in docs.items()}


def warm_up(
    book: Book, world: str, seed: int, docs: Mapping[str, dict[str, Any]], start: date, days: int
) -> dict[str, Any]:
    """The warm-up run and what is learned from it: the model, the bandit's counts, the proposals."""
    run = CoreRun(book, worlds.load(world), seed, parsed(docs), learning=Learning(online=True)).run(start, days)  # type: ignore[arg-type]
    rows = run.rows()
    end = datetime.combine(start + timedelta(days=days), time(), zone(Config().business_tz))
    decisions = propensity.decisions(rows)
    try:
        model, doc = propensity.fit(decisions, SPLIT_DAY)
    except ValueError as e:  # too few decisions to train on: the heuristic ranks
        model, doc = None, {"choice": "heuristic", "why": str(e), "heuristic_test_auc": None, "train": {}, "test": {}}
    arms = arm_comparison(arms_state(rows))
    stats = step_stats(rows, end - WINDOW[0], end - WINDOW[1])
    adopted: dict[str, dict[str, Any]] = {}
    changes: dict[str, list[dict[str, Any]]] = {}
    for j, d in docs.items():
        draft, why = propose(d, stats, arms.get(str(d["id"])), f"warmup-{seed}")
        changes[j] = [c._asdict() for c in why]
        new_champion = any(c.what == "promote_challenger" for c in why)
        adopted[j] = (
            {**draft, "version": int(d["version"]) + 1} if draft is not None and not new_champion else copy.deepcopy(d)
        )
    return {
        "model": model if doc["choice"] == "new" else None,
        "model_doc": {k: doc[k] for k in ("choice", "why", "heuristic_test_auc", "train", "test") if k in doc},
        "bandit": bandit.learn(rows, end),
        "docs": adopted,
        "changes": changes,
        "figures": run_figures(run),
    }


def evaluate(
    book: Book,
    world: str,
    seed: int,
    static: Mapping[str, dict[str, Any]],
    learned: Mapping[str, Any],
    start: date,
    days: int,
) -> dict[str, Any]:
    """One seed: the static baseline and the adaptive default on the same book and world."""
    base = CoreRun(book, worlds.load(world), seed, parsed(static)).run(start, days)  # type: ignore[arg-type]
    learning = Learning(model=learned["model"], bandit_days={"warm-up": copy.deepcopy(learned["bandit"])}, online=True)
    adaptive = CoreRun(book, worlds.load(world), seed, parsed(learned["docs"]), learning=learning).run(start, days)  # type: ignore[arg-type]
    s, a = run_figures(base), run_figures(adaptive)
    return {"static": s, "adaptive": a, "ratios": {k: _ratio(a[k], s[k]) for k in RATIOS}}


def compare(
    book: Book,
    world: str,
    static: Mapping[str, dict[str, Any]],
    adaptive: Mapping[str, dict[str, Any]],
    warmup_seed: int,
    seeds: list[int],
    start: date,
    days: int,
) -> dict[str, Any]:
    learned = warm_up(book, world, warmup_seed, adaptive, start, days)
    runs = {seed: evaluate(book, world, seed, static, learned, start, days) for seed in seeds}
    means = {}
    for k in RATIOS:
        values = [r["ratios"][k] for r in runs.values() if r["ratios"][k] is not None]
        means[k] = round(sum(values) / len(values), 3) if len(values) == len(runs) else None
    return {
        "world": world,
        "warmup_seed": warmup_seed,
        "seeds": seeds,
        "ratios": means,
        "warmup": {k: learned[k] for k in ("model_doc", "changes", "figures")},
        "model": learned["model"],  # the warm-up's model (None: the heuristic ranks)
        "runs": {str(s): r for s, r in runs.items()},
    }


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b
