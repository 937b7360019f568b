"""Redrive: everything that ended in a dead-letter queue is tried again, until the DLQs are empty.

What a DLQ message is decides how it is tried again, as an operator would in AWS (``dlqs.py`` reads
which DLQ is which from the template; ``arrears redrive`` does the same against a deployed stack):
- a queue's DLQ (shard work, a channel's actions): the messages go back to their source queue
  (SQS ``StartMessageMoveTask`` in AWS), where the function picks them up again;
- the ledger stream's OnFailure DLQ: the message names a batch of stream records by sequence numbers;
  those records are read from the stream again and given to the function;
- the importer's and the schedules' DLQs: the message is the event itself; the function is invoked
  with it again.
Every handler is idempotent, so a redriven message that had half-succeeded changes nothing twice.
"""

from __future__ import annotations

import json
from typing import Any

from .dlqs import dead_letter_queues
from .runner import ACCOUNT, REGION, LocalRunner


def _drain(url: str) -> list[Any]:
    from moto.sqs.models import sqs_backends

    backend = sqs_backends[ACCOUNT][REGION]
    queue = backend.get_queue(url.rsplit("/", 1)[1])
    messages = list(queue._messages)
    queue._messages.clear()
    return messages


def redrive(runner: LocalRunner, rounds: int = 10) -> dict[str, int]:
    """Redrive every DLQ until empty (or ``rounds`` passes). Returns the messages redriven per DLQ."""
    from arrears.adapters.clients import client

    dlqs = dead_letter_queues(runner.dep.cfn)
    streams = {s.stream_arn: s for s in runner.streams}
    done: dict[str, int] = {}
    for _ in range(rounds):
        moved = 0
        for logical, dlq in sorted(dlqs.items()):
            url = runner.dep.physical.get(logical)
            for m in _drain(url) if url else ():
                moved += 1
                done[logical] = done.get(logical, 0) + 1
                if dlq.kind == "queue":
                    client("sqs").send_message(QueueUrl=runner.dep.physical[dlq.source], MessageBody=m.body)
                elif dlq.kind == "stream":
                    info = json.loads(m.body)["DDBStreamBatchInfo"]
                    try:
                        streams[info["streamArn"]].replay(
                            int(info["startSequenceNumber"]), int(info["endSequenceNumber"]), runner.clock.now
                        )
                    except Exception:  # noqa: BLE001 - failed again: back into its DLQ
                        client("sqs").send_message(QueueUrl=url, MessageBody=m.body)
                else:
                    try:
                        runner.functions[dlq.function].invoke(json.loads(m.body))
                    except Exception:  # noqa: BLE001 - failed again: back into its DLQ
                        client("sqs").send_message(QueueUrl=url, MessageBody=m.body)
        runner.pump()
        if not moved:
            break
    return done
