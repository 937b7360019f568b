"""The hostile corpus through the deployed importer: every file gets the verdicts it must, the tables
hold exactly what was accepted, and nothing ends in the import DLQ."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.hostile.generate import BASE, CORPUS, cases

pytestmark = pytest.mark.integration


def test_corpus_on_disk_is_what_the_script_makes():
    for case in cases():
        assert (CORPUS / case.key).read_bytes() == case.body, f"run python tests/hostile/generate.py ({case.key})"


def _report(stack, key: str) -> dict:
    from arrears.adapters.clients import client

    body = client("s3").get_object(Bucket=stack.imports_bucket, Key=key + ".rejects.json")["Body"].read()
    return json.loads(body)


def _item(stack, table: str, key: str, sk: str) -> dict | None:
    from arrears.adapters.clients import client

    hash_name = {"BorrowersTable": "borrower_id", "ContactsTable": "borrower_id"}.get(table, "loan_id")
    k = {hash_name: {"S": key}}
    if sk:
        k["entry"] = {"S": sk}
    return client("dynamodb").get_item(TableName=stack.dep.physical[table], Key=k, ConsistentRead=True).get("Item")


def test_hostile_files_are_decided_row_by_row_and_never_half_written(stack):
    from arrears.adapters.clients import client

    stack.runner.clock.now = datetime(2026, 3, 10, tzinfo=UTC)
    for key, text in BASE.items():
        stack.upload(key, text.encode())
        assert _report(stack, key)["rejected"] == 0, _report(stack, key)
    problems = []
    for case in cases():
        stack.upload(case.key, (CORPUS / case.key).read_bytes())
        r = _report(stack, case.key)
        got = {x["row"]: x["reason"] for x in r["rejects"]}
        if case.whole:
            if not r["rejected_whole"] or case.whole not in r["rejected_whole"]:
                problems.append(f"{case.key}: whole rejection {r['rejected_whole']!r}, expected {case.whole!r}")
        elif r["rejected_whole"]:
            problems.append(f"{case.key}: rejected whole: {r['rejected_whole']}")
        if r["accepted"] != case.accepted or set(got) != set(case.rejects):
            problems.append(f"{case.key}: accepted {r['accepted']} rejects {got}")
        problems += [
            f"{case.key} row {row}: {got.get(row)!r} lacks {words!r}"
            for row, words in case.rejects.items()
            if words not in (got.get(row) or "")
        ]
        lines = {x["row"]: x["line"] for x in r["rejects"]}
        problems += [
            f"{case.key} row {row}: line {lines.get(row)} not {line}"
            for row, line in case.lines.items()
            if lines.get(row) != line
        ]
        if case.warning and not any(case.warning in w for w in r.get("warnings", [])):
            problems.append(f"{case.key}: warnings {r.get('warnings')} lack {case.warning!r}")
        problems += [f"{case.key}: {t} {k} {s} missing" for t, k, s in case.present if not _item(stack, t, k, s)]
        problems += [f"{case.key}: {t} {k} {s} written" for t, k, s in case.absent if _item(stack, t, k, s)]
        for where, value in case.values.items():
            table, key, sk, attr = where.split("|")
            stored = (_item(stack, table, key, sk) or {}).get(attr, {}).get("S")
            if stored != value:
                problems.append(f"{case.key}: {where} is {stored!r}, not {value!r}")
    assert not problems, "\n".join(problems)
    dlq = stack.dep.physical["ImportFailuresDLQ"]
    attrs = client("sqs").get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
    assert attrs["Attributes"]["ApproximateNumberOfMessages"] == "0"
    assert not stack.runner.stats.errors.get("ImporterFunction"), stack.runner.stats.errors
    # the importer's own reports are not imported (no report of a report)
    listed = client("s3").list_objects_v2(Bucket=stack.imports_bucket)["Contents"]
    assert not [o["Key"] for o in listed if o["Key"].endswith(".rejects.json.rejects.json")]


def test_a_platform_re_import_never_lifts_a_borrower_opt_out_or_an_operator_hold(stack):
    from arrears.adapters import contact_ledger, store
    from arrears.adapters.models import BorrowerModel, ContactLedgerModel, LoanModel
    from arrears.domain.restrictions import effective
    from tests.hostile.generate import B_HEAD, I_HEAD, L_HEAD, _b

    stack.runner.clock.now = now = datetime(2026, 3, 10, tzinfo=UTC)
    stack._bound()
    stack.upload("borrowers/src.csv", (B_HEAD + _b("SB1").replace(",B,,\n", ",B,email,\n")).encode())
    stack.upload("loans/src.csv", (L_HEAD + "SL1,SB1,cash-3m,CNY,300.00,2026-02-01,paused\n").encode())
    stack.upload("installments/src.csv", (I_HEAD + "SL1,1,2026-03-01,100.00,5.00,0\n").encode())
    assert LoanModel.get("SL1", consistent_read=True).holds == {"paused"}

    contact_ledger.set_restriction("SB1", "opt_out", "sms", "borrower", True)  # a STOP reply
    store.place_hold("SL1", "dispute", "operator", True, now)  # an operator's dispute hold
    stack.runner.pump()
    assert LoanModel.get("SL1", consistent_read=True).holds == {"paused", "dispute"}

    # the platform re-sends both records without any opt-out or hold
    stack.upload("borrowers/src-again.csv", (B_HEAD + _b("SB1")).encode())
    stack.upload("loans/src-again.csv", (L_HEAD + "SL1,SB1,cash-3m,CNY,300.00,2026-02-01,\n").encode())
    assert LoanModel.get("SL1", consistent_read=True).holds == {"dispute"}  # only the platform's pause lifted
    borrower = BorrowerModel.get("SB1", consistent_read=True)
    others = contact_ledger.restrictions_of(ContactLedgerModel.get("SB1", consistent_read=True))
    assert effective(borrower.opt_out, others.names("opt_out")) == {"sms"}  # the platform's email lifted
    assert others.sources("opt_out", "sms") == {"borrower"}

    store.place_hold("SL1", "dispute", "operator", False, now)
    stack.runner.pump()
    assert not LoanModel.get("SL1", consistent_read=True).holds


def _facts(stack, kind: str) -> list[dict]:
    from arrears.adapters.clients import client

    s3 = client("s3")
    out = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=stack.outcomes_bucket, Prefix="facts/"):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=stack.outcomes_bucket, Key=obj["Key"])["Body"].read().decode()
            out += [f for f in map(json.loads, body.splitlines()) if f["fact_type"] == kind]
    return out


def test_one_loans_absurd_data_never_stops_the_stream_or_the_daily_run(stack):
    """Data that got past the importer (written before it was hardened, or by hand) is recorded with
    its reason by the stage it breaks, and the other loans go on."""
    from arrears.adapters.clients import client
    from arrears.adapters.models import LoanModel
    from tests.hostile.generate import B_HEAD, I_HEAD, L_HEAD, _b

    stack.runner.clock.now = datetime(2026, 3, 10, tzinfo=UTC)
    stack._bound()
    stack.upload("borrowers/poison.csv", (B_HEAD + _b("PB1") + _b("PB2")).encode())
    stack.upload("loans/poison.csv", (L_HEAD + "PL1,PB1,cash-3m,CNY,300,2026-02-01,\nPL2,PB2,cash-3m,CNY,300,2026-02-01,\n").encode())
    stack.upload("installments/poison.csv", (I_HEAD + "PL1,1,2026-03-01,100,0,0\nPL2,1,2026-03-01,100,0,0\n").encode())
    # a ledger entry no importer would accept, written straight into the table: the stream records it
    client("dynamodb").put_item(
        TableName=stack.dep.physical["LedgerTable"],
        Item={"loan_id": {"S": "PL1"}, "entry": {"S": "INST#0002"}, "seq": {"N": "2"}, "due_date": {"S": "soon"},
              "principal_due": {"N": "1"}, "interest_due": {"N": "0"}, "fee_due": {"N": "0"}},
    )
    stack.runner.pump()
    assert [f["loan_id"] for f in _facts(stack, "loan_failed")] == ["PL1"]
    # a loan state 739,706 days past due (a year-1 due date from before the hardening)
    poisoned = LoanModel.get("PL2", consistent_read=True)
    poisoned.unpaid = [[1, "0001-01-01", poisoned.unpaid[0][2]]]
    poisoned.next_due = "0001-01-01"
    poisoned.save()
    good = LoanModel.get("HL1", consistent_read=True)
    run_at = datetime(2026, 3, 11, 1, 0, tzinfo=UTC)
    stack.runner.clock.now = run_at
    stack.runner.schedule("DailyRunFunction").fire(run_at)
    stack.runner.pump()
    assert not stack.runner.stats.errors, stack.runner.stats.errors
    assert stack.runner.stats.dead_lettered == 0
    evaluated = {f["loan_id"]: f for f in _facts(stack, "loan_evaluated")}
    assert evaluated["PL2"]["dpd"] > 700_000  # evaluated, its expected recovery computed without overflow
    assert not (evaluated["PL2"]["reason"] or "").startswith("not planned"), evaluated["PL2"]["reason"]
    assert good.loan_id in evaluated
