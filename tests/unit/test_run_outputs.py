"""What `arrears run` tells its user, pure parts: repayments sent as the clock passes their paid_at
and their rejects named after the user's own file and rows; the dead-letter queues that make a run
fail; `arrears explain` for a loan that was evaluated but never worked."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from arrears_local.book import Book, Origin, RepaymentFeed
from arrears_local.rejects import collect, merge, remap, warning_line

T0 = datetime(2026, 4, 10, tzinfo=UTC)


def book_with(tmp_path: Path, files: dict[str, bytes]) -> Book:
    for name in ("borrowers.csv", "loans.csv", "installments.csv"):
        (tmp_path / name).write_text("x\n")
    for name, body in files.items():
        (tmp_path / name).write_bytes(body)
    return Book.load(tmp_path)


CSV = (
    "payment_id,loan_id,paid_at,amount\n"
    "P1,L1,2026-04-12T10:00:00+08:00,1.00\n"  # row 1
    "\n"  # a blank line is not a row
    'P2,L1,"2026-04-09T10:00:00+08:00",2.00\n'  # row 2: paid first
    "P3,L1,yesterday,3.00\n"  # row 3: unreadable paid_at, sent at once
    'P4,L1,2026-04-11T10:00:00Z,"4\n.00"\n'  # row 4, spanning lines 6-7
    "P5,L1,2026-04-11T11:00:00Z,5.00\n"  # row 5, line 8
)


def test_repayments_go_out_as_the_clock_passes_them_and_map_back_to_the_users_rows(tmp_path):
    feed = RepaymentFeed(book_with(tmp_path, {"repayments.csv": CSV.encode()}))
    [now] = feed.at_once()
    assert now.key == "repayments/repayments.unreadable.csv" and now.origin == Origin(
        "repayments/repayments.csv", (3,), (5,)
    )
    assert now.body.decode().splitlines() == ["payment_id,loan_id,paid_at,amount", "P3,L1,yesterday,3.00"]
    assert feed.pending() == 4 and feed.next_at() == datetime(2026, 4, 9, 2, tzinfo=UTC)
    [first] = feed.until(datetime(2026, 4, 11, 10, 30, tzinfo=UTC), "s1")
    assert first.origin.rows == (2, 4) and first.origin.lines == (4, 6)
    assert first.key == "repayments/repayments.s1.csv"
    assert '"4\n.00"' in first.body.decode()  # the record as it was, quoted newline and all
    assert feed.latest_by(datetime(2026, 5, 1, tzinfo=UTC)) == datetime(2026, 4, 12, 2, tzinfo=UTC)
    [rest] = feed.until(datetime(2026, 5, 1, tzinfo=UTC), "s1")
    assert rest.key == "repayments/repayments.s1-2.csv" and rest.origin.rows == (5, 1)
    assert feed.until(datetime(2027, 1, 1, tzinfo=UTC), "s2") == [] and feed.pending() == 0


def test_json_lines_rows_count_as_the_importer_counts_them(tmp_path):
    body = b'{"payment_id":"J1","paid_at":"2026-04-11T00:00:00Z"}\n\n{broken\n{"payment_id":"J2","paid_at":"2026-04-10T00:00:00Z"}\n'
    feed = RepaymentFeed(book_with(tmp_path, {"repayments.jsonl": body}))
    [now] = feed.at_once()
    assert now.origin.rows == (2,) and now.origin.lines == (3,) and now.body == b"{broken\n"
    [later] = feed.until(datetime(2026, 5, 1, tzinfo=UTC), "s")
    assert later.origin.rows == (3, 1) and later.origin.lines == (4, 1)


@pytest.mark.parametrize(
    "body",
    [
        "payment_id,loan_id,paid_at,amount\nP1,L1,2026-04-1".encode("utf-16"),  # not UTF-8
        b'payment_id,loan_id,paid_at,amount\nP1,L1,"2026-04-11T00:00:00Z,1.00\n',  # a quote never closed
        b"payment_id,loan_id,amount\nP1,L1,1.00\n",  # no paid_at to wait for
    ],
)
def test_a_file_that_cannot_be_split_is_sent_whole_for_the_importer_to_judge(tmp_path, body):
    [whole] = RepaymentFeed(book_with(tmp_path, {"repayments.csv": body})).at_once()
    assert whole.key == "repayments/repayments.csv" and whole.body == body and whole.origin.rows is None


def test_reports_of_the_pieces_become_one_report_of_the_users_file():
    a = Origin("repayments/r.csv", (7, 2), (8, 3))
    b = Origin("repayments/r.csv", (5,), (6,))
    parts = [
        (
            "repayments/r.s1.csv",
            a,
            {
                "key": "repayments/r.s1.csv",
                "kind": "repayments",
                "rows": 2,
                "accepted": 1,
                "rejected": 1,
                "rejected_whole": None,
                "warnings": ["unknown column 'note'"],
                "rejects": [{"row": 2, "line": 3, "reason": "duplicate of row 1 in this file"}],
            },
        ),
        (
            "repayments/r.s2.csv",
            b,
            {
                "rows": 1,
                "accepted": 0,
                "rejected": 1,
                "rejected_whole": None,
                "warnings": ["unknown column 'note'"],
                "rejects": [{"row": 1, "line": 2, "reason": "amount: bad"}],
            },
        ),
        ("repayments/r.s3.csv", b, None),
    ]
    merged = merge("repayments/r.csv", parts)
    assert merged["key"] == "repayments/r.csv" and merged["kind"] == "repayments"
    assert (merged["rows"], merged["accepted"], merged["rejected"]) == (3, 1, 2)
    assert merged["warnings"] == ["unknown column 'note'"]
    assert merged["rejects"] == [
        {"row": 2, "line": 3, "reason": "duplicate of row 7 in this file"},
        {"row": 5, "line": 6, "reason": "amount: bad"},
    ]
    assert merged["no_report_for"] == ["repayments/r.s3.csv"]
    assert merged["sent_as"] == ["repayments/r.s1.csv", "repayments/r.s2.csv", "repayments/r.s3.csv"]
    assert remap({"row": 4, "reason": "x"}, Origin("loans/l.csv")) == {"row": 4, "reason": "x"}


def test_one_warning_line_with_the_counts():
    reports = collect(
        {"loans/l.csv": Origin("loans/l.csv"), "borrowers/b.csv": Origin("borrowers/b.csv")},
        lambda key: {
            "loans/l.csv.rejects.json": {"rows": 10, "accepted": 8, "rejected": 2, "rejected_whole": None},
            "borrowers/b.csv.rejects.json": {"rows": 0, "accepted": 0, "rejected": 0, "rejected_whole": "not UTF-8"},
        }[key],
    )
    assert warning_line(reports, "out/imports/") == (
        "warning: 2 of 10 rows rejected (l.csv 2); 1 file(s) rejected whole (b.csv); reports in out/imports/"
    )
    clean = {"loans/l.csv": {"rows": 3, "accepted": 3, "rejected": 0, "rejected_whole": None}}
    assert warning_line(clean, "out/imports/") is None


# --------------------------------------------------------------------------- dead-letter queues


@pytest.fixture(scope="module")
def deployed_shape():
    """The translated template as the runner sees it (nothing deployed: names are the logical ids)."""
    from arrears_local.stack import TAKEN_OUT, Deployed, load_template, translate

    cfn, code_dirs = translate(load_template())
    taken = {n: r for n, r in cfn["Resources"].items() if r["Type"] in TAKEN_OUT}
    return Deployed(cfn, {}, {n: f"phys-{n}" for n in cfn["Resources"]}, code_dirs, taken)


def test_every_dead_letter_queue_of_the_stack_is_watched(deployed_shape):
    from arrears_local.health import dead_letter_queues

    found = {q.logical: q.function for q in dead_letter_queues(deployed_shape)}
    assert found["WorkDLQ"] == "ShardWorkerFunction"
    assert found["SmsDLQ"] == "SmsSenderFunction" and found["LetterDLQ"] == "LetterSenderFunction"
    assert found["LedgerEventsDLQ"] == "LedgerEventsFunction"
    assert found["ImportFailuresDLQ"] == "ImporterFunction"
    assert found["DailyRunFunctionDailyQueue"] == "DailyRunFunction"
    assert found["DailyReportFunctionDailyQueue"] == "DailyReportFunction"
    redrive_targets = {
        r["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for r in deployed_shape.cfn["Resources"].values()
        if r["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in r["Properties"]
    }
    assert redrive_targets <= set(found)


def test_what_remains_in_a_dlq_or_was_lost_is_one_line_each(deployed_shape):
    from arrears_local.health import problems
    from arrears_local.runner import Stats

    depth = {"phys-WorkDLQ": 2}
    lines = problems(
        deployed_shape, Stats(lost={"DailyReportFunction": 1}), "out/lambda.log", lambda u: depth.get(u, 0)
    )
    assert lines == [
        "error: ShardWorkerFunction: 2 message(s) of WorkQueue failed 3 receives and are in WorkDLQ (phys-WorkDLQ); "
        "see out/lambda.log",
        "error: DailyReportFunction: 1 event(s) failed after the last retry and had no DLQ; see out/lambda.log",
    ]
    assert problems(deployed_shape, Stats(), "out/lambda.log", lambda u: 0) == []


# --------------------------------------------------------------------------- planning and explain


def test_planning_says_per_loan_what_it_decided():
    from arrears.domain.planning import plan_loans
    from tests.unit.test_planning import CN, NOW, cand

    plan = plan_loans(
        {"CN": CN}, [cand(1, holds=("dispute",)), cand(2, jurisdiction="SG"), cand(3, bucket="M9"), cand(4)], NOW
    )
    assert plan.outcome["L1"] == "held at planning: dispute hold on the loan"
    assert plan.outcome["L2"] == "no strategy for jurisdiction SG"
    assert plan.outcome["L3"] == "no segment of cn-default v1 champion matches M9 at DPD 5, risk 0.2052"
    assert plan.outcome["L4"].startswith("proposed m1-sms (cn-default v1 champion, segment m1-reminders)")


def fact(kind: str, at: str, **kw: object) -> dict[str, object]:
    return {"fact_id": f"{kind}{at}{kw.get('action_id')}", "fact_type": kind, "occurred_at": at, "loan_id": "L1"} | {
        "borrower_id": "B1",
        "currency": "CNY",
        **kw,
    }


RUN1, RUN2, RUN3 = "2026-04-10T01:00:00Z", "2026-04-11T01:00:00Z", "2026-04-12T01:00:00Z"
NEVER_WORKED = [
    fact("loan_evaluated", RUN2, bucket="M1", dpd=2, amount_minor=10000, reason="held at planning: dispute hold"),
    fact("case_opened", "2026-04-09T16:00:00Z", case_id="L1#c"),
    fact("loan_evaluated", RUN1, bucket="M1", dpd=1, amount_minor=10000, reason="held at planning: dispute hold"),
    fact(
        "action_deferred",
        RUN3,
        action_id="a1",
        channel="voice",
        reason="capacity: voice capacity of 25 a day taken",
    ),
    fact("loan_evaluated", RUN3, bucket="M1", dpd=3, amount_minor=10000, reason="proposed m1-call (cn-default v1)"),
    fact("promise_made", "2026-04-12T05:00:00Z", reason="promised 100.00 CNY by 2026-04-14"),
    fact("loan_evaluated", "2026-04-13T01:00:00Z", bucket="M1", dpd=4, amount_minor=10000, reason="proposed m1-call"),
]


def test_explain_a_loan_that_was_evaluated_but_never_worked():
    from arrears_local.explain import explain

    runs = {r: {"run_at": r} for r in (RUN1, RUN2, RUN3)}  # the run of 04-13 was never dispatched
    lines = explain(NEVER_WORKED, "L1", {"B1": "Asia/Shanghai"}, runs)
    assert lines[0] == "loan L1  borrower B1  (times: UTC, then local in Asia/Shanghai)"
    body = lines[1:-1]
    assert [line.split()[0] for line in body] == sorted(line.split()[0] for line in body)  # time order
    assert body[0].split()[:4] == ["2026-04-09T16:00:00Z", "2026-04-10", "00:00", "case"]  # local time beside UTC
    assert "evaluated      M1 DPD 1, 100.00 CNY overdue: held at planning: dispute hold" in body[1]
    assert "deferred       action a1 voice capacity: voice capacity of 25" in body[4]
    assert "promise        promised 100.00 CNY by 2026-04-14" in body[5]
    assert "the run was never dispatched (a shard or the dispatcher failed): see WorkDLQ" in body[6]
    assert lines[-1] == (
        "no contact sent: evaluated 4 time(s) from 2026-04-10 to 2026-04-13: held at planning: dispute hold x2, "
        "the run was never dispatched x1, action deferred (capacity) x1"
    )


def test_explain_a_loan_whose_shard_failed():
    """The fan-out's watch dispatches a run without a shard that failed for good (shards_missing):
    the loan's evaluation went nowhere, or the shard failed before evaluating it at all."""
    from arrears.adapters.store import shard_of
    from arrears_local.explain import explain

    mine, other = shard_of("L1", 4), next(s for s in ("0000", "0001", "0002", "0003") if s != shard_of("L1", 4))
    runs = {
        RUN1: {"run_at": RUN1, "shards_missing": [mine]},  # evaluated, then the shard failed
        RUN2: {"run_at": RUN2, "shards_missing": [mine]},  # failed before evaluating: no fact at all
        RUN3: {"run_at": RUN3, "shards_missing": [other]},  # another shard: not this loan's trouble
    }
    facts = [
        fact("case_opened", "2026-04-09T16:00:00Z", case_id="L1#c"),
        fact("loan_evaluated", RUN1, bucket="M1", dpd=1, amount_minor=100, reason="proposed m1-sms"),
        fact("loan_evaluated", RUN3, bucket="M1", dpd=3, amount_minor=100, reason="nothing due today"),
    ]
    lines = explain(facts, "L1", None, runs, shard_count=4)
    assert f"the run was dispatched without its shard {mine}, which failed: see WorkDLQ" in lines[2]
    assert lines[3] == f"  {RUN2}  not evaluated  its shard {mine} failed in this run: see WorkDLQ and lambda.log"
    assert lines[4].endswith("overdue: nothing due today")
    assert lines[-1] == (
        "no contact sent: evaluated 2 time(s) from 2026-04-10 to 2026-04-12: the run was dispatched without its "
        f"shard {mine} x1, nothing due today x1, not evaluated: its shard {mine} failed x1"
    )


def test_explain_an_action_keeps_its_timeline(tmp_path):
    from arrears_local.explain import explain, runs_in, shard_count_in, zones_in

    lines = explain(NEVER_WORKED, "a1")
    assert lines[0].startswith("action a1  loan L1") and lines[0].endswith("(times in UTC)")
    assert lines[1] == f"  {RUN3}  deferred    capacity: voice capacity of 25 a day taken"
    assert explain(NEVER_WORKED, "nobody") == []
    assert zones_in(tmp_path) == {} and runs_in(tmp_path) is None and shard_count_in(tmp_path) is None
    (tmp_path / "runs" / "dt=2026-04-10").mkdir(parents=True)
    (tmp_path / "runs" / "dt=2026-04-10" / "run-x.json").write_text(json.dumps({"run_at": RUN1}))
    (tmp_path / "summary.json").write_text(json.dumps({"params": {"ShardCount": "4"}}))
    assert runs_in(tmp_path) == {RUN1: {"run_at": RUN1}} and shard_count_in(tmp_path) == 4
