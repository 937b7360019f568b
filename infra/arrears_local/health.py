"""Did anything fail for good? At the end of a run, every dead-letter queue of the deployed stack is
looked at (a queue's redrive target, the ledger stream's OnFailure destination, the schedules' DLQs,
the importer's asynchronous-invocation DLQ), with the events the runner gave up on where no DLQ was
configured. Only what remains counts: a message redriven to completion is no longer in its DLQ."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from .dlqs import dead_letter_queues as template_dlqs
from .runner import Stats
from .stack import Deployed


class DeadLetterQueue(NamedTuple):
    logical: str  # the DLQ's logical id in template.yaml
    function: str  # the function whose failures end there
    what: str  # what such a message is, in words


def dead_letter_queues(dep: Deployed) -> list[DeadLetterQueue]:
    resources = dep.cfn["Resources"]
    out = []
    for q in template_dlqs(dep.cfn).values():
        if q.kind == "queue":
            what = f"message(s) of {q.source} failed {q.max_receives} receives and are in"
        elif q.kind == "stream":
            what = f"failed batch(es) of the {q.source} stream exhausted their retries and are in"
        elif resources[q.source]["Type"] == "AWS::Scheduler::Schedule":
            what = "scheduled invocation(s) failed after the last retry and are in"
        else:
            what = "event(s) failed the invocation and its two retries and are in"
        out.append(DeadLetterQueue(q.logical, q.function or "(no consumer)", what))
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
