"""``arrears redrive``: everything in a deployed stack's dead-letter queues tried again, until they are empty.

Which DLQ holds what comes from the stack's processed template (``dlqs.py``, the same reading as the
local stack's redrive), the physical names from its resources. Then, by kind:
- a queue's DLQ (shard work, a channel's actions): SQS moves the messages back to the source queue
  (``StartMessageMoveTask``), where the function picks them up again;
- the ledger stream's OnFailure DLQ: each message names a batch of stream records (shard, first and
  last sequence number, size); the records are read again from the stream, given to the function in
  the event Lambda would build, and the message is deleted only when every record was processed (no
  error, no ``batchItemFailures``). Records past the stream's 24-hour retention are lost: said so with
  their range, and the message stays;
- the importer's (S3 events, asynchronous invocation) and the schedules' DLQs: the message body is the
  event; the function is invoked with it synchronously and the message deleted when that succeeds.
What fails again stays in its DLQ, visible again at once. Every handler is idempotent, so redriving a
message whose work had half succeeded does nothing twice.

The AWS calls are small functions over boto3 clients; ``invoke`` is injected (tests run on moto, which
cannot run Lambda code here).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .dlqs import DeadLetterQueue, dead_letter_queues

#: SQS long poll of one receive: an empty answer then means the queue has nothing visible
WAIT_S = 1
#: how long a move task may run before the command stops waiting (the task goes on in AWS)
MOVE_WAIT_S = 900
MOVE_POLL_S = 5
#: empty GetRecords answers in a row after which the rest of a batch is taken to be gone
MAX_EMPTY_READS = 20


class CannotStart(Exception):
    """Nothing can be redriven: no region, or no such stack (one line for the operator)."""


@dataclass(frozen=True)
class Invocation:
    error: str | None  # None when the function returned; else FunctionError and the error's type
    payload: Any  # what it returned (a partial batch response for stream batches)


Invoke = Callable[[str, dict[str, Any]], Invocation]


@dataclass
class Clients:
    cfn: Any
    sqs: Any
    streams: Any
    lambda_: Any


def connect(region: str | None) -> Clients:
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(region_name=region)
    if not session.region_name:
        raise CannotStart("no AWS region: give --region or set AWS_REGION")
    # a synchronous invoke waits for the function (the importer may run 15 minutes); a re-sent invoke
    # (throttled, or no answer) is safe: every handler is idempotent
    long_call = Config(read_timeout=960, connect_timeout=10, retries={"mode": "standard", "max_attempts": 3})
    return Clients(
        session.client("cloudformation"),
        session.client("sqs"),
        session.client("dynamodbstreams"),
        session.client("lambda", config=long_call),
    )


# ----------------------------------------------------------------------------------------- stack


@dataclass
class Stack:
    name: str
    template: dict[str, Any]
    physical: dict[str, str]  # logical id -> physical id (a queue's URL, a function's name)

    def timeout_s(self, function: str) -> int:
        return int(self.template["Resources"][function].get("Properties", {}).get("Timeout", 3))


def load_stack(cfn: Any, name: str) -> Stack:
    from botocore.exceptions import ClientError

    try:
        body = cfn.get_template(StackName=name, TemplateStage="Processed")["TemplateBody"]
        pages = cfn.get_paginator("list_stack_resources").paginate(StackName=name)
        physical = {
            r["LogicalResourceId"]: r["PhysicalResourceId"]
            for page in pages
            for r in page["StackResourceSummaries"]
            if r.get("PhysicalResourceId")
        }
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") == "ValidationError" and "does not exist" in str(e):
            region = cfn.meta.region_name
            raise CannotStart(f"stack {name!r} does not exist in {region} (check --stack and --region)") from None
        raise
    return Stack(name, body if isinstance(body, dict) else _parse_template(body), physical)


def _parse_template(text: str) -> dict[str, Any]:
    try:
        return json.loads(text)  # type: ignore[no-any-return]
    except ValueError:
        from samtranslator.yaml_helper import yaml_parse

        return yaml_parse(text)  # type: ignore[no-any-return]


# -------------------------------------------------------------------------------------- results


@dataclass
class Result:
    dlq: DeadLetterQueue
    target: str  # where its messages go: the source queue or the function (logical id)
    found: int = 0  # messages in the DLQ when it was looked at
    done: int = 0  # moved back or processed, and deleted
    failed: int = 0  # tried and failed again (kept)
    left: int = 0  # still in the DLQ (failed, lost, in flight elsewhere, not moved)
    lost: list[str] = field(default_factory=list)  # one line per batch of records no longer in the stream
    notes: list[str] = field(default_factory=list)

    def line(self, dry_run: bool) -> str:
        head = f"{self.dlq.logical:<30} {self.dlq.kind:<6} -> {self.target:<22}"
        if dry_run:
            verb = {"queue": "move back to", "stream": "re-read and give to", "events": "invoke"}[self.dlq.kind]
            tail = f"{self.found} message(s): would {verb} {self.target}" if self.found else "empty"
        elif not self.found and not self.left:
            tail = "empty"
        else:
            done = "moved" if self.dlq.kind == "queue" else "processed"
            lost = f", lost {len(self.lost)}" if self.lost else ""
            tail = f"{done} {self.done}, failed {self.failed}{lost}, left {self.left}"
        return " ".join([head, tail, *(f"({n})" for n in self.notes)])


# ---------------------------------------------------------------------------------------- SQS


def queue_arn(sqs: Any, url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def queue_counts(sqs: Any, url: str) -> tuple[int, int]:
    """(visible or delayed, in flight) messages, as SQS approximates them."""
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesDelayed",
        "ApproximateNumberOfMessagesNotVisible",
    ]
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return int(a.get(names[0], 0)) + int(a.get(names[1], 0)), int(a.get(names[2], 0))


def receive(sqs: Any, url: str, visibility_s: int, most: int = 1) -> list[dict[str, Any]]:
    answer = sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=most,
        WaitTimeSeconds=WAIT_S,
        VisibilityTimeout=visibility_s,
        MessageAttributeNames=["All"],
    )
    return list(answer.get("Messages", []))


def receive_all(sqs: Any, url: str, visibility_s: int) -> Iterator[dict[str, Any]]:
    """Each message once (one at a time, hidden for ``visibility_s`` while it is worked on), until a
    long poll finds nothing visible."""
    while messages := receive(sqs, url, visibility_s):
        yield from messages


def delete(sqs: Any, url: str, message: dict[str, Any]) -> None:
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def release(sqs: Any, url: str, messages: list[dict[str, Any]]) -> None:
    """Kept messages visible again at once, for the alarm and the next redrive."""
    from botocore.exceptions import ClientError

    for m in messages:
        try:
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
        except ClientError:  # received again since (a stale receipt): it is visible or in someone's hands
            continue


def start_move(sqs: Any, dlq_arn: str, destination_arn: str) -> None:
    sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=destination_arn)


def latest_move(sqs: Any, dlq_arn: str) -> dict[str, Any]:
    results = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=1)["Results"]
    return dict(results[0]) if results else {"Status": "RUNNING"}  # most recent first: the one just started


def wait_for_move(sqs: Any, dlq_arn: str, sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    waited = 0.0
    while (task := latest_move(sqs, dlq_arn))["Status"] in ("RUNNING", "CANCELLING") and waited < MOVE_WAIT_S:
        sleep(MOVE_POLL_S)
        waited += MOVE_POLL_S
    return task


def move_by_hand(sqs: Any, dlq_url: str, source_url: str) -> tuple[int, int]:
    """Receive, send to the source queue, delete: what a move task does. Only for an endpoint without
    move tasks (moto, which the tests and the local stack run on, has no StartMessageMoveTask).
    Returns (moved, not moved)."""
    moved = 0
    while messages := receive(sqs, dlq_url, 60, most=10):
        entries = [
            {
                "Id": str(i),
                "MessageBody": m["Body"],
                **({"MessageAttributes": m["MessageAttributes"]} if m.get("MessageAttributes") else {}),
            }
            for i, m in enumerate(messages)
        ]
        sent = sqs.send_message_batch(QueueUrl=source_url, Entries=entries).get("Successful", [])
        done = [messages[int(s["Id"])] for s in sent]
        if done:
            sqs.delete_message_batch(
                QueueUrl=dlq_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        moved += len(done)
        if len(done) < len(messages):
            return moved, len(messages) - len(done)  # those stay (visible again after a minute)
    return moved, 0


def _move_back(sqs: Any, stack: Stack, result: Result, sleep: Callable[[float], None]) -> None:
    dlq_url, source_url = stack.physical[result.dlq.logical], stack.physical[result.dlq.source]
    dlq_arn = queue_arn(sqs, dlq_url)
    try:
        start_move(sqs, dlq_arn, queue_arn(sqs, source_url))
    except NotImplementedError:  # moto in-process: no message move tasks, the same move by hand
        result.done, result.left = move_by_hand(sqs, dlq_url, source_url)
        result.failed = result.left
        return
    task = wait_for_move(sqs, dlq_arn, sleep)
    result.done = int(task.get("ApproximateNumberOfMessagesMoved", 0))
    result.left = max(0, int(task.get("ApproximateNumberOfMessagesToMove", result.found)) - result.done)
    if task["Status"] in ("RUNNING", "CANCELLING"):
        result.notes.append(f"move task still {task['Status'].lower()} after {MOVE_WAIT_S}s: run again later")
        result.left = max(result.left, 1)
    elif task["Status"] != "COMPLETED":
        result.notes.append(f"move task {task['Status'].lower()}: {task.get('FailureReason', 'no reason given')}")
        result.failed = result.left = max(result.left, 1)


# -------------------------------------------------------------------------------- Lambda, streams


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):  # a binary attribute: Lambda's event holds it as base64 text
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"{type(value).__name__} is not JSON")


def lambda_invoker(lambda_client: Any) -> Invoke:
    """Invoke synchronously (RequestResponse); the result says whether the function failed."""

    def invoke(function: str, event: dict[str, Any]) -> Invocation:
        answer = lambda_client.invoke(
            FunctionName=function,
            InvocationType="RequestResponse",
            Payload=json.dumps(event, default=_json_default).encode(),
        )
        raw = answer["Payload"].read() if answer.get("Payload") is not None else b""
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = raw.decode(errors="replace")
        error = answer.get("FunctionError")
        if error:  # the error's type only: its message and trace are in the function's log
            kind = payload.get("errorType", "") if isinstance(payload, dict) else ""
            return Invocation(f"{error} {kind}".strip(), payload)
        return Invocation(None, payload)

    return invoke


class RecordsLost(Exception):
    """A batch's records are no longer (all) in the stream."""


def shard_iterator(streams: Any, stream_arn: str, shard_id: str, sequence_number: str) -> str:
    return str(
        streams.get_shard_iterator(
            StreamArn=stream_arn,
            ShardId=shard_id,
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            SequenceNumber=sequence_number,
        )["ShardIterator"]
    )


def read_records(streams: Any, info: dict[str, Any]) -> list[dict[str, Any]]:
    """The batch's stream records, from its first to its last sequence number, all of them or
    RecordsLost."""
    from botocore.exceptions import ClientError

    start, end = int(info["startSequenceNumber"]), int(info["endSequenceNumber"])
    records: list[dict[str, Any]] = []
    try:
        iterator: str | None = shard_iterator(streams, info["streamArn"], info["shardId"], info["startSequenceNumber"])
        empty = 0
        while iterator and empty < MAX_EMPTY_READS:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            iterator = page.get("NextShardIterator")
            seqs = [int(r["dynamodb"]["SequenceNumber"]) for r in page["Records"]]
            records += [r for r, s in zip(page["Records"], seqs, strict=True) if start <= s <= end]
            empty = 0 if seqs else empty + 1
            if seqs and max(seqs) >= end:
                break
    except ClientError as e:
        code = e.response.get("Error", {}).get("Code", "")
        if code in ("TrimmedDataAccessException", "ResourceNotFoundException"):
            raise RecordsLost(f"{code}: {e.response.get('Error', {}).get('Message', '')}".rstrip(": ")) from None
        raise
    expected = int(info.get("batchSize", 0)) or None
    seqs = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    if not seqs or seqs[0] != start or seqs[-1] != end or (expected is not None and len(seqs) != expected):
        raise RecordsLost(f"{len(seqs)} of {expected or 'the'} records still in the stream")
    return records


def stream_event(records: list[dict[str, Any]], stream_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda gives a function for these GetRecords records (as in events/ledger_stream_*.json)."""
    out = []
    for r in records:
        record = {
            "eventID": r["eventID"],
            "eventName": r["eventName"],
            "eventVersion": r.get("eventVersion", "1.1"),
            "eventSource": "aws:dynamodb",
            "awsRegion": r.get("awsRegion", region),
            "dynamodb": r["dynamodb"],
            "eventSourceARN": stream_arn,
        }
        if "userIdentity" in r:  # a TTL delete
            record["userIdentity"] = r["userIdentity"]
        out.append(record)
    # through JSON as Lambda sends it: ApproximateCreationDateTime (a datetime from boto3) becomes
    # epoch seconds, binary attributes base64 text
    return json.loads(json.dumps({"Records": out}, default=_json_default))  # type: ignore[no-any-return]


def _failures(payload: Any) -> list[str]:
    if isinstance(payload, dict) and isinstance(payload.get("batchItemFailures"), list):
        return [str(f.get("itemIdentifier")) for f in payload["batchItemFailures"] if isinstance(f, dict)]
    return []


def _replay_batch(clients: Clients, function: str, invoke: Invoke, message: dict[str, Any]) -> str | None:
    """None when the batch was processed; else why not. RecordsLost when its records are gone."""
    info = json.loads(message["Body"])["DDBStreamBatchInfo"]
    records = read_records(clients.streams, info)
    outcome = invoke(function, stream_event(records, info["streamArn"], clients.sqs.meta.region_name))
    if outcome.error:
        return f"failed again ({outcome.error})"
    failed = _failures(outcome.payload)
    if failed:
        return f"{len(failed)} record(s) failed again, the first at {min(failed)}"
    return None


def _lost_line(dlq: DeadLetterQueue, message: dict[str, Any], why: str) -> str:
    info = json.loads(message["Body"])["DDBStreamBatchInfo"]
    return (
        f"LOST: {dlq.logical}: stream records {info['startSequenceNumber']}..{info['endSequenceNumber']} of shard "
        f"{info.get('shardId', '?')} ({info.get('batchSize', '?')} records) are no longer in the stream (past its "
        f"24-hour retention, or the stream was replaced): {why}; the message stays in the DLQ, apply these ledger "
        "changes again by hand"
    )


def _redrive_messages(clients: Clients, stack: Stack, result: Result, invoke: Invoke) -> None:
    """Stream batches and whole events, one message at a time: delete what is done, keep the rest
    (visible again at once when the DLQ has been gone through)."""
    url = stack.physical[result.dlq.logical]
    kept: list[dict[str, Any]] = []
    seen: set[str] = set()
    try:
        for message in receive_all(clients.sqs, url, stack.timeout_s(result.dlq.function) + 60):
            kept.append(message)
            if message["MessageId"] in seen:
                break  # a kept message visible again: everything was tried once
            seen.add(message["MessageId"])
            why = _try_message(clients, stack, result, invoke, message)
            if why is None:
                delete(clients.sqs, url, message)
                kept.pop()
                result.done += 1
            elif why != "lost":
                result.failed += 1
                if len(result.notes) < 3:
                    result.notes.append(why)
    finally:
        release(clients.sqs, url, kept)
        result.left += len({m["MessageId"] for m in kept})


def _try_message(clients: Clients, stack: Stack, result: Result, invoke: Invoke, message: dict[str, Any]) -> str | None:
    """None when the message's work is done; else why not ("lost" when its stream records are gone)."""
    from botocore.exceptions import ClientError

    function = stack.physical[result.dlq.function]
    try:
        if result.dlq.kind == "stream":
            return _replay_batch(clients, function, invoke, message)
        outcome = invoke(function, json.loads(message["Body"]))
        return f"failed again ({outcome.error})" if outcome.error else None
    except RecordsLost as e:
        result.lost.append(_lost_line(result.dlq, message, str(e)))
        return "lost"
    except ClientError as e:
        error = e.response.get("Error", {})
        return f"AWS refused ({error.get('Code', '?')})"
    except (ValueError, KeyError, TypeError) as e:  # not a message this DLQ's sender writes
        return f"unreadable message {message['MessageId']}: {type(e).__name__} {e}"


# ---------------------------------------------------------------------------------------- redrive


def redrive(
    stack: Stack,
    clients: Clients,
    invoke: Invoke,
    dry_run: bool = False,
    say: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Result]:
    """Every DLQ of the stack, one line each through ``say`` as it is done."""
    from botocore.exceptions import ClientError

    results = []
    for logical, dlq in sorted(dead_letter_queues(stack.template).items()):
        target = dlq.source if dlq.kind == "queue" else dlq.function
        result = Result(dlq, target)
        results.append(result)
        if logical not in stack.physical or target not in stack.physical:
            result.notes.append("not among the stack's resources")
            result.left = 1
            say(result.line(dry_run))
            continue
        try:
            visible, in_flight = queue_counts(clients.sqs, stack.physical[logical])
            result.found = visible + in_flight
            if dry_run:
                result.left = result.found
            elif visible and dlq.kind == "queue":
                _move_back(clients.sqs, stack, result, sleep)
            elif visible:
                _redrive_messages(clients, stack, result, invoke)
            if in_flight and not dry_run:
                result.left += in_flight
                result.notes.append(f"{in_flight} in flight, being read elsewhere: left alone")
        except ClientError as e:
            error = e.response.get("Error", {})
            result.notes.append(f"AWS refused ({error.get('Code', '?')}): {error.get('Message', '')}".rstrip(": "))
            result.left = max(result.left, result.found, 1)
        say(result.line(dry_run))
    return results


def problems(results: list[Result]) -> list[str]:
    """The lines that say what is not done: lost records, then what is left where."""
    out = [line for r in results for line in r.lost]
    left = [f"{r.dlq.logical} {r.left}" for r in results if r.left]
    if left:
        out.append(f"{sum(r.left for r in results)} message(s) left in dead-letter queues: {', '.join(left)}")
    return out
