"""The local runner's stream poller: a dead-lettered batch, redriven later, reaches the function
stamped as when it was first delivered (as Lambda replays a record with its own
ApproximateCreationDateTime), not with the redrive's time or the emulator's wall clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from arrears_local.runner import Clock, Stats, StreamSource

pytestmark = pytest.mark.integration


class Recording:
    logical = "LedgerEventsFunction"

    def __init__(self) -> None:
        self.fail = True
        self.stamps: list[list[Any]] = []

    def invoke(self, event: dict) -> dict:
        self.stamps.append([r["dynamodb"]["ApproximateCreationDateTime"] for r in event["Records"]])
        if self.fail:
            raise RuntimeError("fails every time")
        return {"batchItemFailures": []}


def _ledger_stream(items: int, view: str) -> str:
    """A table with a stream (inside ``mock_aws``) and ``items`` items put; returns the stream's ARN."""
    ddb = boto3.client("dynamodb")
    arn = ddb.create_table(
        TableName="ledger",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": view},
    )["TableDescription"]["LatestStreamArn"]
    for i in range(items):
        ddb.put_item(TableName="ledger", Item={"pk": {"S": f"k{i}"}})
    return str(arn)


def test_a_redriven_stream_batch_keeps_the_instant_it_was_first_delivered(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        arn = _ledger_stream(3, "NEW_AND_OLD_IMAGES")
        fn = Recording()
        source = StreamSource(fn, arn, batch_size=10, max_retries=2, on_failure_url=None, stats=Stats())  # type: ignore[arg-type]
        first = datetime(2026, 3, 14, 1, 0, tzinfo=UTC)
        clock = Clock(first)
        while source.poll(clock):
            pass
        assert source.stats.dead_lettered == 3 and len(fn.stamps) == 3  # tried, retried twice, given up
        clock.now = first + timedelta(days=5)  # the redrive comes days later
        fn.fail = False
        start = int(min(source.stamps))
        source.replay(start, start + 2, clock.now)
        assert fn.stamps[-1] == [first.timestamp()] * 3


class BigBatchesFail:
    logical = "LedgerEventsFunction"

    def __init__(self) -> None:
        self.done: list[str] = []

    def invoke(self, event: dict) -> dict:
        if len(event["Records"]) > 2:
            raise RuntimeError("too much at once")
        self.done += [r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]]
        return {"batchItemFailures": []}


@pytest.mark.parametrize("bisect", [True, False])
def test_a_failing_batch_is_tried_again_in_halves_when_the_mapping_bisects(monkeypatch, bisect):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        arn = _ledger_stream(5, "NEW_IMAGE")
        fn = BigBatchesFail()
        source = StreamSource(fn, arn, 5, 2, None, Stats(), None, bisect)  # type: ignore[arg-type]
        clock = Clock(datetime(2026, 3, 14, 1, 0, tzinfo=UTC))
        while source.poll(clock):
            pass
        if bisect:
            assert (fn.done, source.stats.dead_lettered) == ([f"k{i}" for i in range(5)], 0)
        else:
            assert (fn.done, source.stats.lost) == ([], {"LedgerEventsFunction": 5})
