"""Import one platform file from S3 into the ledger, with a rejects report next to it.

Every object in the imports bucket gets a report (``<key>.rejects.json``), except the reports
themselves: a file with an unsupported name is rejected whole, saying which names work. Every row
is decided before anything is written; a file rejected whole writes nothing.

Each file becomes a ``platform_event`` fact (source ``platform/file``: the key and what became of
its rows), and a borrowers file's changes to the platform's opt-outs and holds become
``opt_out_placed``/``opt_out_lifted``/``hold_placed``/``hold_lifted`` facts (a loan's holds are told by
the ledger stream, which sees them change).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import NamedTuple

from ..adapters import ledger_import
from ..adapters.clients import client
from ..adapters.facts_sink import FactSink
from ..config import ImportSettings
from ..domain.facts import PLATFORM_FILE, Fact, business_date, restriction_facts
from ..domain.importing import (
    MAX_BYTES,
    REJECTS_SUFFIX,
    Borrower,
    FileRejected,
    Limits,
    ParsedFile,
    kind_of,
    parse_file,
)
from ..domain.timeutil import iso
from ..observability import logger, metrics


@dataclass(frozen=True)
class ImportResult:
    key: str
    kind: str | None
    rows: int
    accepted: int
    rejected: int
    rejected_whole: str | None = None
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def limits(s: ImportSettings, now: datetime) -> Limits:
    return Limits(now, s.max_amount, s.max_text, s.years_back, s.years_ahead, timedelta(hours=s.paid_ahead_hours))


class Feed(NamedTuple):
    """Where the platform's feed goes: the outcomes bucket, dated in the business time zone."""

    outcomes_bucket: str
    business_tz: str


def import_object(
    bucket: str, key: str, s: ImportSettings, now: datetime, feed: Feed | None = None
) -> ImportResult | None:
    """Import one object; None for the importer's own reports (nothing to do). With ``feed``, the
    file's facts are written (a platform_event; a borrowers file's opt-out and hold changes)."""
    if key.endswith(REJECTS_SUFFIX):
        return None
    s3 = client("s3")
    version = ""
    try:
        kind, _ = kind_of(key)  # a wrong name is rejected before the body is read
        obj = s3.get_object(Bucket=bucket, Key=key)
        version = str(obj.get("VersionId") or obj.get("ETag") or "")
        if int(obj.get("ContentLength") or 0) > MAX_BYTES:
            raise FileRejected(f"file is larger than {MAX_BYTES} bytes; split it")
        parsed = parse_file(
            key,
            obj["Body"].read(),
            ledger_import.known_parents,
            limits(s, now),
            partial(ledger_import.known_payments, reversals=kind == "reversals"),
        )
    except FileRejected as e:
        result = ImportResult(key, None, 0, 0, 0, str(e))
        _write_report(bucket, key, result, [])
        if feed is not None:
            _tell(feed, [_file_event(feed, key, version, now, f"rejected whole: {e}")])
        logger.warning("import file rejected whole", extra={"key": key, "reason": str(e)})
        return result
    new = [
        (n, rec) for n, rec in parsed.records if n not in parsed.recorded
    ]  # a payment recorded as it is: nothing to write
    prepared = ledger_import.prepare(new, s.max_item_bytes, iso(now))
    for row, reason in prepared.too_large:
        parsed.reject(row, reason)
    too_large = {row for row, _ in prepared.too_large}
    parsed.records = [(n, rec) for n, rec in parsed.records if n not in too_large]
    parsed.rejects.sort(key=lambda r: r.row)
    if feed is not None:  # told before they are written: a retried import finds the same changes again
        _tell(feed, _restriction_changes(feed, parsed, key, version, now))
    ledger_import.write(prepared.writes)
    result = ImportResult(
        key, parsed.kind, parsed.rows_total, len(parsed.records), len(parsed.rejects), None, parsed.warnings
    )
    _write_report(bucket, key, result, [r.as_dict() for r in parsed.rejects])
    if feed is not None:
        told = f"{result.accepted} of {result.rows} rows accepted, {result.rejected} rejected"
        _tell(feed, [_file_event(feed, key, version, now, told)])
    metrics.add_metric(name="ImportedRows", unit="Count", value=result.accepted)
    metrics.add_metric(name="RejectedRows", unit="Count", value=result.rejected)
    logger.info("imported", extra={k: v for k, v in result.as_dict().items() if k != "warnings"})
    return result


def _file_event(feed: Feed, key: str, version: str, now: datetime, outcome: str) -> Fact:
    """The platform_event of a file: who sent it (the platform, as a file), which, when, what became of it."""
    return Fact(
        "platform_event",
        now,
        business_date(now, feed.business_tz),
        None,
        PLATFORM_FILE,
        reason=f"{key[:300]}: {outcome}"[:1000],
        key=f"{key}|{version}",
    )


def _restriction_changes(feed: Feed, parsed: ParsedFile, key: str, version: str, now: datetime) -> list[Fact]:
    """What a borrowers file changes in the platform's opt-outs and holds (read before it is written)."""
    rows = [rec for _, rec in parsed.records if isinstance(rec, Borrower)]
    if not rows:
        return []
    before = ledger_import.platform_restrictions({b.borrower_id for b in rows})
    out: list[Fact] = []
    for b in rows:
        opt_out, holds = before.get(b.borrower_id, (frozenset(), frozenset()))
        for kind, was, now_set in (("opt_out", opt_out, b.opt_out), ("holds", holds, b.holds)):
            out += restriction_facts(
                kind,
                was,
                now_set,
                now,
                feed.business_tz,
                PLATFORM_FILE,
                borrower_id=b.borrower_id,
                key=f"{key}|{version}",
            )
    return out


def _tell(feed: Feed, facts: list[Fact]) -> None:
    if not facts:
        return
    sink = FactSink(feed.outcomes_bucket, "importer")
    sink.extend(facts)
    sink.flush()


def _write_report(bucket: str, key: str, result: ImportResult, rejects: list[dict]) -> None:
    """Always written, so the platform can tell 'processed, all good' from 'not processed yet'."""
    body = {**result.as_dict(), "rejects": rejects}
    client("s3").put_object(
        Bucket=bucket,
        Key=key + REJECTS_SUFFIX,
        Body=json.dumps(body, indent=1, ensure_ascii=False).encode(),
        ContentType="application/json",
    )
