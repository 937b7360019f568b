"""Deliver events to the real handlers in-process, shaped as AWS shapes them, on a simulated clock.

- SQS: batches up to the mapping's BatchSize, partial batch failures (ReportBatchItemFailures),
  failed messages become visible again and move to the DLQ after the queue's maxReceiveCount.
- DynamoDB streams: batches in order per shard, retried from the first failed record up to
  MaximumRetryAttempts, then a failure record goes to the OnFailure destination and the shard moves on.
- S3: new objects in a bucket with a notification configuration invoke the function (async
  semantics: two retries), filtered by the configured prefix/suffix rules.
- EventBridge Scheduler: cron schedules fire at their times in their time zone with their Input,
  ``<aws.scheduler.scheduled-time>`` filled in.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import logging
import os
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from moto.core.utils import unix_time_millis

from . import faults, filters, meter
from .stack import ACCOUNT, REGION, ROOT, Deployed, live_objects


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def epoch_ms(self) -> int:
        return int(self.now.timestamp() * 1000)


@dataclass
class FakeContext:
    function_name: str
    timeout_s: int
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class Stats:
    invocations: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # wall clock, by function
    # CPU seconds of the whole process while the function ran (process_time, not thread_time: in serve
    # mode the emulator answers on other threads of this process). Time other processes take is not
    # counted; other threads of this one are (an API request being parsed while a handler runs, with
    # the local API served; the bench serves none)
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    dead_lettered: int = 0
    lost: dict[str, int] = field(default_factory=dict)  # events given up on with no DLQ to keep them, by function


def dead_letter(url: str | None, payload: dict, stats: Stats, function: str) -> None:
    """Where AWS puts an event it gave up on (async invocation DLQ, schedule DLQ)."""
    stats.dead_lettered += 1
    if not url:
        stats.lost[function] = stats.lost.get(function, 0) + 1
    else:
        from arrears.adapters.clients import client

        client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps(payload, default=str))


class LocalFunction:
    dead_letter_url: str | None = None
    clock: Clock | None = None

    def __init__(
        self,
        logical: str,
        name: str,
        code_dir: Path,
        handler: str,
        timeout: int,
        memory: int,
        env: dict[str, str],
        log: io.TextIOBase,
        stats: Stats,
    ) -> None:
        self.logical, self.name, self.code_dir = logical, name, code_dir
        self.handler_spec, self.timeout, self.memory, self.env = handler, timeout, memory, env
        self.log, self.stats = log, stats
        self._fn: Callable[[dict, Any], Any] | None = None
        self.remote: Any = None  # a Workers pool that invokes it instead (LocalRunner.in_workers)

    def _load(self) -> Callable[[dict, Any], Any]:
        if self._fn is None:
            module_name, _, attr = self.handler_spec.rpartition(".")
            path = self.code_dir / f"{module_name}.py"
            spec = importlib.util.spec_from_file_location(f"arrears_fn_{self.logical}", path)
            assert spec and spec.loader
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
            self._fn = getattr(module, attr)
        return self._fn

    def invoke(self, event: dict) -> Any:
        if self.remote is not None:  # in worker processes (workers.py)
            return self.remote.invoke(event, self.clock.now if self.clock is not None else None)
        os.environ.update(self.env)
        if self.clock is not None:  # handlers that ask for the time get the simulated one
            os.environ["ARREARS_SIMULATED_NOW"] = self.clock.now.isoformat()
        fn = self._load()
        self.stats.invocations[self.logical] = self.stats.invocations.get(self.logical, 0) + 1
        ctx = FakeContext(self.name, self.timeout, self.memory)
        meter.current = self.logical
        started, cpu_started = time.monotonic(), time.process_time()
        try:
            with contextlib.redirect_stdout(self.log):
                return fn(event, ctx)
        except Exception:
            self.stats.errors[self.logical] = self.stats.errors.get(self.logical, 0) + 1
            import traceback

            self.log.write(f"[local-runner] {self.logical} failed:\n{traceback.format_exc()}\n")
            raise
        finally:
            meter.current = "runner"
            self.stats.seconds[self.logical] = self.stats.seconds.get(self.logical, 0.0) + time.monotonic() - started
            cpu = time.process_time() - cpu_started
            self.stats.cpu_seconds[self.logical] = self.stats.cpu_seconds.get(self.logical, 0.0) + cpu


def _failed_ids(result: Any) -> set[str] | None:
    if isinstance(result, dict) and "batchItemFailures" in result:
        return {f["itemIdentifier"] for f in result["batchItemFailures"]}
    return set()


class SqsSource:
    #: deliver every message twice in its batch (SQS is at-least-once; tests of idempotency use this)
    duplicate_deliveries = False

    def __init__(self, fn: LocalFunction, queue_url: str, arn: str, batch_size: int, partial: bool) -> None:
        self.fn, self.queue_url, self.arn, self.batch_size, self.partial = fn, queue_url, arn, batch_size, partial
        self.held: dict[str, tuple[Any, datetime]] = {}

    def poll(self, clock: Clock) -> int:
        """Receive, invoke, delete what succeeded, make the failures visible again. Reads the emulator's
        queue directly, as Lambda's poller would (moto's own receive: redrive to the DLQ after
        maxReceiveCount happens there), without an HTTP round trip per poll."""
        from moto.sqs.models import sqs_backends

        self.release(clock)
        backend = sqs_backends[ACCOUNT][REGION]
        name = self.queue_url.rsplit("/", 1)[1]
        queue = backend.get_queue(name)
        received_ms = unix_time_millis()  # what the queue's own visibility timeout counts from
        if not any(m.visible_at < received_ms and m.delayed_until <= received_ms for m in queue._messages):
            return 0  # nothing visible: what moto's receive would find, without its clock read per message
        messages = backend.receive_message(
            name,
            min(10, self.batch_size),
            0,
            int(getattr(queue, "visibility_timeout", 30)),
            message_attribute_names=["All"],
        )
        if not messages:
            return 0
        now_ms = str(clock.epoch_ms())
        records: list[dict[str, Any]] = [
            {
                "messageId": m.id,
                "receiptHandle": m.receipt_handle,
                "body": m.body,
                "attributes": {
                    "ApproximateReceiveCount": str(m.approximate_receive_count),
                    "SentTimestamp": now_ms,
                    "SenderId": m.sender_id,
                    "ApproximateFirstReceiveTimestamp": now_ms,
                },
                "messageAttributes": {},
                "md5OfBody": m.body_md5,
                "eventSource": "aws:sqs",
                "eventSourceARN": self.arn,
                "awsRegion": REGION,
            }
            for m in messages
        ]
        twice = self.duplicate_deliveries or faults.active is not None
        delivered = records + [{**r, "messageId": f"{r['messageId']}-again"} for r in records if twice]
        try:
            failed = _failed_ids(self.fn.invoke({"Records": delivered})) or set()
        except Exception:
            failed = {r["messageId"] for r in delivered}
        if faults.active is not None and faults.active.crash_after(self.fn.logical):
            failed = {r["messageId"] for r in delivered}  # crashed after its work, before acknowledging
        failed = {f.removesuffix("-again") for f in failed}
        for r in records:
            if r["messageId"] not in failed:
                backend.delete_message(name, r["receiptHandle"])
                continue
            message = next(m for m in queue._messages if m.had_receipt_handle(r["receiptHandle"]))
            hidden_ms = message.visible_at - unix_time_millis()
            default_ms = received_ms + 1000 * int(getattr(queue, "visibility_timeout", 30))
            if hidden_ms > 0 and abs(message.visible_at - default_ms) > 1500:
                # the handler hid it until later (a deferred contact): that later is simulated time
                # in whole seconds, as SQS sets it (the real milliseconds spent since are not simulated)
                self.held[message.id] = (message, clock.now + timedelta(seconds=round(hidden_ms / 1000)))
            else:  # visible again at once: the runner's retry delay is 0
                backend.change_message_visibility(name, r["receiptHandle"], 0)
        return len(records)

    def release(self, clock: Clock) -> None:
        """Messages hidden until a simulated time that has come become visible. A message sent with a
        delay (DelaySeconds, real time in moto) is held until that much simulated time has passed."""
        from moto.sqs.models import sqs_backends

        queue = sqs_backends[ACCOUNT][REGION].get_queue(self.queue_url.rsplit("/", 1)[1])
        real_ms = unix_time_millis()
        for m in queue._messages:
            if m.delayed_until > real_ms and m.id not in self.held:
                self.held[m.id] = (m, clock.now + timedelta(seconds=round((m.delayed_until - real_ms) / 1000)))
                m.delayed_until = float("inf")
        for message_id, (message, at) in list(self.held.items()):
            if at <= clock.now:
                message.visible_at = 0
                message.delayed_until = 0
                del self.held[message_id]


class StreamSource:
    def __init__(
        self,
        fn: LocalFunction,
        stream_arn: str,
        batch_size: int,
        max_retries: int,
        on_failure_url: str | None,
        stats: Stats,
        patterns: list[dict] | None = None,
        bisect: bool = False,
    ) -> None:
        self.fn, self.stream_arn, self.batch_size = fn, stream_arn, batch_size
        #: BisectBatchOnFunctionError: a batch whose function failed is tried again in halves
        self.bisect, self.limit = bisect, batch_size
        self.patterns = patterns or []  # the mapping's FilterCriteria: other records never reach the function
        self.max_retries, self.on_failure_url, self.stats = max_retries, on_failure_url, stats
        self.position: int | None = None
        self.pending: list[dict] = []
        self.attempts = 0
        #: when each dead-lettered record was first delivered: a redrive gives it again as it was
        #: (Lambda replays a stream record with its own ApproximateCreationDateTime, not the redrive's)
        self.stamps: dict[str, float] = {}

    def _fetch(self) -> None:
        """Read new records straight from the emulator's stream shard, the way Lambda's poller reads
        them (the records are the same dicts moto's GetRecords returns, without its HTTP round trip,
        which costs ~2 ms a record locally)."""
        from moto.dynamodb.models import dynamodb_backends

        table_name = self.stream_arn.split(":", 5)[5].split("/")[1]
        shard = dynamodb_backends[ACCOUNT][REGION].get_table(table_name).stream_shard
        assert shard is not None, f"table {table_name} has no stream"
        if self.position is None:
            self.position = shard.starting_sequence_number
        records = shard.get(self.position, 1000)
        self.position += len(records)
        self.pending.extend(r for r in records if filters.passes(self.patterns, r))

    def poll(self, clock: Clock) -> int:
        if len(self.pending) < self.batch_size:
            self._fetch()
        if not self.pending:
            return 0
        batch = self.pending[: self.limit]
        records = [
            {
                **r,
                "eventSourceARN": self.stream_arn,
                "awsRegion": REGION,
                "dynamodb": {**r["dynamodb"], "ApproximateCreationDateTime": clock.now.timestamp()},
            }
            for r in batch
        ]
        crashed = False
        try:
            failed = _failed_ids(self.fn.invoke({"Records": records}))
        except Exception:
            failed, crashed = {records[0]["dynamodb"]["SequenceNumber"]}, True
        if not failed and faults.active is not None and faults.active.crash_after(self.fn.logical):
            failed, crashed = {records[0]["dynamodb"]["SequenceNumber"]}, True  # the whole batch is retried
        if not failed:
            self.pending = self.pending[len(batch) :]
            self.attempts, self.limit = 0, self.batch_size
            return len(batch)
        if crashed and self.bisect:
            self.limit = max(1, len(batch) // 2)
        first = min((i for i, r in enumerate(records) if r["dynamodb"]["SequenceNumber"] in failed), default=0)
        self.pending = self.pending[first:]
        self.attempts += 1
        if self.attempts > self.max_retries:
            self._dead_letter(records[first:])
            self.pending = self.pending[len(records) - first :]
            self.attempts, self.limit = 0, self.batch_size
        return len(batch)

    def replay(self, start: int, end: int, at: datetime | None = None) -> None:
        """Give the function the stream records from ``start`` to ``end`` again (a redrive), each
        stamped as when it was first delivered (``at`` for one this runner never delivered): raises if
        it fails again."""
        from moto.dynamodb.models import dynamodb_backends

        table_name = self.stream_arn.split(":", 5)[5].split("/")[1]
        shard = dynamodb_backends[ACCOUNT][REGION].get_table(table_name).stream_shard
        assert shard is not None
        records = [
            r
            for r in shard.get(start, end - start + 1)
            if start <= int(r["dynamodb"]["SequenceNumber"]) <= end and filters.passes(self.patterns, r)
        ]
        for i in range(0, len(records), self.batch_size):
            batch = [
                {
                    **r,
                    "eventSourceARN": self.stream_arn,
                    "awsRegion": REGION,
                    "dynamodb": {**r["dynamodb"], "ApproximateCreationDateTime": self._stamp(r, at)},
                }
                for r in records[i : i + self.batch_size]
            ]
            if _failed_ids(self.fn.invoke({"Records": batch})):
                raise RuntimeError(f"{self.fn.logical} failed again on redriven stream records")

    def _stamp(self, record: dict, at: datetime | None) -> Any:
        seq = record["dynamodb"]["SequenceNumber"]
        if seq in self.stamps:
            return self.stamps[seq]
        return at.timestamp() if at is not None else record["dynamodb"]["ApproximateCreationDateTime"]

    def _dead_letter(self, records: list[dict]) -> None:
        from arrears.adapters.clients import client

        for r in records:
            self.stamps[r["dynamodb"]["SequenceNumber"]] = r["dynamodb"]["ApproximateCreationDateTime"]
        self.stats.dead_lettered += len(records)
        if not self.on_failure_url:
            self.stats.lost[self.fn.logical] = self.stats.lost.get(self.fn.logical, 0) + len(records)
        else:
            client("sqs").send_message(
                QueueUrl=self.on_failure_url,
                MessageBody=json.dumps(
                    {
                        "requestContext": {"condition": "RetryAttemptsExhausted"},
                        "DDBStreamBatchInfo": {
                            "streamArn": self.stream_arn,
                            "batchSize": len(records),
                            "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
                            "endSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"],
                        },
                    }
                ),
            )


class S3Source:
    def __init__(self, fn: LocalFunction, bucket: str, rules: list[tuple[str, str]]) -> None:
        self.fn, self.bucket, self.rules = fn, bucket, rules
        self.seen: dict[str, str] = {}

    def matches(self, key: str) -> bool:
        return all(key.startswith(v) if n == "prefix" else key.endswith(v) for n, v in self.rules)

    def poll(self, clock: Clock) -> int:
        """New or overwritten objects, read from the emulator's bucket the way S3 would notify them
        (listing the bucket over the API on every poll costs ~1 ms an object locally)."""
        from moto.s3.models import s3_backends

        bucket = s3_backends[ACCOUNT]["aws"].buckets[self.bucket]
        fresh = []
        for key, obj in live_objects(bucket):
            if self.seen.get(key) != obj.etag and self.matches(key):
                fresh.append({"Key": key, "ETag": obj.etag, "Size": obj.size})
            self.seen[key] = obj.etag
        for obj in fresh:
            event = {
                "Records": [
                    {
                        "eventVersion": "2.1",
                        "eventSource": "aws:s3",
                        "awsRegion": REGION,
                        "eventTime": clock.now.isoformat().replace("+00:00", "Z"),
                        "eventName": "ObjectCreated:Put",
                        "s3": {
                            "s3SchemaVersion": "1.0",
                            "bucket": {"name": self.bucket, "arn": f"arn:aws:s3:::{self.bucket}"},
                            "object": {"key": obj["Key"], "size": obj["Size"], "eTag": obj["ETag"].strip('"')},
                        },
                    }
                ]
            }
            for _attempt in range(3):  # asynchronous invocation: the first try and two retries
                try:
                    self.fn.invoke(event)
                    if faults.active is not None and faults.active.crash_after(self.fn.logical):
                        continue  # crashed after its work: Lambda retries the event
                    break
                except Exception:  # noqa: S112 - logged by invoke; AWS would retry the same way
                    continue
            else:
                dead_letter(self.fn.dead_letter_url, event, self.fn.stats, self.fn.logical)
        return len(fresh)


@dataclass
class Schedule:
    name: str
    fn: LocalFunction
    minutes: list[int]
    hours: list[int]
    tz: str
    input: str
    dead_letter_url: str | None = None
    weekdays: frozenset[int] | None = None  # Monday 0; None: every day

    def fire_times(self, day: date) -> list[datetime]:
        if self.weekdays is not None and day.weekday() not in self.weekdays:
            return []
        zone = ZoneInfo(self.tz)
        return sorted(
            datetime(day.year, day.month, day.day, h, m, tzinfo=zone).astimezone(UTC)
            for h in self.hours
            for m in self.minutes
        )

    def fire(self, at: datetime, retries: int = 3) -> Any:
        stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        event = json.loads(self.input.replace("<aws.scheduler.scheduled-time>", stamp))
        for _attempt in range(retries + 1):
            try:
                return self.fn.invoke(event)
            except Exception:  # noqa: S112 - logged by invoke; the scheduler retries the same way
                continue
        dead_letter(self.dead_letter_url, event, self.fn.stats, self.fn.logical)
        return None


def _queue_url(dep: Deployed, arn_ref: Any) -> str | None:
    if isinstance(arn_ref, dict) and "Fn::GetAtt" in arn_ref:
        return dep.physical.get(arn_ref["Fn::GetAtt"][0])
    return None


WEEKDAYS = {"MON": 0, "TUE": 1, "WED": 2, "THU": 3, "FRI": 4, "SAT": 5, "SUN": 6}
#: EventBridge numbers the days of the week from Sunday (1) to Saturday (7)
_CRON_DAY = {1: 6, 2: 0, 3: 1, 4: 2, 5: 3, 6: 4, 7: 5}


def parse_cron(expr: str) -> tuple[list[int], list[int], frozenset[int] | None]:
    """EventBridge cron expressions the local runner fires: daily, cron(M H * * ? *), or on days of the
    week, cron(M H ? * DAYS *) (MON-SUN or 1-7 from Sunday, as a list); minutes and hours may be lists.
    Returns the minutes, the hours and the weekdays (Monday 0; None: every day). Other forms are refused."""
    if not (expr.startswith("cron(") and expr.endswith(")")):
        raise ValueError(f"local runner supports cron(...) schedules only, not {expr!r}")
    fields = expr[5:-1].split()
    if len(fields) != 6 or fields[3] != "*" or fields[5] != "*":
        raise ValueError(f"local runner supports cron(M H * * ? *) and cron(M H ? * DAYS *) only, not {expr!r}")
    weekdays: frozenset[int] | None = None
    if (fields[2], fields[4]) == ("?", "*") or (fields[2], fields[4]) == ("*", "?"):
        weekdays = None
    elif fields[2] == "?" and fields[4] not in ("*", "?"):
        days = set()
        for d in fields[4].split(","):
            if d.upper() in WEEKDAYS:
                days.add(WEEKDAYS[d.upper()])
            elif d.isdigit() and int(d) in _CRON_DAY:
                days.add(_CRON_DAY[int(d)])
            else:
                raise ValueError(f"{d!r} in {expr!r} is not a day of the week (MON-SUN or 1-7)")
        weekdays = frozenset(days)
    else:
        raise ValueError(f"local runner supports cron(M H * * ? *) and cron(M H ? * DAYS *) only, not {expr!r}")
    return [int(x) for x in fields[0].split(",")], [int(x) for x in fields[1].split(",")], weekdays


class LocalRunner:
    def __init__(self, dep: Deployed, clock: Clock, log_path: Path) -> None:
        self.dep, self.clock, self.stats = dep, clock, Stats()
        #: handlers run one at a time, as this process has one of each; the API front's requests wait here
        self.lock = threading.RLock()
        self.poll_soon = threading.Event()
        self._caller_pumps = False
        from arrears.config import settings

        warnings.filterwarnings("ignore", message="No application metrics to publish")
        settings.cache_clear()  # a new stack has new resource names
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text("", encoding="utf-8")  # each run's own; appended to, as worker processes append too
        self.log = open(log_path, "a", encoding="utf-8")  # noqa: SIM115 - lives as long as the runner
        self._point_loggers_at_log()
        self.functions: dict[str, LocalFunction] = {}
        for name, res in dep.cfn["Resources"].items():
            if res["Type"] == "AWS::Lambda::Function":
                p = res["Properties"]
                self.functions[name] = LocalFunction(
                    name,
                    dep.physical[name],
                    ROOT / dep.code_dirs[name],
                    p["Handler"],
                    int(p.get("Timeout", 3)),
                    int(p.get("MemorySize", 128)),
                    dep.function_env(name),
                    self.log,
                    self.stats,
                )
                self.functions[name].clock = clock
                self.functions[name].dead_letter_url = _queue_url(dep, p.get("DeadLetterConfig", {}).get("TargetArn"))
        self.sqs: list[SqsSource] = []
        self.streams: list[StreamSource] = []
        self.s3: list[S3Source] = []
        self.schedules: list[Schedule] = []
        self.workers: dict[str, Any] = {}  # functions invoked in worker processes (in_workers)
        self._wire()

    def _point_loggers_at_log(self) -> None:
        from arrears.observability import logger

        for h in logger._logger.handlers:
            if isinstance(h, logging.StreamHandler):
                try:
                    h.setStream(self.log)
                except ValueError:  # the old stream is closed (a test's captured output): nothing to flush
                    h.stream = self.log

    def _wire(self) -> None:
        dep = self.dep
        for name, res in dep.taken_out.items():
            p = res["Properties"]
            if res["Type"] == "AWS::Lambda::EventSourceMapping":
                fn = self.functions[p["FunctionName"]["Ref"]]
                arn = dep.resolve(p["EventSourceArn"])
                partial = "ReportBatchItemFailures" in p.get("FunctionResponseTypes", [])
                if ":sqs:" in arn:
                    url = dep.physical[p["EventSourceArn"]["Fn::GetAtt"][0]]
                    self.sqs.append(SqsSource(fn, url, arn, int(p.get("BatchSize", 10)), partial))
                else:
                    dest = p.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
                    dest_url = dep.physical[dest["Fn::GetAtt"][0]] if dest else None
                    self.streams.append(
                        StreamSource(
                            fn,
                            arn,
                            int(p.get("BatchSize", 100)),
                            int(p.get("MaximumRetryAttempts", 3)),
                            dest_url,
                            self.stats,
                            filters.parse(p.get("FilterCriteria")),
                            bool(p.get("BisectBatchOnFunctionError", False)),
                        )
                    )
            elif res["Type"] == "AWS::Scheduler::Schedule":
                fn = self.functions[p["Target"]["Arn"]["Fn::GetAtt"][0]]
                minutes, hours, weekdays = parse_cron(dep.resolve(p["ScheduleExpression"]))
                self.schedules.append(
                    Schedule(
                        name,
                        fn,
                        minutes,
                        hours,
                        dep.resolve(p.get("ScheduleExpressionTimezone", "UTC")),
                        p["Target"].get("Input", "{}"),
                        _queue_url(dep, p["Target"].get("DeadLetterConfig", {}).get("Arn")),
                        weekdays,
                    )
                )
        for bucket_logical, conf in self.dep.notifications.items():
            for lc in conf.get("LambdaConfigurations", []):
                fn = self.functions[lc["Function"]["Fn::GetAtt"][0]]
                rules = [
                    (r["Name"].lower(), r["Value"]) for r in lc.get("Filter", {}).get("S3Key", {}).get("Rules", [])
                ]
                self.s3.append(S3Source(fn, self.dep.physical[bucket_logical], rules))

    def schedule(self, logical_function: str) -> Schedule:
        for s in self.schedules:
            if s.fn.logical == logical_function:
                return s
        raise KeyError(logical_function)

    def call_api(self, function: str, event: dict[str, Any]) -> Any:
        """An API request: the function answers (between two handler runs, never during one); what it
        set off is delivered by ``poll_soon``'s poller at once, as Lambda's pollers would."""
        fn = self.functions[function]
        if fn.remote is not None:  # its own processes: no wait for the runner's handlers
            result = fn.invoke(event)
        else:
            with self.lock:
                result = self.functions[function].invoke(event)
        if not self._caller_pumps:
            self.poll_soon.set()
        return result

    @contextlib.contextmanager
    def caller_pumps(self) -> Iterator[None]:
        """API requests made meanwhile wake no poller: the caller pumps when it is ready (a simulation
        posting many requests, then delivering what they set off together)."""
        self._caller_pumps = True
        try:
            yield
        finally:
            self._caller_pumps = False

    def in_workers(self, function: str, log_path: Path, processes: int = 4) -> None:
        """Invoke ``function`` in worker processes from now on (``workers.py``: for a stack served over
        HTTP, whose handlers reach the emulator through its endpoint)."""
        from .workers import Workers

        fn = self.functions[function]
        if function not in self.workers:
            self.workers[function] = Workers(fn, log_path, processes)
            fn.remote = self.workers[function]

    def stop_workers(self) -> None:
        for name, w in self.workers.items():
            self.functions[name].remote = None  # invoked here again from now on, then the workers stop
            w.stop()
        self.workers.clear()

    def start_poller(self) -> None:
        """Deliver what API requests set off as soon as they did (a thread; stops with the process).
        One poller a runner, however often it is asked for."""
        if getattr(self, "_poller", None) is not None:
            return

        def loop() -> None:
            while True:
                self.poll_soon.wait()
                self.poll_soon.clear()
                try:
                    self.pump()
                except Exception as e:  # noqa: BLE001 - a handler's failure is in its log and the stats
                    self.log.write(f"[local-runner] poller: {type(e).__name__}: {e}\n")

        self._poller = threading.Thread(target=loop, daemon=True, name="pollers")
        self._poller.start()

    def skip_streams(self) -> None:
        """Every stream's pollers past what its table holds now: a restored state is not news."""
        with self.lock:
            for stream in self.streams:
                stream._fetch()
                stream.pending.clear()

    def next_wakeup(self) -> datetime | None:
        """The earliest simulated time a held (deferred) message becomes visible."""
        return min((at for q in self.sqs for _, at in q.held.values()), default=None)

    def pump(self, max_rounds: int = 100_000) -> int:
        """Deliver everything pending until the system is quiet. Returns events delivered. Stream
        records written while a queue drains are delivered together afterwards, as a poller with a
        short batching window would (fewer, fuller batches)."""
        with self.lock:
            return self._pump(max_rounds)

    def _pump(self, max_rounds: int) -> int:
        total = sum(src.poll(self.clock) for src in self.s3)  # handlers never write import files
        for _ in range(max_rounds):
            moved = 0
            for stream in self.streams:
                while (n := stream.poll(self.clock)) > 0:
                    moved += n
            for q in self.sqs:
                while (n := q.poll(self.clock)) > 0:
                    moved += n
            if moved == 0:
                return total
            total += moved
        raise RuntimeError("local stack did not become quiet")
