"""Import one platform file from S3 into the ledger, with a rejects report next to it.

Every object in the imports bucket gets a report (``<key>.rejects.json``), except the reports
themselves: a file with an unsupported name is rejected whole, saying which names work. Every row
is decided before anything is written; a file rejected whole writes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..adapters import ledger_import
from ..adapters.clients import client
from ..config import ImportSettings
from ..domain.importing import MAX_BYTES, REJECTS_SUFFIX, FileRejected, Limits, kind_of, parse_file
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


def import_object(bucket: str, key: str, s: ImportSettings, now: datetime) -> ImportResult | None:
    """Import one object; None for the importer's own reports (nothing to do)."""
    if key.endswith(REJECTS_SUFFIX):
        return None
    s3 = client("s3")
    try:
        kind_of(key)  # a wrong name is rejected before the body is read
        obj = s3.get_object(Bucket=bucket, Key=key)
        if int(obj.get("ContentLength") or 0) > MAX_BYTES:
            raise FileRejected(f"file is larger than {MAX_BYTES} bytes; split it")
        parsed = parse_file(
            key, obj["Body"].read(), ledger_import.known_parents, limits(s, now), ledger_import.known_payments
        )
    except FileRejected as e:
        result = ImportResult(key, None, 0, 0, 0, str(e))
        _write_report(bucket, key, result, [])
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
    ledger_import.write(prepared.writes)
    result = ImportResult(
        key, parsed.kind, parsed.rows_total, len(parsed.records), len(parsed.rejects), None, parsed.warnings
    )
    _write_report(bucket, key, result, [r.as_dict() for r in parsed.rejects])
    metrics.add_metric(name="ImportedRows", unit="Count", value=result.accepted)
    metrics.add_metric(name="RejectedRows", unit="Count", value=result.rejected)
    logger.info("imported", extra={k: v for k, v in result.as_dict().items() if k != "warnings"})
    return result


def _write_report(bucket: str, key: str, result: ImportResult, rejects: list[dict]) -> None:
    """Always written, so the platform can tell 'processed, all good' from 'not processed yet'."""
    body = {**result.as_dict(), "rejects": rejects}
    client("s3").put_object(
        Bucket=bucket,
        Key=key + REJECTS_SUFFIX,
        Body=json.dumps(body, indent=1, ensure_ascii=False).encode(),
        ContentType="application/json",
    )
