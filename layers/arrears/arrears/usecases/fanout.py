"""The daily run's fan-out: one work item per shard on the work queue. Kept apart from the shard
evaluation so the scheduled function imports no table models (a smaller cold start)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, NamedTuple

from ..adapters.clients import client
from ..config import Settings
from ..domain.timeutil import iso
from ..observability import logger


class ShardWork(NamedTuple):
    run_at: datetime
    shard: str
    start_key: dict[str, Any] | None = None

    def body(self) -> str:
        return json.dumps({"run_at": iso(self.run_at), "shard": self.shard, "start_key": self.start_key})


class Dispatch(NamedTuple):
    """Every shard has planned: rank the whole run's proposals and dispatch them. With ``watch``, the
    fan-out's watch on the run: if the last shard never asks (a shard dead-lettered), it dispatches
    what arrived once the run's deadline has passed, naming the missing shards."""

    run_at: datetime
    watch: bool = False

    def body(self) -> str:
        return json.dumps({"dispatch": iso(self.run_at), **({"watch": True} if self.watch else {})})


#: how long the watch sleeps between looks at the run (SQS's longest message delay)
WATCH_DELAY_S = 900


def watch(settings: Settings, run: Dispatch) -> None:
    """Look at the run again in WATCH_DELAY_S seconds."""
    client("sqs").send_message(QueueUrl=settings.work_queue_url, MessageBody=run.body(), DelaySeconds=WATCH_DELAY_S)


def enqueue_work(settings: Settings, bodies: list[str], what: str) -> None:
    """Work items onto the work queue, ten a request (the shard workers take them)."""
    sqs = client("sqs")
    for i in range(0, len(bodies), 10):
        resp = sqs.send_message_batch(
            QueueUrl=settings.work_queue_url,
            Entries=[{"Id": str(n), "MessageBody": b} for n, b in enumerate(bodies[i : i + 10])],
        )
        if resp.get("Failed"):
            raise RuntimeError(f"could not enqueue {len(resp['Failed'])} {what}(s)")


def start_run(settings: Settings, run_at: datetime) -> int:
    """Enqueue one work item per shard (the fan-out). Returns the number of shards."""
    work = [ShardWork(run_at, f"{n:04d}") for n in range(settings.shard_count)]
    enqueue_work(settings, [w.body() for w in work], "shard work item")
    watch(settings, Dispatch(run_at, watch=True))
    logger.info("daily run started", extra={"run_at": iso(run_at), "shards": len(work)})
    return len(work)
