"""`arrears run` is loud about what went wrong: rejected rows are one warning line (exit 0, or 1 with
--strict) and reports named after the user's own files and rows; a handler that fails for good
(its message in a DLQ) fails the run with a line naming the function, the queue and the log."""

from __future__ import annotations

import json
import re

import pytest

from arrears_local.cli import main

pytestmark = pytest.mark.e2e
DAY = ["--days", "1", "--start", "2026-04-10", "--param", "ShardCount=1"]


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    """30 borrowers with a few loans overdue on 2026-04-10, one bad loan and two bad repayments."""
    from arrears_local.book import synthetic_book

    folder = synthetic_book(tmp_path_factory.mktemp("exit") / "book", borrowers=30, seed=7)
    with open(folder / "loans.csv", "a", encoding="utf-8") as f:
        f.write("LBAD,B999999,cash-3m,CNY,100.00,2026-03-01\n")
    with open(folder / "repayments.csv", "a", encoding="utf-8") as f:
        f.write("PBAD1,L0000010,2026-04-10T10:00:00+08:00,abc\n")  # sent with the day's repayments
        f.write("PBAD2,L0000010,2026-06-01T10:00:00+08:00,1.00\n")  # paid after the run: never sent
    rows = len((folder / "repayments.csv").read_text(encoding="utf-8").splitlines()) - 1  # header excluded
    return folder, rows


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_rejected_rows_are_one_warning_line_and_strict_makes_them_fail(book, tmp_path, capsys):
    folder, rows = book
    out = tmp_path / "out"
    code, _, err = run(["run", "--book", str(folder), "--out", str(out), *DAY], capsys)
    assert code == 0, err
    [line] = [x for x in err.splitlines() if x.startswith(("warning:", "error:"))]  # ours, not a library's
    assert re.fullmatch(
        rf"warning: 2 of \d+ rows rejected \(loans.csv 1, repayments.csv 1\); reports in {re.escape(str(out))}/imports/",
        line,
    ), line
    report = json.loads((out / "imports" / "repayments" / "repayments.csv.rejects.json").read_text())
    assert report["key"] == "repayments/repayments.csv" and report["not_sent"] > 0  # paid after the day
    assert [(r["row"], r["reason"].split(":")[0]) for r in report["rejects"]] == [(rows - 1, "amount")]
    loans = json.loads((out / "imports" / "loans" / "loans.csv.rejects.json").read_text())
    assert [r["row"] for r in loans["rejects"]] == [35] and loans["rows"] == 35
    assert (out / "lambda.log").stat().st_size > 0

    code, _, err = run(["run", "--book", str(folder), "--out", str(out), "--strict", *DAY], capsys)
    assert code == 1 and "warning: 2 of" in err


def test_a_handler_that_fails_for_good_fails_the_run(book, tmp_path, monkeypatch, capsys):
    from arrears.adapters import runs
    from arrears_local.explain import facts_in

    def broken(*_a: object, **_k: object) -> str:
        raise RuntimeError("injected: the shard's proposals cannot be written")

    monkeypatch.setattr(runs, "write_part", broken)
    out = tmp_path / "out"
    out.mkdir()
    (out / "lambda.log").write_text("an earlier run's log\n")
    code, _, err = run(["run", "--book", str(book[0]), "--out", str(out), *DAY], capsys)
    assert code == 1
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and re.fullmatch(
        rf"error: ShardWorkerFunction: 1 message\(s\) of WorkQueue failed 3 receives and are in WorkDLQ "
        rf"\(arrears-local-WorkDLQ-\w+\); see {re.escape(str(out))}/lambda.log",
        errors[0],
    ), errors
    log = (out / "lambda.log").read_text()
    assert "an earlier run's log" not in log and "injected: the shard's proposals" in log

    evaluated = next(f for f in facts_in(out / "outcomes" / "facts") if f["fact_type"] == "loan_evaluated")
    code, text, _ = run(["explain", evaluated["loan_id"], "--out", str(out)], capsys)
    assert code == 0 and "which failed: see WorkDLQ and lambda.log" in text  # dispatched late, without it
    assert (
        text.splitlines()[-1].startswith("no contact sent:") and "the run was dispatched without its shard 0000" in text
    )
