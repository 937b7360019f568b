"""``arrears``: the local stack on the command line."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from .book import Book, synthetic_book


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a YYYY-MM-DD date") from None


def _param(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE")
    return name, value


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="arrears", description="arrears on the embedded AWS emulator (moto)")
    sub = p.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="import a book and run simulated days")
    up = sub.add_parser("up", help="deploy the stack and keep it running for the AWS CLI / SDKs")
    gen = sub.add_parser("book", help="write the synthetic book to a folder")
    chk = sub.add_parser("strategy-check", help="validate strategy documents (YAML or JSON)")
    chk.add_argument("files", type=Path, nargs="+")
    pub = sub.add_parser("strategy-publish", help="publish strategy documents to a deployed stack's StrategiesTable")
    pub.add_argument("files", type=Path, nargs="+")
    pub.add_argument("--table", required=True, help="the stack's StrategiesTableName output")
    back = sub.add_parser("strategy-rollback", help="re-activate the version before the active one")
    back.add_argument("strategy_id")
    back.add_argument("--table", required=True, help="the stack's StrategiesTableName output")
    why = sub.add_parser("explain", help="why an action (or each action of a loan) happened, from the outcomes")
    why.add_argument("id", help="an action id or a loan id")
    why.add_argument("--out", type=Path, default=Path("out"), help="the folder `arrears run` wrote (default: out)")
    for sp in (run, up):
        sp.add_argument("--book", type=Path, help="folder with borrowers/loans/installments/repayments files")
        sp.add_argument(
            "--param",
            type=_param,
            action="append",
            default=[],
            help="template parameter override, e.g. --param ShardCount=4",
        )
        sp.add_argument("--borrowers", type=int, default=5000, help="size of the synthetic book")
    run.add_argument("--start", type=_date, help="first simulated day (default: day before the earliest due date)")
    run.add_argument("--days", type=int, default=60)
    run.add_argument("--out", type=Path, default=Path("out"))
    run.add_argument("--http", action="store_true", help="handlers call the emulator over HTTP (slower)")
    run.add_argument(
        "--publish",
        type=Path,
        action="append",
        default=[],
        help="publish this strategy document (a new active version) before the first day",
    )
    run.add_argument(
        "--dry-run",
        type=Path,
        help="after the last day, dry-run this strategy document over the book: counts, nothing sent",
    )
    up.add_argument("--port", type=int, default=4566)
    gen.add_argument("dest", type=Path)
    gen.add_argument("--borrowers", type=int, default=5000)
    gen.add_argument("--seed", type=int, default=7)
    args = p.parse_args(argv)

    if args.cmd == "strategy-check":
        return _check_strategies(args.files)
    if args.cmd in ("strategy-publish", "strategy-rollback"):
        return _strategy_admin(args)
    if args.cmd == "explain":
        return _explain(p, args.id, args.out)
    if args.cmd == "book":
        synthetic_book(args.dest, args.borrowers, args.seed)
        print(f"synthetic book written to {args.dest}")
        return 0
    if args.cmd == "run" and args.days < 1:
        p.error("--days must be at least 1")
    try:
        book = (
            Book.load(args.book)
            if args.book
            else Book.load(synthetic_book(Path(tempfile.mkdtemp(prefix="arrears-book-")), args.borrowers))
        )
    except ValueError as e:
        p.error(str(e))
    from .sim import day_line, default_start, midnight, start_stack

    if args.cmd == "up":
        return _up(book, dict(args.param), args.port)
    start = args.start or default_start(book)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    sim = start_stack(out, dict(args.param), in_process=not args.http, start_clock=midnight(start, "UTC"))
    print(f"local stack up at {sim.emulator.endpoint} (stack {sim.dep.physical['ImportsBucket'].split('-imports')[0]})")
    sim.runner.clock.now = midnight(start, sim.business_tz)
    for doc in args.publish:
        print(f"published {sim.publish(doc)}")
    sim.import_book(book)
    print(f"imported book in {sim.timings['import_s']:.1f}s; simulating {args.days} days from {start}")
    sim.run_days(book, start, args.days, lambda r: print(day_line(r), flush=True))
    sim.write_out()
    if args.dry_run:
        _print_dry_run(args.dry_run, sim.dry_run(args.dry_run), out)
    sim.stop()
    print(f"done in {time.perf_counter() - t0:.1f}s; reports and outcomes in {out}/")
    return 0


def _explain(p: argparse.ArgumentParser, wanted: str, out: Path) -> int:
    from .explain import explain, facts_in

    folder = out / "outcomes" / "facts"
    if not folder.is_dir():
        p.error(f"{folder} does not exist: run `arrears run --out {out}` first")
    lines = explain(facts_in(folder), wanted)
    print("\n".join(lines) if lines else f"no action or loan {wanted!r} in {folder}")
    return 0 if lines else 1


def _print_dry_run(path: Path, result: dict, out: Path) -> None:
    (out / "dry-run.json").write_text(json.dumps(result, indent=1))
    print(f"dry run of {path} over {result['loans']} delinquent loans (nothing sent):")
    for row in result["by_step"]:
        print(f"  {row['variant']:<12} {row['segment']:<16} {row['step']:<18} {row['channel']:<8} {row['loans']}")
    print(f"  no action: {result['no_action']}")


def _strategy_admin(args: argparse.Namespace) -> int:
    """Against AWS (the usual credentials and region) or any endpoint in AWS_ENDPOINT_URL."""
    import yaml

    from arrears.adapters import strategy_store
    from arrears.adapters.models import StrategyModel

    StrategyModel.Meta.table_name = args.table
    StrategyModel._connection = None
    try:
        if args.cmd == "strategy-rollback":
            print(f"{args.strategy_id}: version {strategy_store.rollback(args.strategy_id)} is active again")
            return 0
        for path in args.files:
            s = strategy_store.publish(yaml.safe_load(path.read_text(encoding="utf-8")), datetime.now(UTC))
            print(f"{path}: published {s.id} v{s.version}, now active")
    except (strategy_store.StrategyStoreError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


def _check_strategies(files: list[Path]) -> int:
    import yaml

    from arrears.domain.strategies import StrategyError, parse_strategy

    bad = 0
    for path in files:
        try:
            s = parse_strategy(yaml.safe_load(path.read_text(encoding="utf-8")))
            arms = ", ".join(f"{v.name} {v.share:.0%}" for v in s.variants)
            print(f"{path}: ok ({s.id} v{s.version}; {len(s.champion.segments)} segments; arms: {arms})")
        except (OSError, yaml.YAMLError) as e:
            bad += 1
            print(f"{path}: cannot be read: {e}")
        except StrategyError as e:
            bad += 1
            print(f"{path}: invalid")
            for problem in e.problems:
                print(f"  - {problem}")
    return 1 if bad else 0


def _up(book: Book, params: dict[str, str], port: int) -> int:
    from .sim import start_stack

    out = Path("out")
    sim = start_stack(out, params, in_process=False, port=port)
    sim.import_book(book)
    print(f"arrears local stack: endpoint {sim.emulator.endpoint}  region us-east-1  (credentials: testing/testing)")
    print(f"  imports bucket  s3://{sim.imports_bucket}   outcomes bucket  s3://{sim.outcomes_bucket}")
    print(f"  e.g. aws --endpoint-url {sim.emulator.endpoint} dynamodb list-tables")
    print("  files dropped into the imports bucket are imported; Ctrl-C stops", flush=True)
    try:
        while True:
            sim.runner.clock.now = datetime.now(UTC)
            sim.runner.pump()
            time.sleep(1.0)
    except KeyboardInterrupt:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
