"""A shard that dead-letters no longer stalls the day's dispatch: the fan-out's watch dispatches what
arrived after the deadline, names the missing shard and counts it for the alarm."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import csv_bytes
from tests.integration.test_pipeline_on_moto import BORROWERS, INSTALLMENTS, LOANS

pytestmark = pytest.mark.integration


def _queue_depth(stack, logical: str) -> int:
    from arrears.adapters.clients import client

    attrs = client("sqs").get_queue_attributes(
        QueueUrl=stack.dep.physical[logical], AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attrs["Attributes"]["ApproximateNumberOfMessages"])


def test_a_dead_lettered_shard_is_dispatched_around_at_the_deadline(stack, monkeypatch):
    from arrears.adapters import runs
    from arrears.adapters.models import LoanModel
    from arrears.adapters.store import shard_of

    stack.upload("borrowers/b.csv", csv_bytes(BORROWERS))
    stack.upload("loans/l.csv", csv_bytes(LOANS))
    stack.upload("installments/i.csv", csv_bytes(INSTALLMENTS))
    stack._bound()
    broken = shard_of("IL1", 4)  # the shard of one loan fails every time: its work ends in the DLQ
    stack.runner.functions["ShardWorkerFunction"]._load()
    app = sys.modules["arrears_fn_ShardWorkerFunction"]
    real = app.run_shard

    def failing(settings, work, time_left):  # type: ignore[no-untyped-def]
        if work.shard == broken:
            raise RuntimeError("shard worker crashed")
        return real(settings, work, time_left)

    monkeypatch.setattr(app, "run_shard", failing)
    run_at = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    stack.runner.clock.now = run_at
    stack.runner.schedule("DailyRunFunction").fire(run_at)
    stack.runner.pump()
    assert _queue_depth(stack, "WorkDLQ") == 1
    assert runs.summary_of(run_at) is None  # the last shard never asked for the dispatch
    stack.wake_until(run_at + timedelta(minutes=119))
    assert runs.summary_of(run_at) is None  # still waiting for the shard before the deadline
    stack.wake_until(run_at + timedelta(minutes=136))
    summary = runs.summary_of(run_at)
    assert summary is not None and summary["shards_missing"] == [broken]
    others = [lid for lid in ("IL2", "IL3") if shard_of(lid, 4) != broken]
    assert others and all(LoanModel.get(lid, consistent_read=True).case_id for lid in others)
    log = (stack.out / "lambda.log").read_text()
    assert "run dispatched without every shard" in log and json.dumps(broken) in log
