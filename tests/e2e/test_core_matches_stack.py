"""The domain core in process (``arrears_local/core.py``, what ``arrears whatif --core`` and the learning
bench run) against the whole local stack: the same book, world, seed and strategies give the same
figures (cases, amounts recovered, recovery rate, cures, contacts by channel, the guard's verdicts by
rule, the world's reactions) and the same facts, type by type. The strategies exercise what the core
must mirror: the bandit's channel and hour (learning online), the borrower's payment hour, calls with
their results and promises, the guard's deferrals and blocks, cures that cancel planned contacts."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from arrears_local import adaptive, core
from arrears_local import world as worlds
from arrears_local.book import Book, synthetic_book
from arrears_local.cli import main
from arrears_local.whatif import DEFAULT_COST, _facts, figures

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
BORROWERS, DAYS, SEED = 300, 40, 11
#: facts only the stack writes (month-end snapshots, the platform's events, imported opt-outs)
STACK_ONLY = {"loan_snapshot", "platform_event", "opt_out_placed", "hold_placed"}


def test_the_core_in_process_gives_the_whole_stacks_figures_and_facts(tmp_path, capsys):
    strategies = [ROOT / "bench" / "adaptive-cn.yaml", ROOT / "bench" / "adaptive-us.yaml"]
    folder = synthetic_book(tmp_path / "book", BORROWERS)
    out = tmp_path / "stack"
    argv = ["run", "--book", str(folder), "--days", str(DAYS), "--world", "default", "--seed", str(SEED)]
    argv += [a for s in strategies for a in ("--publish", str(s))] + ["--out", str(out), "--param", "ShardCount=2"]
    assert main(argv) == 0, capsys.readouterr().err
    book = Book.load(folder)
    docs = adaptive.load_docs({"CN": strategies[0], "US": strategies[1]})
    run = core.CoreRun(book, worlds.load("default"), SEED, adaptive.parsed(docs), learning=core.Learning(online=True))
    run.run(book.earliest_due() - timedelta(days=1), DAYS)
    in_process, stack = adaptive.run_figures(run), figures(out, DEFAULT_COST)
    assert in_process == stack
    assert stack["contacts"] > 40 and stack["cures"] > 10 and stack["contacts_by_channel"]["voice"] > 0
    assert sum(1 for k in stack["contacts_by_channel"].values() if k) >= 3  # the bandit used several channels
    rows = run.rows()
    kinds = Counter(f["fact_type"] for f in rows)
    assert kinds == Counter(f["fact_type"] for f in _facts(out) if f["fact_type"] not in STACK_ONLY)
    assert kinds["action_deferred"] and kinds["action_blocked"] and kinds["call_outcome"]
    sent = {f["action_id"]: f["occurred_at"] for f in rows if f["fact_type"] == "action_sent"}
    assert sent == {f["action_id"]: f["occurred_at"] for f in _facts(out) if f["fact_type"] == "action_sent"}
    assert any(
        "the hour the borrower last paid at" in str(f["reason"]) for f in rows if f["fact_type"] == "action_planned"
    )
    world = json.loads((out / "world.json").read_text())["reactions"]
    assert dict(run.reactions) == world
