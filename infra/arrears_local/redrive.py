"""Redrive: everything that ended in a dead-letter queue is tried again, until the DLQs are empty.

What a DLQ message is decides how it is tried again, as an operator would in AWS:
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

from .runner import ACCOUNT, REGION, LocalRunner


def _source_queues(runner: LocalRunner) -> dict[str, str]:
    """DLQ logical id -> the logical id of the queue whose failures it holds."""
    out = {}
    for name, res in runner.dep.cfn["Resources"].items():
        policy = res.get("Properties", {}).get("RedrivePolicy") if res["Type"] == "AWS::SQS::Queue" else None
        target = (policy or {}).get("deadLetterTargetArn")
        if isinstance(target, dict) and "Fn::GetAtt" in target:
            out[target["Fn::GetAtt"][0]] = name
    return out


def _event_functions(runner: LocalRunner) -> dict[str, str]:
    """DLQ physical url -> the function whose whole events it holds (importer, schedules)."""
    out = {fn.dead_letter_url: name for name, fn in runner.functions.items() if fn.dead_letter_url}
    out.update({s.dead_letter_url: s.fn.logical for s in runner.schedules if s.dead_letter_url})
    return out


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

    sources, events = _source_queues(runner), _event_functions(runner)
    streams = {s.on_failure_url: s for s in runner.streams if s.on_failure_url}
    done: dict[str, int] = {}
    for _ in range(rounds):
        moved = 0
        for logical, url in sorted(runner.dep.physical.items()):
            if url not in streams and url not in events and logical not in sources:
                continue
            for m in _drain(url):
                moved += 1
                done[logical] = done.get(logical, 0) + 1
                if logical in sources:
                    client("sqs").send_message(QueueUrl=runner.dep.physical[sources[logical]], MessageBody=m.body)
                elif url in streams:
                    info = json.loads(m.body)["DDBStreamBatchInfo"]
                    streams[url].replay(int(info["startSequenceNumber"]), int(info["endSequenceNumber"]))
                else:
                    fn = runner.functions[events[url]]
                    try:
                        fn.invoke(json.loads(m.body))
                    except Exception:  # noqa: BLE001 - failed again: back into its DLQ
                        client("sqs").send_message(QueueUrl=url, MessageBody=m.body)
        runner.pump()
        if not moved:
            break
    return done
