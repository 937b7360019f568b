"""Did anything fail for good? At the end of a run, every dead-letter queue of the deployed stack is
looked at (a queue's redrive target, the ledger stream's OnFailure destination, the schedules' DLQs,
the importer's asynchronous-invocation DLQ), with the events the runner gave up on where no DLQ was
configured. Only what remains counts: a message redriven to completion is no longer in its DLQ."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from .runner import Stats
from .stack import Deployed


class DeadLetterQueue(NamedTuple):
    logical: str  # the DLQ's logical id in template.yaml
    function: str  # the function whose failures end there
    what: str  # what such a message is, in words


def _target(ref: Any) -> str | None:
    if isinstance(ref, dict) and "Fn::GetAtt" in ref:
        return str(ref["Fn::GetAtt"][0])
    return None


def dead_letter_queues(dep: Deployed) -> list[DeadLetterQueue]:
    resources = dep.cfn["Resources"]
    consumer = {}  # source queue -> the function it feeds
    out = []
    for res in dep.taken_out.values():
        p = res["Properties"]
        if res["Type"] == "AWS::Lambda::EventSourceMapping":
            fn = p["FunctionName"]["Ref"]
            source = _target(p["EventSourceArn"])
            if source and resources[source]["Type"] == "AWS::SQS::Queue":
                consumer[source] = fn
            dlq = _target(p.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination"))
            if dlq:
                out.append(
                    DeadLetterQueue(
                        dlq, fn, f"failed batch(es) of the {source} stream exhausted their retries and are in"
                    )
                )
        elif res["Type"] == "AWS::Scheduler::Schedule":
            dlq = _target(p["Target"].get("DeadLetterConfig", {}).get("Arn"))
            if dlq:
                fn = str(_target(p["Target"]["Arn"]))
                out.append(DeadLetterQueue(dlq, fn, "scheduled invocation(s) failed after the last retry and are in"))
    for name, res in resources.items():
        p = res.get("Properties", {})
        if res["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in p:
            dlq = _target(p["RedrivePolicy"].get("deadLetterTargetArn"))
            times = p["RedrivePolicy"].get("maxReceiveCount")
            if dlq:
                fn = consumer.get(name, "(no consumer)")
                out.append(DeadLetterQueue(dlq, fn, f"message(s) of {name} failed {times} receives and are in"))
        elif res["Type"] == "AWS::Lambda::Function":
            dlq = _target(p.get("DeadLetterConfig", {}).get("TargetArn"))
            if dlq:
                out.append(DeadLetterQueue(dlq, name, "event(s) failed the invocation and its two retries and are in"))
    return sorted(out)


def queue_depth(url: str) -> int:
    from arrears.adapters.clients import client

    attrs = client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return sum(int(v) for v in attrs.values())


def problems(dep: Deployed, stats: Stats, log: str, depth: Callable[[str], int] = queue_depth) -> list[str]:
    """One line per failure that remains: which function, how many, where to look."""
    lines = []
    for q in dead_letter_queues(dep):
        url = dep.physical[q.logical]
        n = depth(url)
        if n:
            lines.append(f"error: {q.function}: {n} {q.what} {q.logical} ({url.rsplit('/', 1)[-1]}); see {log}")
    for fn, n in sorted(stats.lost.items()):
        if n:
            lines.append(f"error: {fn}: {n} event(s) failed after the last retry and had no DLQ; see {log}")
    return lines
