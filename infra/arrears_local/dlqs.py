"""Which dead-letter queue holds which failures, read from the CloudFormation template (SAM translated,
as CloudFormation's processed template holds it). One reading for the local stack (its redrive,
``redrive.py``, and what a run leaves failed, ``health.py``) and a deployed stack's redrive
(``redrive_aws.py``).

Three kinds, by what a DLQ message is:
- ``queue``: a queue's redrive policy put a message there after maxReceiveCount; it goes back to its
  ``source`` queue;
- ``stream``: an event source mapping's OnFailure destination got a batch description
  (``DDBStreamBatchInfo``: shard and sequence numbers) of the ``source`` table's stream; the records
  are read again and given to the ``function``;
- ``events``: the ``source`` function's asynchronous invocations (S3 notifications) or the ``source``
  schedule's dead-letter queue got the event itself; the ``function`` is invoked with it again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any, Literal

Kind = Literal["queue", "stream", "events"]


class AmbiguousDeadLetterQueue(ValueError):
    """One DLQ for two sources: a redrive could not tell where a message goes."""


@dataclass(frozen=True)
class DeadLetterQueue:
    logical: str  # the DLQ's logical id
    kind: Kind
    source: str  # queue: the source queue's logical id; stream: the table's; events: the function's or schedule's
    function: str  # the function whose failures end there ("" for a queue nothing consumes)
    max_receives: int | None = None  # queue: receives before a message moves to the DLQ


def _named(ref: Any) -> tuple[str, str] | None:
    """(logical id, attribute) of ``Fn::GetAtt`` (either form) or (logical id, "") of ``Ref``."""
    if not isinstance(ref, dict):
        return None
    if "Fn::GetAtt" in ref:
        att = ref["Fn::GetAtt"]
        logical, _, attr = ".".join(map(str, att)).partition(".") if isinstance(att, list) else str(att).partition(".")
        return logical, attr
    if "Ref" in ref:
        return str(ref["Ref"]), ""
    return None


def _logical(ref: Any) -> str:
    named = _named(ref)
    return named[0] if named else ""


def _found(name: str, res: dict[str, Any], consumers: dict[str, str]) -> tuple[Any, DeadLetterQueue] | None:
    """(reference to the DLQ, what it holds, but for its logical id) that resource ``name`` declares."""
    p = res.get("Properties", {})
    rtype = res.get("Type")
    if rtype == "AWS::SQS::Queue":
        policy = p.get("RedrivePolicy") or {}
        policy = json.loads(policy) if isinstance(policy, str) else policy
        receives = policy.get("maxReceiveCount")
        dlq = DeadLetterQueue("", "queue", name, consumers.get(name, ""), int(receives) if receives else None)
        return policy.get("deadLetterTargetArn"), dlq
    if rtype == "AWS::Lambda::Function":
        return p.get("DeadLetterConfig", {}).get("TargetArn"), DeadLetterQueue("", "events", name, name)
    if rtype == "AWS::Scheduler::Schedule":
        fn = _logical(p.get("Target", {}).get("Arn"))
        return p.get("Target", {}).get("DeadLetterConfig", {}).get("Arn"), DeadLetterQueue("", "events", name, fn)
    if rtype == "AWS::Lambda::EventSourceMapping":
        source = _named(p.get("EventSourceArn"))
        if source is None or source[1] != "StreamArn":
            return None  # only a DynamoDB stream's batches are described this way here
        fn = _logical(p.get("FunctionName"))
        destination = p.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        return destination, DeadLetterQueue("", "stream", source[0], fn)
    return None


def _consumers(resources: dict[str, Any]) -> dict[str, str]:
    """Queue logical id -> the function its event source mapping feeds."""
    out = {}
    for res in resources.values():
        if res.get("Type") == "AWS::Lambda::EventSourceMapping":
            source = _named(res["Properties"].get("EventSourceArn"))
            if source and resources.get(source[0], {}).get("Type") == "AWS::SQS::Queue":
                out[source[0]] = _logical(res["Properties"].get("FunctionName"))
    return out


def dead_letter_queues(template: dict[str, Any]) -> dict[str, DeadLetterQueue]:
    """Every SQS dead-letter queue of the template by logical id. A DLQ named by two sources cannot
    be redriven to the right one: that is refused (AmbiguousDeadLetterQueue)."""
    resources = template.get("Resources", {})
    consumers = _consumers(resources)
    out: dict[str, DeadLetterQueue] = {}
    for name, res in resources.items():
        found = _found(name, res, consumers)
        dlq = _logical(found[0]) if found else ""
        if found is None or not dlq or (found[1].kind != "queue" and not found[1].function):
            continue
        if resources.get(dlq, {}).get("Type") != "AWS::SQS::Queue":
            continue  # e.g. an SNS topic as the destination: nothing waits there to be redriven
        new = replace(found[1], logical=dlq)
        if out.setdefault(dlq, new) != new:
            raise AmbiguousDeadLetterQueue(
                f"{dlq} is the dead-letter queue of both {out[dlq].source} and {new.source}: "
                "give each its own, so a redrive knows where a message goes"
            )
    return out
