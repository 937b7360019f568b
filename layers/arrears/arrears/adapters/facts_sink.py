"""Facts to S3 as newline-delimited JSON, partitioned by business date (the Athena outcomes table)."""

from __future__ import annotations

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


def read_day(bucket: str, day: str) -> list[dict]:
    s3 = client("s3")
    rows: list[dict] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{PREFIX}/dt={day}/"):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode()
            rows.extend(json.loads(line) for line in body.splitlines() if line.strip())
    return rows
