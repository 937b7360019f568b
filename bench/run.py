"""`make bench`: the figures the issues set targets for, written to out/bench.json.

Ratios are measured in the same run on the same machine, so they hold where absolute times do not.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HANDLERS = sorted(p.parent.name for p in (ROOT / "functions").glob("*/app.py"))


def import_seconds(code: str, cwd: Path, repeat: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "layers" / "arrears")}
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def cold_start(repeat: int) -> dict[str, Any]:
    """`python -c "import <handler module>"` / `python -c "import boto3"`, fresh processes, medians."""
    base = import_seconds("import boto3", ROOT, repeat)
    ratios = {h: round(import_seconds("import app", ROOT / "functions" / h, repeat) / base, 3) for h in HANDLERS}
    return {"boto3_import_s": round(base, 3), "ratio_by_handler": ratios, "max": max(ratios.values())}


def raw_write_seconds(book: Path, dep: Any) -> float:
    """batch_write_item of exactly the items the importer writes, into fresh tables of the same
    definition (streams included), 25 items a request, straight through boto3."""
    from arrears.adapters import ledger_import
    from arrears.adapters.clients import client
    from arrears.domain.importing import parse_file

    ddb = client("dynamodb")
    scratch: dict[str, str] = {}
    for logical in ("BorrowersTable", "ContactsTable", "LedgerTable"):
        d = ddb.describe_table(TableName=dep.physical[logical])["Table"]
        name = f"raw-{logical}"
        spec = (
            {"StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}}
            if d.get("StreamSpecification")
            else {}
        )
        ddb.create_table(
            TableName=name,
            KeySchema=d["KeySchema"],
            AttributeDefinitions=d["AttributeDefinitions"],
            BillingMode="PAY_PER_REQUEST",
            **spec,
        )
        scratch[dep.physical[logical]] = name
    requests: list[tuple[str, dict]] = []
    for kind in ("borrowers", "loans", "installments"):
        parsed = parse_file(f"{kind}/{kind}.csv", (book / f"{kind}.csv").read_bytes())
        for _, rec in parsed.records:
            for item in ledger_import._items_for(rec):
                requests.append((scratch[type(item).Meta.table_name], item.serialize()))
    t0 = time.perf_counter()
    for i in range(0, len(requests), 25):
        batch: dict[str, list] = {}
        for table, item in requests[i : i + 25]:
            batch.setdefault(table, []).append({"PutRequest": {"Item": item}})
        while batch:
            batch = ddb.batch_write_item(RequestItems=batch).get("UnprocessedItems") or {}
    return time.perf_counter() - t0


def pipeline(borrowers: int, days: int) -> dict[str, Any]:
    from arrears_local.book import Book, synthetic_book
    from arrears_local.sim import default_start, midnight, start_stack

    tmp = Path(tempfile.mkdtemp(prefix="arrears-bench-"))
    book_dir = synthetic_book(tmp / "book", borrowers=borrowers)
    book = Book.load(book_dir)
    start = default_start(book)
    sim = start_stack(tmp / "out", serve=False, start_clock=midnight(start, "UTC"))
    sim.runner.clock.now = midnight(start, sim.business_tz)
    sim.import_book(book)
    importer_s = sim.runner.stats.seconds["ImporterFunction"]
    import_total_s = sim.timings["import_s"]
    raw_s = raw_write_seconds(book_dir, sim.dep)
    sim.run_days(book, start, days, lambda r: None)
    sim.emulator.stop()
    cycles = sim.cycles
    total = {
        k: sum(c[k] for c in cycles)
        for k in ("requests", "scans", "detect_items_read", "loans_evaluated", "actions_sent")
    }
    busiest = max(cycles, key=lambda c: c["loans_evaluated"])
    return {
        "book": {"borrowers": borrowers, "days": days, "start": start.isoformat()},
        "detect_items_read_per_delinquent_loan": round(
            total["detect_items_read"] / max(1, total["loans_evaluated"]), 4
        ),
        "detect_items_read_busiest_day": round(busiest["detect_items_read"] / max(1, busiest["loans_evaluated"]), 4),
        "scan_calls": total["scans"],
        "aws_requests_per_action": round(total["requests"] / max(1, total["actions_sent"]), 2),
        "import_vs_raw_write": round(importer_s / raw_s, 3),
        "import_with_stream_vs_raw_write": round(import_total_s / raw_s, 3),
        "raw_write_s": round(raw_s, 2),
        "importer_s": round(importer_s, 2),
        "totals": total,
        "busiest_cycle": busiest,
    }


TARGETS = {
    "detect_items_read_per_delinquent_loan": ("<=", 1.1),
    "scan_calls": ("<=", 0),
    "import_vs_raw_write": ("<=", 1.5),
    "cold_start_ratio": ("<=", 1.5),
}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--out", type=Path, default=ROOT / "out" / "bench.json")
    p.add_argument("--borrowers", type=int, default=2000)
    p.add_argument("--days", type=int, default=40)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    figures: dict[str, Any] = {"measured_at": datetime.now(UTC).isoformat(timespec="seconds")}
    figures.update(pipeline(args.borrowers, args.days))
    cs = cold_start(args.repeat)
    figures["cold_start"] = cs
    figures["cold_start_ratio"] = cs["max"]
    figures["targets"] = {}
    for name, (op, limit) in TARGETS.items():
        value = figures[name]
        figures["targets"][name] = {"value": value, "target": f"{op} {limit}", "met": value <= limit}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=1))
    print(
        json.dumps(
            {
                k: figures[k]
                for k in (
                    "detect_items_read_per_delinquent_loan",
                    "scan_calls",
                    "aws_requests_per_action",
                    "import_vs_raw_write",
                    "cold_start_ratio",
                )
            }
        )
    )
    for name, t in figures["targets"].items():
        print(f"{'ok  ' if t['met'] else 'MISS'} {name} = {t['value']} (target {t['target']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
