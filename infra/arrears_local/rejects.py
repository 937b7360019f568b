"""The importer's rejects reports, as the user's own files: one ``out/imports/<kind>/<file>.rejects.json``
per file of the book, its rejects naming the file's own rows even when the local stack sent the file
in several objects (repayments, delivered as the clock passes their ``paid_at``).

Reports are read generically: ``rows``, ``accepted``, ``rejected``, ``rejected_whole`` and ``rejects``
are summed or remapped; a reject's ``row`` (and ``line``, when the report has one) are translated to
the user's file; lists such as ``warnings`` are merged; anything else is kept from the first report.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .book import Origin

SUFFIX = ".rejects.json"
_ROW_REF = re.compile(r"\brow (\d+)\b")


def remap(reject: Mapping[str, Any], origin: Origin) -> dict[str, Any]:
    """A reject of an uploaded object as a reject of the user's file."""
    out = dict(reject)
    if origin.rows is None:
        return out
    rows = origin.rows

    def row(n: int) -> int:
        return rows[n - 1] if 0 < n <= len(rows) else n

    n = reject.get("row")
    if isinstance(n, int):
        out["row"] = row(n)
        if "line" in out and origin.lines and 0 < n <= len(origin.lines):
            out["line"] = origin.lines[n - 1]
    if isinstance(out.get("reason"), str):  # "duplicate of row 3 in this file"
        out["reason"] = _ROW_REF.sub(lambda m: f"row {row(int(m.group(1)))}", out["reason"])
    return out


def merge(file: str, parts: list[tuple[str, Origin, dict[str, Any] | None]]) -> dict[str, Any]:
    """One report for a user's file from the reports of the objects it was sent as (None: no report
    was written, e.g. the importer failed on it)."""
    merged: dict[str, Any] = {"key": file, "rows": 0, "accepted": 0, "rejected": 0, "rejected_whole": None}
    whole: list[str] = []
    rejects: list[dict[str, Any]] = []
    missing: list[str] = []
    for key, origin, report in parts:
        if report is None:
            missing.append(key)
            continue
        for name, value in report.items():
            if name in ("rows", "accepted", "rejected") and isinstance(value, int):
                merged[name] += value
            elif name == "rejects" and isinstance(value, list):
                rejects += [remap(r, origin) for r in value if isinstance(r, Mapping)]
            elif name == "rejected_whole":
                if value and value not in whole:
                    whole.append(str(value))
            elif isinstance(value, list) and isinstance(merged.get(name, []), list):
                merged.setdefault(name, [])
                merged[name] += [v for v in value if v not in merged[name]]
            elif name not in merged:
                merged[name] = value
    merged["rejected_whole"] = "; ".join(whole) or None
    merged["rejects"] = sorted(rejects, key=lambda r: r.get("row") if isinstance(r.get("row"), int) else 0)
    if len(parts) > 1 or any(origin.rows is not None for _, origin, _ in parts):
        merged["sent_as"] = [key for key, _, _ in parts]
    if missing:
        merged["no_report_for"] = missing
    return merged


def collect(origins: Mapping[str, Origin], read: Callable[[str], dict[str, Any] | None]) -> dict[str, dict[str, Any]]:
    """user's file -> its merged report. ``read(key)`` returns the report next to an uploaded key."""
    by_file: dict[str, list[tuple[str, Origin, dict[str, Any] | None]]] = {}
    for key, origin in origins.items():
        by_file.setdefault(origin.file, []).append((key, origin, read(key + SUFFIX)))
    return {file: merge(file, parts) for file, parts in sorted(by_file.items())}


def write(out: Path, reports: Mapping[str, dict[str, Any]]) -> None:
    """``out/imports/<kind>/<file>.rejects.json``; an earlier run's reports are removed first."""
    folder = out / "imports"
    if folder.is_dir():
        for old in folder.rglob("*" + SUFFIX):
            old.unlink()
    for file, report in reports.items():
        target = folder / (file + SUFFIX)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(report, indent=1, ensure_ascii=False))


def warning_line(reports: Mapping[str, dict[str, Any]], where: str) -> str | None:
    """One line with the counts, or None when every row of every file was accepted."""
    rows = sum(r["rows"] for r in reports.values())
    rejected = {f: r["rejected"] for f, r in reports.items() if r["rejected"]}
    whole = [f for f, r in reports.items() if r["rejected_whole"]]
    unread = [f for f, r in reports.items() if r.get("no_report_for")]  # the importer failed on them
    if not (rejected or whole or unread):
        return None
    parts = []
    if rejected:
        detail = ", ".join(f"{Path(f).name} {n}" for f, n in rejected.items())
        parts.append(f"{sum(rejected.values())} of {rows} rows rejected ({detail})")
    if whole:
        parts.append(f"{len(whole)} file(s) rejected whole ({', '.join(Path(f).name for f in whole)})")
    if unread:
        parts.append(f"{len(unread)} file(s) without a report ({', '.join(Path(f).name for f in unread)})")
    return f"warning: {'; '.join(parts)}; reports in {where}"
