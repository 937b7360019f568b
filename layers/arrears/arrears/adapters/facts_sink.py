"""Facts to S3 as newline-delimited JSON, partitioned by business date (the Athena outcomes table)."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import defaultdict

from ..domain.facts import Fact
from .clients import client

PREFIX = "facts"


class FactSink:
    def __init__(self, bucket: str, source: str) -> None:
        self.bucket, self.source = bucket, source
        self.pending: list[Fact] = []

    def add(self, fact: Fact) -> None:
        self.pending.append(fact)

    def extend(self, facts: list[Fact]) -> None:
        self.pending.extend(facts)

    def flush(self) -> int:
        """One object per business date touched; nothing is written when there is nothing to say."""
        by_day: dict[str, list[str]] = defaultdict(list)
        for f in self.pending:
            by_day[f.business_date.isoformat()].append(json.dumps(f.row(), separators=(",", ":")))
        _put(self.bucket, self.source, by_day)
        written = len(self.pending)
        self.pending = []
        return written


def lines(facts: list[Fact]) -> str:
    """Facts as the outcomes table's JSON lines (to keep, and to write later with ``write_lines``)."""
    return "".join(json.dumps(f.row(), separators=(",", ":")) + "\n" for f in facts)


def write_lines(bucket: str, source: str, text: str) -> int:
    """Fact rows kept as ``lines`` made them: one object per business date touched."""
    by_day: dict[str, list[str]] = defaultdict(list)
    for line in filter(None, text.split("\n")):
        by_day[json.loads(line)["business_date"]].append(line)
    _put(bucket, source, by_day)
    return sum(len(v) for v in by_day.values())


def _put(bucket: str, source: str, by_day: dict[str, list[str]]) -> None:
    for day, rows in by_day.items():
        key = f"{PREFIX}/dt={day}/{source}-{uuid.uuid4().hex}.json"
        client("s3").put_object(Bucket=bucket, Key=key, Body=("\n".join(rows) + "\n").encode())


def _day_objects(bucket: str, day: str) -> list[str]:
    s3 = client("s3")
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{PREFIX}/dt={day}/"):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return keys


def _read(bucket: str, key: str) -> list[str]:
    body = client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    return [line for line in body.splitlines() if line.strip()]


def read_day(bucket: str, day: str) -> list[dict]:
    return [json.loads(line) for key in _day_objects(bucket, day) for line in _read(bucket, key)]


#: a compacted object holds at most this many facts (about 100 MB of JSON Lines: Athena splits it)
COMPACT_ROWS = 250_000


def compact_day(bucket: str, day: str) -> tuple[list[dict], int]:
    """The day's facts, each ``fact_id`` once, rewritten as few objects (``compacted-<digest>.json``)
    in place of the many small ones the writers left; returns the facts and how many objects were
    merged. The compacted objects are written before any object merged into them is deleted, and only
    the objects read are deleted: a crash in between leaves a fact twice (queries count a ``fact_id``
    once), never lost; a fact written meanwhile stays in its own object until the next compaction."""
    keys = _day_objects(bucket, day)
    lines: dict[str, str] = {}
    for key in keys:
        for line in _read(bucket, key):
            lines.setdefault(json.loads(line)["fact_id"], line)
    rows = [json.loads(line) for line in lines.values()]
    kept = list(lines.values())
    written: set[str] = set()
    s3 = client("s3")
    for i in range(0, len(kept), COMPACT_ROWS):
        body = ("\n".join(kept[i : i + COMPACT_ROWS]) + "\n").encode()
        key = f"{PREFIX}/dt={day}/compacted-{hashlib.sha256(body).hexdigest()[:16]}.json"
        if key not in keys:
            s3.put_object(Bucket=bucket, Key=key, Body=body)
        written.add(key)
    merged = [k for k in keys if k not in written]
    for i in range(0, len(merged), 1000):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in merged[i : i + 1000]], "Quiet": True})
    return rows, len(keys)


RULES_KEY = "rules/rules.json"


def write_rules(bucket: str, rows: list[dict]) -> None:
    """The compliance rules in force (``domain/compliance.rules_rows``), the lake's compliance_rules."""
    body = "".join(json.dumps(r, separators=(",", ":"), sort_keys=True) + "\n" for r in rows)
    client("s3").put_object(Bucket=bucket, Key=RULES_KEY, Body=body.encode())
