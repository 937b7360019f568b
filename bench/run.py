"""`make bench`: the figures the issues set targets for, written to out/bench.json.

Ratios are measured in the same run on the same machine, so they hold where absolute times do not.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HANDLERS = sorted(p.parent.name for p in (ROOT / "functions").glob("*/app.py"))


def _lambda_like_env() -> dict[str, str]:
    """A fresh interpreter laid out like a Lambda function with the layer: the handler folder, the
    arrears package and the dependencies on sys.path, no site processing (the virtualenv's .pth
    hooks, such as the editable install of arrears, do not exist in Lambda)."""
    paths = [str(ROOT / "layers" / "arrears"), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(dict.fromkeys(paths)), "PYTHONHASHSEED": "0"}


def _import_s(code: str, cwd: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-S", "-c", code], cwd=cwd, env=_lambda_like_env(), check=True)
    return time.perf_counter() - t0


def _import_instructions(code: str, cwd: Path) -> int | None:
    """Instructions executed (valgrind callgrind): the same count on every run, whatever the load."""
    if not shutil.which("valgrind"):
        return None
    proc = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-S", "-c", code],
        cwd=cwd,
        env=_lambda_like_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    match = re.search(r"Collected : (\d+)", proc.stderr)
    return int(match.group(1)) if match else None


def precompile_layer() -> None:
    """The deployed layer ships bytecode (layers/arrears/Makefile runs compileall), so measure that."""
    import compileall

    compileall.compile_dir(str(ROOT / "layers" / "arrears" / "arrears"), quiet=1)
    for cache in (ROOT / "functions").glob("*/__pycache__"):  # handler files ship as source
        for f in cache.iterdir():
            f.unlink()


def cold_start(repeat: int) -> dict[str, Any]:
    """`python -c "import app"` in each function's folder / `python -c "import boto3"`, fresh processes,
    the two alternated so that drift on a noisy machine hits both alike; medians."""
    base: list[float] = []
    ratios = {}
    for h in HANDLERS:
        handler: list[float] = []
        for _ in range(repeat):
            base.append(_import_s("import boto3", ROOT))
            handler.append(_import_s("import app", ROOT / "functions" / h))
        ratios[h] = round(statistics.median(handler) / statistics.median(base[-repeat:]), 3)
    timed = {
        "boto3_import_s": round(statistics.median(base), 3),
        "ratio_by_handler": ratios,
        "max": max(ratios.values()),
    }
    base_instr = _import_instructions("import boto3", ROOT)
    if base_instr is None:
        return {"method": "wall clock, medians", **timed}
    by_instr = {
        h: round((_import_instructions("import app", ROOT / "functions" / h) or 0) / base_instr, 3) for h in HANDLERS
    }
    return {
        "method": "instructions executed (callgrind); wall-clock medians alongside",
        "boto3_import_instructions": base_instr,
        "ratio_by_handler": by_instr,
        "max": max(by_instr.values()),
        "wall_clock": timed,
    }


class RawWrite:
    """The importer's own items, in its own order, written straight through boto3 with
    batch_write_item (25 a request) into fresh tables of the same definitions (streams included):
    what importing would cost if it did nothing but write. Timed with the importer's clocks (CPU seconds
    of this process, and wall seconds alongside)."""

    def __init__(self, dep: Any) -> None:
        from arrears.adapters.clients import client

        self.ddb = client("dynamodb")
        self.scratch: dict[str, str] = {}
        for logical in ("BorrowersTable", "ContactsTable", "LedgerTable", "IdempotencyTable"):
            d = self.ddb.describe_table(TableName=dep.physical[logical])["Table"]
            name = f"raw-{logical}"
            spec = (
                {"StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}}
                if d.get("StreamSpecification")
                else {}
            )
            self.ddb.create_table(
                TableName=name,
                KeySchema=d["KeySchema"],
                AttributeDefinitions=d["AttributeDefinitions"],
                BillingMode="PAY_PER_REQUEST",
                **spec,
            )
            self.scratch[dep.physical[logical]] = name
        self.cpu_s = self.wall_s = 0.0
        self.items = self.requests = 0
        self.pending: list[list[tuple[str, dict]]] = []

    @contextlib.contextmanager
    def recording(self) -> Iterator[None]:
        """Keep what the importer hands to ``ledger_import.write`` (the list itself, no copy, no cost)."""
        from arrears.adapters import ledger_import

        original = ledger_import.write

        def recorded(writes: list[tuple[str, dict]]) -> int:
            self.pending.append(writes)
            return original(writes)

        ledger_import.write = recorded
        try:
            yield
        finally:
            ledger_import.write = original

    def write_pending(self) -> None:
        requests = [(self.scratch[table], item) for writes in self.pending for table, item in writes]
        self.pending.clear()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for i in range(0, len(requests), 25):
            batch: dict[str, list] = {}
            for table, item in requests[i : i + 25]:
                batch.setdefault(table, []).append({"PutRequest": {"Item": item}})
            while batch:
                self.requests += 1
                batch = self.ddb.batch_write_item(RequestItems=batch).get("UnprocessedItems") or {}
        self.cpu_s += time.process_time() - cpu0
        self.wall_s += time.perf_counter() - wall0
        self.items += len(requests)


def import_book(sim: Any, book: Any) -> dict[str, Any]:
    """``Simulation.import_book``, file by file, each file's raw write right after its import, so
    that both sides meet the same load on the machine. The ratio is of CPU seconds of this one process
    (the handler and the emulator run in it): time other processes take is not counted; wall seconds
    alongside. Before each side ``gc.freeze()``: what the process already holds (above all the
    emulator's tables, which a Lambda's heap never holds) is left out of the collector's full passes,
    each of which would otherwise walk every item written so far (~1 s at 5,000 borrowers) and land
    on one side or the other by chance."""
    from arrears.adapters.clients import client
    from arrears_local import meter
    from arrears_local.book import Origin

    fn = "ImporterFunction"
    stats = sim.runner.stats
    raw = RawWrite(sim.dep)
    requests0 = meter.by_function[(fn, "requests")]
    cpu0, wall0 = stats.cpu_seconds.get(fn, 0.0), stats.seconds.get(fn, 0.0)
    with_stream_s = 0.0
    rows = accepted = 0
    with raw.recording():
        for kind in ("borrowers", "loans", "installments"):
            for path in book.files[kind]:
                key = f"{kind}/{path.name}"
                gc.freeze()  # see above
                t0 = time.perf_counter()
                sim.upload(key, path.read_bytes(), Origin(key))
                with_stream_s += time.perf_counter() - t0
                gc.freeze()
                raw.write_pending()
                report = client("s3").get_object(Bucket=sim.imports_bucket, Key=key + ".rejects.json")
                result = json.loads(report["Body"].read())
                rows, accepted = rows + result["rows"], accepted + result["accepted"]
    gc.unfreeze()
    sim.timings["import_s"] = with_stream_s
    cpu_s, wall_s = stats.cpu_seconds[fn] - cpu0, stats.seconds[fn] - wall0
    return {
        "import_vs_raw_write": round(cpu_s / raw.cpu_s, 3),
        "import_vs_raw_write_wall": round(wall_s / raw.wall_s, 3),
        "import_with_stream_vs_raw_write": round(with_stream_s / raw.wall_s, 3),  # wall: the stream's handlers too
        "import_rows_per_second": round(accepted / cpu_s),
        "import": {
            "method": "CPU seconds of this process (time.process_time) while each side ran, interleaved file by file",
            "rows": rows,
            "accepted": accepted,
            "items_written": raw.items,
            "importer_cpu_s": round(cpu_s, 2),
            "raw_write_cpu_s": round(raw.cpu_s, 2),
            "importer_wall_s": round(wall_s, 2),
            "raw_write_wall_s": round(raw.wall_s, 2),
            "importer_requests": meter.by_function[(fn, "requests")] - requests0,
            "raw_write_requests": raw.requests,
            "import_rows_per_second_wall": round(accepted / wall_s),
        },
    }


def meter_failed_puts(table: str) -> int:
    """Conditional writes that lost a race: requests, but not reservations."""
    from arrears_local import meter

    return meter.lost_races.get(table, 0)


def pipeline(borrowers: int, days: int) -> dict[str, Any]:
    from arrears_local import meter
    from arrears_local.book import Book, synthetic_book
    from arrears_local.sim import default_start, midnight, start_stack

    tmp = Path(tempfile.mkdtemp(prefix="arrears-bench-"))
    book_dir = synthetic_book(tmp / "book", borrowers=borrowers)
    book = Book.load(book_dir)
    start = default_start(book)
    sim = start_stack(tmp / "out", serve=False, start_clock=midnight(start, "UTC"))
    sim.runner.clock.now = midnight(start, sim.business_tz)
    imported = import_book(sim, book)
    if days:
        sim.run_days(book, start, days, lambda r: None)
    sim.stop()
    if sim.runner.stats.errors:  # figures from a run whose handlers failed mean nothing
        raise SystemExit(f"handlers failed during the benchmark: {sim.runner.stats.errors} (see {tmp}/out/lambda.log)")
    if not days:  # --only import
        return {"book": {"borrowers": borrowers, "days": 0, "start": start.isoformat()}, **imported}
    cycles = sim.cycles
    total = {
        k: sum(c[k] for c in cycles)
        for k in ("requests", "scans", "detect_items_read", "dispatch_items_read", "loans_evaluated", "actions_sent")
    }
    busiest = max(cycles, key=lambda c: c["loans_evaluated"])
    ledger_table = sim.dep.physical["ContactLedgerTable"]
    guard = {op: n for (table, op), n in meter.by_table.items() if table == ledger_table}
    # the ledger's conditional writes (UpdateItem; PutItem before restrictions shared the item), less lost races
    reserved = guard.get("UpdateItem", 0) + guard.get("PutItem", 0) - meter_failed_puts(ledger_table)
    return {
        "book": {"borrowers": borrowers, "days": days, "start": start.isoformat()},
        "detect_items_read_per_delinquent_loan": round(
            total["detect_items_read"] / max(1, total["loans_evaluated"]), 4
        ),
        "detect_items_read_busiest_day": round(busiest["detect_items_read"] / max(1, busiest["loans_evaluated"]), 4),
        # the stream's reads applying the dispatched work (PLAN entries) and promises, per contact sent
        "dispatch_items_read_per_action": round(total["dispatch_items_read"] / max(1, total["actions_sent"]), 3),
        "scan_calls": total["scans"],
        "aws_requests_per_action": round(total["requests"] / max(1, total["actions_sent"]), 2),
        **imported,
        "guard_reserve_requests_per_contact": round(sum(guard.values()) / max(1, reserved), 3),
        "guard_requests": guard,
        "contacts_reserved": reserved,
        "totals": total,
        "busiest_cycle": busiest,
    }


def plan_throughput(loans: int = 50_000) -> dict[str, Any]:
    """Strategy matching + priority + compliance check, in-process, no I/O, one core: loans/second."""
    import random
    from datetime import UTC, date, timedelta
    from decimal import Decimal

    import yaml

    from arrears.domain.compliance import ContactRequest, Holds, check, rules_for
    from arrears.domain.strategies import LoanView, parse_strategy, prioritise, propose

    folder = ROOT / "layers" / "arrears" / "arrears" / "strategies"
    strategies = {
        m: parse_strategy(yaml.safe_load((folder / f"{m.lower()}-default.yaml").read_text())) for m in ("CN", "US")
    }
    rules = {m: rules_for(m) for m in strategies}
    zones = {"CN": ("Asia/Shanghai",), "US": ("America/New_York",)}
    rng = random.Random(3)
    today = date(2026, 4, 10)
    now = datetime(2026, 4, 10, 2, 0, tzinfo=UTC)
    book = []
    for i in range(loans):
        market = "US" if rng.random() < 0.1 else "CN"
        dpd = rng.randint(1, 200)
        bucket = "M1" if dpd <= 30 else "M2" if dpd <= 60 else "M3" if dpd <= 90 else "M4"
        book.append(
            LoanView(
                f"L{i}",
                f"L{i}#c",
                bucket,
                dpd,
                Decimal(rng.randint(500, 20000)),
                Decimal(rng.randint(100, 5000)),
                rng.choice("ABCDE"),
                None,
                "cash-3m",
                market,
                "en" if market == "US" else "zh-CN",
                today - timedelta(days=dpd % 30),
                None,
                rng.random() < 0.05,
                rng.randint(0, 2),
                rng.randint(0, 3),
            )
        )
    t0 = time.process_time()
    proposals = [p for loan in book for p in propose(strategies[loan.jurisdiction], loan, today, now)]
    plan = prioritise(proposals, {"voice": 2000, "sms": 20000, "letter": 500})
    by_loan = {loan.loan_id: loan for loan in book}
    allowed = 0
    for p in plan.work:
        if p.channel is None:
            continue
        lv = by_loan[p.loan_id]
        channel = p.channel if p.channel != "letter" else "email"
        number = f"n-{p.loan_id}" if channel == "voice" else None  # a voice request names the number
        req = ContactRequest("B", p.loan_id, p.step_id, channel, now, zones[lv.jurisdiction], number)
        allowed += check(req, rules[lv.jurisdiction], Holds(), ()).allowed
    spent = time.process_time() - t0
    return {
        "loans": loans,
        "proposals": len(proposals),
        "work": len(plan.work),
        "deferred": len(plan.deferred),
        "allowed_now": allowed,
        "cpu_s": round(spent, 3),
        "loans_per_second": round(loans / spent),
    }


REFERENCE_LOOP = "sum(i*i for i in range(30_000_000))"


def demo_command(out: Path) -> str:
    """The Makefile's demo recipe as make would run it (``make -n``, its prerequisite left out), with
    ``--out`` pointed at ``out``: the bench runs the line `make demo` runs, so the two cannot drift."""
    recipe = subprocess.run(
        ["make", "--no-print-directory", "-n", "demo", "STAMP="], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    command, replaced = re.subn(r"--out(=|\s+)\S+", lambda m: f"--out{m.group(1)}{shlex.quote(str(out))}", recipe)
    if not replaced:
        raise SystemExit(f"the Makefile's demo recipe has no --out to point elsewhere:\n{recipe}")
    return command


def _child_run(argv: list[str] | str, **kw: Any) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user + system, of the child and its children) and exit status."""
    before = os.times()
    t0 = time.perf_counter()
    rc = subprocess.run(argv, cwd=ROOT, **kw).returncode
    wall = time.perf_counter() - t0
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return wall, cpu, rc


def demo_vs_reference() -> dict[str, Any]:
    """`make demo`'s command line against the reference loop (`python3 -c "sum(i*i for i in
    range(30_000_000))"`, this interpreter), the faster of one loop run just before and one just after
    the demo; wall seconds, as a user waits for it. CPU seconds alongside (the same ratio, less the
    machine's other load)."""
    tmp = Path(tempfile.mkdtemp(prefix="arrears-bench-demo-"))
    loop = [sys.executable, "-c", REFERENCE_LOOP]
    before = _child_run(loop, check=True)
    command = demo_command(tmp / "out")
    with (tmp / "demo.log").open("w") as log:
        demo = _child_run(["/bin/sh", "-ec", command], stdout=log, stderr=subprocess.STDOUT)
    after = _child_run(loop, check=True)
    ref_wall, ref_cpu = min(before[0], after[0]), min(before[1], after[1])
    figures: dict[str, Any] = {
        "demo_vs_reference_loop": round(demo[0] / ref_wall, 2) if demo[2] == 0 else None,
        "demo_vs_reference_loop_cpu": round(demo[1] / ref_cpu, 2) if demo[2] == 0 else None,
        "demo_s": round(demo[0], 2),
        "reference_loop_s": round(ref_wall, 3),
        "demo": {
            "command": " ".join(command.replace("\\\n", " ").split()),
            "exit_status": demo[2],
            "log": str(tmp / "demo.log"),
            "reference_loop": REFERENCE_LOOP,
            "reference_loop_wall_s": {"before": round(before[0], 3), "after": round(after[0], 3)},
            "demo_cpu_s": round(demo[1], 2),
            "reference_loop_cpu_s": round(ref_cpu, 3),
        },
    }
    if demo[2] != 0:
        print(f"make demo's command failed (exit {demo[2]}); see {tmp / 'demo.log'}", file=sys.stderr)
    return figures


TARGETS = {
    "plan_loans_per_second": (">=", 20_000),
    "guard_reserve_requests_per_contact": ("<=", 2),
    "detect_items_read_per_delinquent_loan": ("<=", 1.1),
    "scan_calls": ("<=", 0),
    "import_vs_raw_write": ("<=", 1.5),
    "cold_start_ratio": ("<=", 1.5),
    "demo_vs_reference_loop": ("<=", 45),
}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--out", type=Path, default=ROOT / "out" / "bench.json")
    p.add_argument("--borrowers", type=int, default=5000)
    p.add_argument("--days", type=int, default=60)
    p.add_argument("--repeat", type=int, default=11)
    p.add_argument(
        "--only",
        choices=("import", "demo"),
        help="measure only the import (no days) or only the demo; print, write nothing",
    )
    args = p.parse_args()
    if args.only:
        only = pipeline(args.borrowers, 0) if args.only == "import" else demo_vs_reference()
        print(json.dumps(only, indent=1))
        return 0
    figures: dict[str, Any] = {"measured_at": datetime.now(UTC).isoformat(timespec="seconds")}
    figures.update(pipeline(args.borrowers, args.days))
    figures.update(demo_vs_reference())  # before precompile_layer: the tree as `make demo` finds it
    precompile_layer()
    cs = cold_start(args.repeat)
    figures["cold_start"] = cs
    figures["cold_start_ratio"] = cs["max"]
    figures["planning"] = plan_throughput()
    figures["plan_loans_per_second"] = figures["planning"]["loans_per_second"]
    figures["targets"] = {}
    for name, (op, limit) in TARGETS.items():
        value = figures[name]
        met = value is not None and (value >= limit if op == ">=" else value <= limit)
        figures["targets"][name] = {"value": value, "target": f"{op} {limit}", "met": met}
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
                    "import_vs_raw_write_wall",
                    "import_rows_per_second",
                    "demo_vs_reference_loop",
                    "demo_vs_reference_loop_cpu",
                    "cold_start_ratio",
                    "plan_loans_per_second",
                    "guard_reserve_requests_per_contact",
                )
            }
        )
    )
    for name, t in figures["targets"].items():
        print(f"{'ok  ' if t['met'] else 'MISS'} {name} = {t['value']} (target {t['target']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
