"""End to end: `arrears run` with a world. A plug-in world from a file answers every contact; its
payments reach the stack through the signed webhook and cure loans, the dialer reports its call
results, the rest is recorded; a book without repayment files gets the default world; a world that
cannot be loaded is one line and exit 2."""

from __future__ import annotations

import json
import shutil
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from arrears_local.cli import main

pytestmark = pytest.mark.e2e
DAYS = ["--days", "8", "--start", "2026-04-08", "--param", "ShardCount=1"]

EAGER = '''
from datetime import timedelta
from arrears_local.world import CallResult, OptOut, Payment, Reply


class Eager:
    """Pays whatever a contact says is overdue an hour later; answers every call with a promise
    (kept); opts out of texts after the second; never pays unasked."""

    def start(self, book, seed):
        self.texts = {}

    def on_day(self, day):
        return []

    def on_contact(self, c):
        out = []
        if c.channel == "voice":
            out.append(CallResult(c.action_id, "promise"))
        if c.amount_overdue > 0:
            out.append(Payment(c.loan_id, c.amount_overdue, c.local_time + timedelta(hours=1)))
        if c.channel == "sms":
            self.texts[c.borrower_id] = self.texts.get(c.borrower_id, 0) + 1
            out.append(Reply(c.borrower_id, "sms", "ok"))
            if self.texts[c.borrower_id] == 2:
                out.append(OptOut(c.borrower_id, "sms"))
        return out
'''


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 borrowers, the book's repayment file left out (the world pays instead)."""
    from arrears_local.book import synthetic_book

    folder = synthetic_book(tmp_path_factory.mktemp("world") / "book", borrowers=40, seed=11)
    (folder / "repayments.csv").unlink()
    return folder


def _facts(out: Path) -> list[dict]:
    return [json.loads(line) for f in sorted((out / "outcomes" / "facts").rglob("*.json")) for line in f.read_text().splitlines() if line]


def test_a_plug_in_worlds_payments_arrive_through_the_webhook_and_cure(book, tmp_path, capsys):
    models = tmp_path / "eager.py"
    models.write_text(textwrap.dedent(EAGER))
    out = tmp_path / "out"
    code = main(["run", "--book", str(book), "--out", str(out), "--world", f"{models}:Eager", "--seed", "5", *DAYS])
    printed, err = capsys.readouterr()
    assert code == 0, err
    assert f"world: {models}:Eager (seed 5)" in printed
    summary = json.loads((out / "world.json").read_text())
    assert summary["refused"] == []
    facts = _facts(out)
    applied = [f for f in facts if f["fact_type"] == "repayment_applied" and str(f["payment_id"]).startswith("W5-")]
    assert summary["reactions"]["payment"] == len(applied) > 0
    events = [f for f in facts if f["fact_type"] == "platform_event" and f["reason"] == "POST /v1/repayments"]
    assert {f["payment_id"] for f in events} >= {f["payment_id"] for f in applied}  # each came through the API
    paid = {f["loan_id"] for f in applied}
    cured = {f["loan_id"] for f in facts if f["fact_type"] == "case_closed" and f["reason"] == "cured"}
    assert paid & cured  # whoever paid all that was overdue was cured
    calls = Counter(f["reason"] for f in facts if f["fact_type"] == "call_outcome")
    if summary["reactions"].get("call_promise"):
        assert set(calls) == {"promise"}  # the dialer reported the world's results
    assert summary["reactions"]["reply"] > 0 and summary["reactions"]["optout"] > 0
    lines = [json.loads(line) for line in (out / "world.jsonl").read_text().splitlines()]
    assert {e["kind"] for e in lines} >= {"payment", "reply", "optout"}
    assert all("text" not in e for e in lines)  # what borrowers wrote stays out of the record
    assert f"world {models}:Eager (seed 5): {len(applied)} payments" in printed


def test_a_worlds_payments_survive_faults(book, tmp_path, capsys):
    """Under injected faults a payment the API answers 503 is posted again, as a platform does: none
    is refused, every one applied once."""
    models = tmp_path / "eager.py"
    models.write_text(textwrap.dedent(EAGER))
    out = tmp_path / "out"
    argv = ["run", "--book", str(book), "--out", str(out), "--world", f"{models}:Eager", "--faults", "0.1", *DAYS]
    code = main(argv)
    _, err = capsys.readouterr()
    assert code == 0, err
    summary = json.loads((out / "world.json").read_text())
    assert summary["refused"] == []
    applied = Counter(f["payment_id"] for f in _facts(out) if f["fact_type"] == "repayment_applied")
    assert sum(1 for p in applied if p.startswith("W7-")) == summary["reactions"]["payment"] > 0
    assert max(applied.values()) == 1


def test_a_book_without_repayment_files_gets_the_default_world(book, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["run", "--book", str(book), "--out", str(out), "--days", "3", "--start", "2026-04-08", "--param", "ShardCount=1"])
    printed, err = capsys.readouterr()
    assert code == 0, err
    assert "world: default (seed 7)" in printed
    assert json.loads((out / "world.json").read_text())["world"] == "default"


def test_a_book_with_repayment_files_replays_them_unless_told(book, tmp_path, capsys):
    scripted = tmp_path / "book"
    shutil.copytree(book, scripted)
    (scripted / "repayments.csv").write_text("payment_id,loan_id,paid_at,amount\n")
    code = main(["run", "--book", str(scripted), "--out", str(tmp_path / "out"), "--days", "1", "--start", "2026-04-08"])
    printed, err = capsys.readouterr()
    assert code == 0, err
    assert "world: scripted" in printed and not (tmp_path / "out" / "world.json").exists()


def test_a_world_that_cannot_load_is_one_line(book, tmp_path, capsys):
    code = main(["run", "--book", str(book), "--out", str(tmp_path / "out"), "--world", "nosuch:World", *DAYS])
    _, err = capsys.readouterr()
    assert code == 2
    assert err.strip().count("\n") == 0 and "--world nosuch:World: cannot load nosuch" in err


FAILING = """
class Failing:
    def start(self, book, seed):
        self.calls = 0
    def on_day(self, day):
        return []
    def on_contact(self, c):
        raise ZeroDivisionError("a bug in the model")

class NoStart:
    def start(self, book, seed):
        raise KeyError("borrowers")
    def on_day(self, day):
        return []
    def on_contact(self, c):
        return []
"""


def test_a_world_that_fails_never_stops_the_stack_and_fails_the_run(book, tmp_path, capsys):
    models = tmp_path / "failing.py"
    models.write_text(textwrap.dedent(FAILING))
    out = tmp_path / "out"
    code = main(["run", "--book", str(book), "--out", str(out), "--world", f"{models}:Failing", *DAYS])
    printed, err = capsys.readouterr()
    assert code == 1 and "Traceback" not in err
    assert "the world's reactions refused:" in err and "failed: ZeroDivisionError: a bug in the model" in err
    facts = _facts(out)
    assert any(f["fact_type"] == "action_sent" for f in facts)  # the contacts went out all the same
    code = main(["run", "--book", str(book), "--out", str(tmp_path / "o2"), "--world", f"{models}:NoStart", *DAYS])
    _, err = capsys.readouterr()
    assert code == 1 and err.strip().count("\n") == 0 and "start() failed: KeyError" in err
