"""``make soak``: one book run twice for the same simulated days, fault-free and with faults (AWS
requests throttled, failing and timing out after they were applied, every queue message delivered
twice, handlers crashing before acknowledging; every DLQ redriven at the end, as ``arrears redrive``
does in AWS), the two runs side by side on the two cores; then the faulted run is held to the clean one
and to the law. Writes ``out/soak.json``; exit 1 unless every figure is 0.

- ``soak_lost``: repayments of the clean run not applied in the faulted one, loans whose applied total
  is not the sum of their applied repayments (one applied twice), and the repayment, case, bucket and
  promise facts of the clean run missing from the faulted one (facts are identified by ``fact_id``);
- ``soak_duplicate_contacts``: actions with more than one provider call;
- ``soak_contacts_after_cure``: provider calls for a loan after its cure was applied (and before it fell
  overdue again);
- ``soak_violations``: contacts breaking an hour, cap, opt-out or hold rule (``audit.py``: from what the
  providers received, the book and the call results, not from the guard's verdicts).
Each counts both runs: the clean run is held to the same rules.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from .audit import Contact, violations
from .book import synthetic_book
from .cli import _positive, _rate  # the same checks as arrears run's

#: the fact types a fault must never lose (the others, e.g. planned or deferred actions, may differ
#: with timing: a retried shard is evaluated later)
KEPT = (
    "repayment_applied",
    "case_opened",
    "case_closed",
    "bucket_entered",
    "bucket_left",
    "promise_made",
    "promise_kept",
    "promise_broken",
)
REFERENCE = "sum(i*i for i in range(30_000_000))"


def reference_loop_s() -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", REFERENCE], check=True)
    return time.perf_counter() - t0


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class Leg:
    """One run's output folder, read back."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.facts: dict[str, dict[str, Any]] = {}
        for p in sorted((out / "outcomes" / "facts").glob("*/*.json")):
            for f in _jsonl(p):
                self.facts.setdefault(f["fact_id"], f)
        self.events = _jsonl(out / "audit" / "providers.jsonl")
        self.loans = {r["loan_id"]: r for r in _jsonl(out / "audit" / "loans.jsonl")}

    def calls(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e["kind"] == "call"]

    def duplicate_contacts(self) -> list[str]:
        return sorted(a for a, n in Counter(e["action_id"] for e in self.calls()).items() if n > 1)

    def contacts_after_cure(self) -> list[str]:
        cured: set[str] = set()
        out = []
        for e in self.events:
            if e["kind"] == "cured":
                cured.add(e["loan_id"])
            elif e["kind"] == "opened":
                cured.discard(e["loan_id"])
            elif e["loan_id"] in cured:
                out.append(f"{e['action_id']} ({e['channel']}) for {e['loan_id']} at {e['at']}, after its cure")
        return out

    def violations(self, book: Path) -> list[str]:
        borrowers = {r["borrower_id"]: r for r in _rows(book / "borrowers.csv")}
        loans = {r["loan_id"]: r for r in _rows(book / "loans.csv")}
        results = {f["action_id"]: f["reason"] for f in self.facts.values() if f["fact_type"] == "call_outcome"}
        contacts = [
            Contact(
                e["action_id"],
                e["loan_id"],
                loans[e["loan_id"]]["borrower_id"],
                e["channel"],
                datetime.fromisoformat(e["at"]),
            )
            for e in self.calls()
        ]
        return violations(contacts, borrowers, loans, results)

    def misapplied(self, book: Path) -> list[str]:
        """Loans whose applied total is not the sum of the repayments they record as applied."""
        amounts = {r["payment_id"]: Decimal(r["amount"]) for r in _rows(book / "repayments.csv")}
        out = []
        for loan_id, state in self.loans.items():
            expected = sum((amounts[p] for p in state["payment_ids"]), Decimal(0))
            if Decimal(state["paid_total"] or 0) != expected:
                out.append(f"{loan_id}: paid_total {state['paid_total']} but its repayments sum to {expected}")
        return out


def compare(clean: Leg, faulted: Leg, book: Path) -> dict[str, Any]:
    not_applied = [
        f"{loan_id}: repayment {p} applied in the clean run only"
        for loan_id, state in clean.loans.items()
        for p in sorted(set(state["payment_ids"]) - set(faulted.loans.get(loan_id, {}).get("payment_ids", [])))
    ]
    missing = [
        f"{f['fact_type']} {fid} of {f['loan_id']} on {f['business_date']} missing from the faulted run"
        for fid, f in clean.facts.items()
        if f["fact_type"] in KEPT and fid not in faulted.facts
    ]
    lost = not_applied + clean.misapplied(book) + faulted.misapplied(book) + missing
    duplicates = clean.duplicate_contacts() + faulted.duplicate_contacts()
    after_cure = clean.contacts_after_cure() + faulted.contacts_after_cure()
    broken = clean.violations(book) + faulted.violations(book)
    kinds: Counter[str] = Counter()
    for f in faulted.facts.values():
        kinds[f["fact_type"]] += 1
    return {
        "soak_lost": len(lost),
        "soak_duplicate_contacts": len(duplicates),
        "soak_contacts_after_cure": len(after_cure),
        "soak_violations": len(broken),
        "examples": {
            "lost": lost[:20],
            "duplicate_contacts": duplicates[:20],
            "contacts_after_cure": after_cure[:20],
            "violations": broken[:20],
        },
        "clean": {"provider_calls": len(clean.calls()), "facts": len(clean.facts)},
        "faulted": {"provider_calls": len(faulted.calls()), "facts": len(faulted.facts), "by_type": dict(kinds)},
    }


def _leg(book: Path, out: Path, days: int, params: list[str], faults: float, seed: int) -> subprocess.Popen:
    out.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "arrears_local.cli",
        "run",
        "--book",
        str(book),
        "--days",
        str(days),
        "--out",
        str(out),
        "--audit",
    ]
    for p in params:
        cmd += ["--param", p]
    if faults:
        cmd += ["--faults", str(faults), "--seed", str(seed)]
    log = open(out / "run.log", "w")  # noqa: SIM115 - closed with the process, in main
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="soak", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--borrowers", type=_positive, default=20_000)
    p.add_argument("--days", type=_positive, default=30)
    p.add_argument("--faults", type=_rate, default=0.1, help="rate of injected faults in the faulted run")
    p.add_argument("--seed", type=int, default=7, help="seed of the book and of the faults")
    p.add_argument("--param", action="append", default=["ShardCount=2"], help="stack parameters of both runs")
    p.add_argument("--out", type=Path, default=Path("out"))
    args = p.parse_args(argv)
    work = args.out / "soak"
    before = reference_loop_s()
    t0 = time.perf_counter()
    book = synthetic_book(work / "book", borrowers=args.borrowers, seed=args.seed)
    legs = {
        "clean": _leg(book, work / "clean", args.days, args.param, 0.0, args.seed),
        "faulted": _leg(book, work / "faulted", args.days, args.param, args.faults, args.seed),
    }
    codes = {name: proc.wait() for name, proc in legs.items()}
    elapsed = time.perf_counter() - t0
    after = reference_loop_s()
    failed = [name for name, code in codes.items() if code != 0]
    figures: dict[str, Any] = {
        "book": {"borrowers": args.borrowers, "days": args.days, "seed": args.seed, "faults": args.faults},
        "exit_codes": codes,
    }
    if not failed:
        figures.update(compare(Leg(work / "clean"), Leg(work / "faulted"), book))
    reference = min(before, after)
    figures.update(
        {
            "soak_s": round(elapsed, 1),
            "reference_loop_s": round(reference, 2),
            "soak_vs_reference_loop": round(elapsed / reference, 1),
        }
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "soak.json").write_text(json.dumps(figures, indent=1))
    if failed:
        for name in failed:
            print(f"soak: the {name} run failed (exit {codes[name]}): see {work / name / 'run.log'}", file=sys.stderr)
        return 1
    names = ("soak_lost", "soak_duplicate_contacts", "soak_contacts_after_cure", "soak_violations")
    print(
        " ".join(f"{n}={figures[n]}" for n in names)
        + f"  ({elapsed:.0f}s, {figures['soak_vs_reference_loop']}x the reference loop)"
    )
    bad = [n for n in names if figures[n]]
    for n in bad:
        print(f"soak: {n} = {figures[n]}, e.g. {figures['examples'][n.removeprefix('soak_')][:3]}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
