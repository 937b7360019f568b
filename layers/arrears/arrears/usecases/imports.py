"""Import one platform file from S3 into the ledger, with a rejects report next to it."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..adapters import ledger_import
from ..adapters.clients import client
from ..domain.importing import FileRejected, parse_file
from ..observability import logger, metrics

REJECTS_SUFFIX = ".rejects.json"


@dataclass(frozen=True)
class ImportResult:
    key: str
    kind: str | None
    rows: int
    accepted: int
    rejected: int
    rejected_whole: str | None = None

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def import_object(bucket: str, key: str) -> ImportResult:
    if key.endswith(REJECTS_SUFFIX):
        return ImportResult(key, None, 0, 0, 0, "a rejects report is not an import file")
    s3 = client("s3")
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    try:
        parsed = parse_file(key, body, ledger_import.known_parents)
    except FileRejected as e:
        result = ImportResult(key, None, 0, 0, 0, str(e))
        _write_report(bucket, key, result, [])
        logger.warning("import file rejected whole", extra={"key": key, "reason": str(e)})
        return result
    ledger_import.write_records(rec for _, rec in parsed.records)
    result = ImportResult(key, parsed.kind, parsed.rows_total, len(parsed.records), len(parsed.rejects))
    _write_report(bucket, key, result, [{"row": r.row, "reason": r.reason} for r in parsed.rejects])
    metrics.add_metric(name="ImportedRows", unit="Count", value=result.accepted)
    metrics.add_metric(name="RejectedRows", unit="Count", value=result.rejected)
    logger.info("imported", extra=result.as_dict())
    return result


def _write_report(bucket: str, key: str, result: ImportResult, rejects: list[dict]) -> None:
    """Always written, so the platform can tell 'processed, all good' from 'not processed yet'."""
    body = {**result.as_dict(), "rejects": rejects}
    client("s3").put_object(
        Bucket=bucket,
        Key=key + REJECTS_SUFFIX,
        Body=json.dumps(body, indent=1).encode(),
        ContentType="application/json",
    )
