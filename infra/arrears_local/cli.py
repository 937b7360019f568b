"""``arrears``: the local stack on the command line.

Exit status: 0 when all went well; 1 when something failed (an invocation that still failed after its
last retry, a message left in a dead-letter queue, rejected rows with ``--strict``, an AWS error, an
existing book); 2 for a usage error (the arguments or the files they name), found before anything
starts. Errors are one line each on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from .book import Book, synthetic_book
from .checks import (
    StrategyInvalid,
    UsageError,
    bucket_names,
    check_params,
    load_strategy,
    never_matching,
    shipped_strategy_ids,
)
from .whatif import DEFAULT_COST


class Failure(Exception):
    """Something failed that is not a usage error (exit status 1)."""


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Shows an option's default, unless it has none worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None or action.default is False or action.default == []:
            return action.help or ""
        return super()._get_help_string(action) or ""


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a YYYY-MM-DD date") from None


def _param(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE")
    return name, value


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{n} is not a positive number")
    return n


def _port(text: str) -> int:
    n = _positive(text)
    if n > 65535:
        raise argparse.ArgumentTypeError(f"{n} is not a TCP port (1-65535)")
    return n


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("arrears")
    except PackageNotFoundError:
        return "unknown"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="arrears",
        description="arrears on the embedded AWS emulator (moto)",
        epilog="exit status: 0 ok, 1 something failed (see the error lines), 2 usage error",
        formatter_class=_Help,
    )
    p.add_argument("--version", action="version", version=f"arrears {_version()}")
    sub = p.add_subparsers(dest="cmd", required=True)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=help, formatter_class=_Help)

    run = command("run", "import a book and run simulated days")
    up = command("up", "deploy the stack and keep it running for the AWS CLI / SDKs")
    gen = command("book", "write the synthetic book to a folder")
    chk = command("strategy-check", "validate strategy documents (YAML or JSON)")
    chk.add_argument("files", type=Path, nargs="+", help="strategy documents")
    chk.add_argument(
        "--param",
        type=_param,
        action="append",
        default=[],
        help="template parameter the check depends on: Buckets=SPEC (default: the template's Buckets default)",
    )
    pub = command("strategy-publish", "publish strategy documents to a deployed stack's StrategiesTable")
    pub.add_argument("files", type=Path, nargs="+", help="strategy documents; all are checked before any is published")
    pub.add_argument("--table", required=True, help="the stack's StrategiesTableName output")
    back = command("strategy-rollback", "re-activate the version before the active one")
    back.add_argument("strategy_id", help="e.g. cn-default")
    back.add_argument("--table", required=True, help="the stack's StrategiesTableName output")
    why = command("explain", "why an action happened, or a loan's whole story and why it was (not) worked")
    why.add_argument("id", help="an action id or a loan id")
    why.add_argument("--out", type=Path, default=Path("out"), help="the folder `arrears run` wrote")
    ask = command("query", "run Athena SQL or a named query locally (DuckDB) over the outcomes `arrears run` wrote")
    ask.add_argument("sql", nargs="?", help="Athena SQL over the table outcomes (or --named, or --list)")
    ask.add_argument("--named", metavar="NAME", help="a named query (infra/athena/queries/NAME.sql; --list shows them)")
    ask.add_argument(
        "--param", type=_param, action="append", default=[], help="a named query's parameter, e.g. from_date=2026-03-01"
    )
    ask.add_argument("--list", action="store_true", help="the named queries, one a line, with their parameters")
    ask.add_argument("--out", type=Path, default=Path("out"), help="the folder `arrears run` wrote")
    shape = ask.add_mutually_exclusive_group()
    shape.add_argument("--csv", action="store_true", help="CSV with a header row (text cells safe for spreadsheets)")
    shape.add_argument("--json", action="store_true", help="a JSON list of objects")
    what = command("whatif", "the same book and world under each strategy, side by side, over several seeds")
    what.add_argument(
        "--strategy", type=Path, action="append", required=True, help="a strategy document (repeatable: one run each)"
    )
    what.add_argument("--book", type=Path, help="a book folder (default: a synthetic book of --borrowers)")
    what.add_argument("--borrowers", type=_positive, default=500, help="size of the synthetic book (without --book)")
    what.add_argument("--days", type=_positive, default=45, help="simulated days of each run")
    what.add_argument("--start", type=_date, help="first simulated day (default: the day before the earliest due date)")
    what.add_argument("--world", default="default", help="the borrowers' world (as arrears run --world)")
    what.add_argument("--seeds", type=_positive, default=3, help="runs of each strategy, each with its own seed")
    what.add_argument("--seed", type=int, default=7, help="the first seed (then seed+1, ...)")
    what.add_argument("--jobs", type=_positive, default=2, help="runs at a time")
    what.add_argument(
        "--core",
        action="store_true",
        help="run the domain core in process instead of the whole local stack (seconds, not minutes; the same "
        "figures: tests/e2e/test_core_matches_stack.py)",
    )
    what.add_argument(
        "--cost",
        type=_costs,
        default={},
        help="cost of one contact by channel, e.g. sms=0.05,voice=1.2 (the rest as the default: "
        + ",".join(f"{k}={v}" for k, v in DEFAULT_COST.items())
        + ")",
    )
    what.add_argument(
        "--param", type=_param, action="append", default=[], help="template parameter override for every run"
    )
    what.add_argument("--out", type=Path, default=Path("out/whatif"), help="where the runs and whatif.json go")
    learn = command("train", "learn the propensity-to-pay model from the outcomes `arrears run` wrote")
    learn.add_argument("--out", type=Path, default=Path("out"), help="the folder `arrears run` wrote")
    learn.add_argument(
        "--split-day",
        type=_positive,
        default=40,
        help="train on the decisions before this day of the data, test on the rest",
    )
    adv = command("advance", "move a running arrears up's clock on, firing the schedules it passes (as arrears run does)")
    adv.add_argument("--days", type=float, default=1.0, help="how far (fractions allowed: 0.5 is twelve hours)")
    adv.add_argument("--api-port", type=_port, default=3000, help="the port of arrears up's API")
    tok = command("token", "print a bearer token for the local stack's operations API (arrears up), and nothing else")
    tok.add_argument(
        "--role", required=True, choices=["admin", "supervisor", "agent", "analyst"], help="the user's role"
    )
    tok.add_argument("--user", required=True, help="the user's name, e.g. ann (as the audit trail shows it)")
    tok.add_argument("--minutes", type=_positive, default=60, help="how long the token is valid (at most 1440)")
    tok.add_argument("--out", type=Path, default=Path("out"), help="the folder of the running stack (arrears up: out)")
    red = command("redrive", "try again everything in a deployed stack's dead-letter queues (exit 0: all empty)")
    red.add_argument("--stack", required=True, help="the CloudFormation stack's name")
    red.add_argument("--region", help="its region (default: AWS_REGION or the profile's)")
    red.add_argument("--dry-run", action="store_true", help="count what each DLQ holds and say what would be done")
    for sp in (run, up):
        sp.add_argument("--book", type=Path, help="folder with borrowers/loans/installments/repayments files")
        sp.add_argument(
            "--param",
            type=_param,
            action="append",
            default=[],
            help="template parameter override, e.g. --param ShardCount=4 (repeatable)",
        )
        sp.add_argument("--borrowers", type=_positive, default=5000, help="size of the synthetic book (without --book)")
    run.add_argument("--start", type=_date, help="first simulated day (default: the day before the earliest due date)")
    run.add_argument("--days", type=_positive, default=60, help="simulated days")
    run.add_argument("--out", type=Path, default=Path("out"), help="where reports, outcomes and logs go")
    run.add_argument("--http", action="store_true", help="handlers call the emulator over HTTP (slower)")
    run.add_argument("--strict", action="store_true", help="exit 1 when the importer rejected any row or file")
    run.add_argument(
        "--faults",
        type=_rate,
        default=0.0,
        help="inject faults at this rate (0-0.5): AWS requests throttled, 5xx or timed out after applying, "
        "every message delivered twice, handlers crashing before acknowledging; DLQs redriven at the end",
    )
    run.add_argument(
        "--world",
        help="who the borrowers are: default or fatigued (borrowers who answer back: README: Worlds), scripted "
        "(the book's repayment files, as they are), or your own as module:Name or file.py:Name. Without it: "
        "scripted for a --book with repayment files, default otherwise",
    )
    run.add_argument("--seed", type=int, default=7, help="seed of the world's borrowers and of the injected faults")
    run.add_argument(
        "--audit",
        action="store_true",
        help="also write out/audit/: every provider call by action, the cures, the loans' final state (make soak)",
    )
    run.add_argument(
        "--publish",
        type=Path,
        action="append",
        default=[],
        help="publish this strategy document (a new active version) before the first day (repeatable)",
    )
    run.add_argument(
        "--snapshot",
        action="store_true",
        help="also keep the final state in OUT/snapshot/ (it holds the book's personal data): "
        "arrears up --snapshot OUT/snapshot opens it, with the console",
    )
    run.add_argument(
        "--dry-run",
        type=Path,
        help="after the last day, dry-run this strategy document over the book: counts, nothing sent",
    )
    up.add_argument("--port", type=_port, default=4566, help="port of the endpoint on 127.0.0.1")
    up.add_argument(
        "--snapshot", type=Path, help="start from a run's final state (arrears run --snapshot) instead of a book"
    )
    up.add_argument("--api-port", type=_port, default=3000, help="port of the stack's HTTP API on 127.0.0.1")
    run.add_argument(
        "--api-port", type=_port, default=0, help="port of the stack's HTTP API on 127.0.0.1 (0: any free one)"
    )
    gen.add_argument(
        "dest", type=Path, help="folder to write borrowers.csv, loans.csv, installments.csv, repayments.csv"
    )
    gen.add_argument("--borrowers", type=_positive, default=5000, help="borrowers in the book")
    gen.add_argument("--seed", type=int, default=7, help="same seed, same book")
    gen.add_argument("--force", action="store_true", help="overwrite the book already in DEST")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    commands: dict[str, Callable[[argparse.Namespace], int]] = {
        "run": _run,
        "up": _up,
        "book": _book,
        "explain": _explain,
        "strategy-check": _check_strategies,
        "strategy-publish": _strategy_admin,
        "strategy-rollback": _strategy_admin,
        "redrive": _redrive,
        "query": _query,
        "whatif": _whatif,
        "train": _train,
        "token": _token,
        "advance": _advance,
    }
    try:
        return commands[args.cmd](args)
    except UsageError as e:
        print(f"arrears {args.cmd}: error: {e}", file=sys.stderr)
        return 2
    except Failure as e:
        print(f"arrears {args.cmd}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"arrears {args.cmd}: interrupted", file=sys.stderr)
        return 130


# ------------------------------------------------------------------------------------------ run


def _load_book(args: argparse.Namespace) -> Book:
    try:
        if args.book:
            return Book.load(args.book)
        return Book.load(synthetic_book(Path(tempfile.mkdtemp(prefix="arrears-book-")), args.borrowers))
    except ValueError as e:
        raise UsageError(str(e)) from None


def _world(args: argparse.Namespace, book: Book) -> tuple[str, Any]:
    """The run's world by name, and the world (None: the book's repayment files replayed)."""
    from .world import WorldError, load

    name = args.world or ("scripted" if args.book and book.files.get("repayments") else "default")
    try:
        return name, load(name)
    except WorldError as e:
        raise UsageError(str(e)) from None


def _run_inputs(args: argparse.Namespace) -> tuple[list[dict[str, Any]], Any, Book, date]:
    """Everything the run needs from the user, checked before the stack starts: the parameters, the
    strategy documents (against the run's buckets), the book and the first day."""
    if args.faults and args.http:
        raise UsageError("--faults needs the in-process emulator: leave out --http")
    published = [load_strategy(path) for path in args.publish]
    params = check_params(dict(args.param), shipped_strategy_ids() | {s.id for _, s in published})
    buckets = bucket_names(params)
    for path, (_, strategy) in zip(args.publish, published, strict=True):
        problems = never_matching(strategy, buckets)
        if problems:
            raise StrategyInvalid(path, problems)
    dry = load_strategy(args.dry_run, buckets)[1] if args.dry_run else None
    book = _load_book(args)
    try:
        start = args.start or book.earliest_due() - timedelta(days=1)
    except ValueError as e:
        raise UsageError(f"{e}: give --start") from None
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"--out {args.out}: {e.strerror or e}") from None
    return [doc for doc, _ in published], dry, book, start


def _costs(text: str) -> dict[str, float]:
    costs = {}
    for part in text.split(","):
        channel, sep, value = part.partition("=")
        if not sep or channel.strip() not in DEFAULT_COST:
            raise argparse.ArgumentTypeError(f"{part!r}: not channel=cost with a channel of {', '.join(DEFAULT_COST)}")
        try:
            costs[channel.strip()] = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{part!r}: {value!r} is not a number") from None
        if not math.isfinite(costs[channel.strip()]) or costs[channel.strip()] < 0:
            raise argparse.ArgumentTypeError(f"{part!r}: a cost is a number of at least 0")
    return costs


def _train(args: argparse.Namespace) -> int:
    """Decisions from the run's facts, a time split, the model trained and tested; written with its
    evaluation to OUT/model/propensity.json."""
    from arrears.domain import propensity

    from .explain import facts_in

    folder = args.out / "outcomes" / "facts"
    if not folder.is_dir():
        raise UsageError(f"{folder} does not exist: run `arrears run --out {args.out}` first")
    try:
        rows = propensity.decisions(list(facts_in(folder)))
    except ValueError as e:
        raise Failure(str(e)) from None
    try:
        _, doc = propensity.fit(rows, args.split_day)
    except ValueError as e:
        raise Failure(f"{e} (run more days, or move --split-day)") from None
    test = doc["test"]
    (args.out / "model").mkdir(parents=True, exist_ok=True)
    (args.out / "model" / "propensity.json").write_text(json.dumps(doc, indent=1))
    cal = test["calibration"]
    print(
        f"trained on {doc['train']['decisions']} decisions before day {args.split_day}, tested on "
        f"{test['decisions']} from it on: "
        f"AUC {test['auc']} (the heuristic's {doc['heuristic_test_auc']}), Brier {cal['brier']}, ECE {cal['ece']}; "
        f"{'it ranks better than the heuristic' if doc['choice'] == 'new' else 'the heuristic ranks better'}"
    )
    for b in cal["bins"]:
        print(
            f"  predicted {b['from']:.1f}-{b['to']:.1f}: {b['decisions']:>6} decisions, predicted {b['predicted']:.3f}, observed {b['observed']:.3f}"
        )
    print(f"model and evaluation in {args.out / 'model' / 'propensity.json'}")
    return 0


def _whatif(args: argparse.Namespace) -> int:
    from .whatif import Plan, WhatIfError, run_all, scratch_book, table
    from .world import WorldError, load

    for path in args.strategy:
        load_strategy(path)  # each valid before anything runs
    if len(set(map(Path.resolve, args.strategy))) != len(args.strategy):
        raise UsageError("a strategy document is named twice")
    try:
        load(args.world)
    except WorldError as e:
        raise UsageError(str(e)) from None
    params = dict(args.param)
    check_params(params, shipped_strategy_ids() | {load_strategy(p)[1].id for p in args.strategy})
    if args.core:
        from .whatif import CORE_PARAMS, core_config

        if args.world == "scripted":
            raise UsageError("--core needs a world that answers (default, fatigued or module:Name), not scripted")
        beyond = sorted(set(params) - set(CORE_PARAMS))
        if beyond:
            raise UsageError(f"--core does not model --param {beyond[0]} (it models {', '.join(CORE_PARAMS)})")
        try:
            core_config(check_params(params))
        except ValueError as e:
            raise UsageError(f"--param: {e}") from None
    if args.book:
        _load_book(args)  # readable before anything runs
    book = args.book or scratch_book(args.borrowers)
    plan = Plan(
        strategies=list(args.strategy),
        book=book,
        days=args.days,
        world=args.world,
        seeds=[args.seed + n for n in range(args.seeds)],
        out=args.out,
        params=[f"{k}={v}" for k, v in params.items()],
        cost={**DEFAULT_COST, **args.cost},
        start=args.start.isoformat() if args.start else None,
        parallel=args.jobs,
        core=args.core,
    )
    runs = len(plan.strategies) * len(plan.seeds)
    print(
        f"what-if: {runs} runs ({len(plan.strategies)} strategies x seeds {plan.seeds}), world {args.world}, {args.days} days"
        + (", the domain core in process" if args.core else "")
    )
    try:
        result = run_all(plan)
    except WhatIfError as e:
        raise Failure(str(e)) from None
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "whatif.json").write_text(json.dumps(result, indent=1))
    from arrears.domain.report_html import render_whatif

    (args.out / "whatif.html").write_text(render_whatif(result), encoding="utf-8")
    print(table(result))
    print(f"means over {len(plan.seeds)} seeds, ± half the 95% interval; all figures in {args.out / 'whatif.json'}")
    print(f"the same as charts (open it in a browser): {args.out / 'whatif.html'}")
    return 0


def _start_world(world: Any, name: str, sim: Any, book: Book, seed: int, out: Path) -> Any:
    """The run's world on the stack (its hooks installed), or None for the book's repayment files."""
    from .world import WorldError, WorldRun

    if world is None:
        print("world: scripted (the book's repayment files, as they are)")
        for stale in ("world.json", "world.jsonl"):  # an earlier run's world must not read as this one's
            (out / stale).unlink(missing_ok=True)
        return None
    try:
        run = WorldRun(world, name, sim, book, seed)
    except WorldError as e:
        raise Failure(str(e)) from None
    run.install()
    print(f"world: {name} (seed {seed}): its borrowers pay through the webhook")
    return run


def _where_things_are(out: Path, seconds: float, snapshot: bool) -> None:
    print(f"done in {seconds:.1f}s; reports and outcomes in {out}/", flush=True)
    if (out / "report.html").is_file():
        print(f"the readable report (open it in a browser): {out}/report.html", flush=True)
    if snapshot:
        print(
            f"open the console on this run's final state: .venv/bin/arrears up --snapshot {out}/snapshot, "
            "then http://127.0.0.1:3000/console (user sue, role supervisor)",
            flush=True,
        )


def _run(args: argparse.Namespace) -> int:
    docs, dry, book, start = _run_inputs(args)
    world_name, world = _world(args, book)
    from .rejects import warning_line
    from .sim import day_line, midnight, start_stack
    from .world import problems as world_problems

    out: Path = args.out
    t0 = time.perf_counter()
    sim = start_stack(out, dict(args.param), in_process=not args.http, start_clock=midnight(start, "UTC"))
    try:
        print(
            f"local stack up at {sim.emulator.endpoint} (stack {sim.dep.physical['ImportsBucket'].split('-imports')[0]})"
        )
        print(f"API at {sim.start_api(args.api_port)}/v1 (signed with the WebhookSecret; README: The API)")
        sim.runner.clock.now = midnight(start, sim.business_tz)
        for doc in docs:
            print(f"published {sim.publish(doc)}")
        sim.import_book(book)
        print(f"imported book in {sim.timings['import_s']:.1f}s; simulating {args.days} days from {start}")
        run = _start_world(world, world_name, sim, book, args.seed, out)
        if args.faults:
            from . import faults

            faults.install(faults.Faults(args.faults, args.seed))
        try:
            sim.run_days(book, start, args.days, lambda r: print(day_line(r), flush=True), run)
        finally:
            if run is not None:
                run.uninstall()
        if args.faults:
            _final_redrive(sim)
        if run is not None:
            run.write(out)
            print(run.line())
        sim.write_out()
        if args.snapshot:
            sim.write_snapshot(out / "snapshot")
        if args.audit:
            sim.write_audit()
        if dry is not None:
            _print_dry_run(args.dry_run, sim.dry_run(dry), out)
        problems = sim.problems() + world_problems(run)
        warning = warning_line(sim.import_reports(), f"{out}/imports/")
    finally:
        sim.stop()
    _where_things_are(out, time.perf_counter() - t0, args.snapshot)
    for line in ([warning] if warning else []) + problems:
        print(line, file=sys.stderr)
    if problems:
        return 1
    return 1 if warning and args.strict else 0


def _rate(text: str) -> float:
    try:
        rate = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= rate <= 0.5:
        raise argparse.ArgumentTypeError(f"{text} is not a rate from 0 to 0.5")
    return rate


def _final_redrive(sim: Any) -> None:
    """Faults off, then every DLQ redriven until empty: only what still fails counts."""
    from . import faults
    from .redrive import redrive

    injected = faults.active.injected if faults.active else {}
    faults.install(None)
    moved = redrive(sim.runner)
    print(
        f"faults injected: {sum(injected.values())}; redriven from DLQs: {sum(moved.values())} {moved or ''}".rstrip()
    )


def _print_dry_run(path: Path, result: dict, out: Path) -> None:
    (out / "dry-run.json").write_text(json.dumps(result, indent=1))
    print(f"dry run of {path} over {result['loans']} delinquent loans (nothing sent):")
    for row in result["by_step"]:
        print(f"  {row['variant']:<12} {row['segment']:<16} {row['step']:<18} {row['channel']:<8} {row['loans']}")
    print(f"  no action: {result['no_action']}")


# ------------------------------------------------------------------------------------------- up


def _port_free(port: int) -> None:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds it
        try:
            s.bind(("127.0.0.1", port))
        except OSError as e:
            raise Failure(
                f"port {port} on 127.0.0.1 is already in use ({e.strerror}); stop what holds it or choose --port"
            ) from None


def _up(args: argparse.Namespace) -> int:
    _port_free(args.port)
    _port_free(args.api_port)
    params = dict(args.param)
    if args.snapshot is not None:
        state = args.snapshot / "snapshot.json"
        if not state.is_file():
            raise UsageError(f"{args.snapshot} is not a snapshot (no snapshot.json): arrears run --snapshot makes one")
        saved = json.loads(state.read_text(encoding="utf-8"))["params"]
        local = ("VoiceDialer", "WechatGatewayUrl", "OpsJwksUrl", "OpsIssuer", "OpsClientId")  # this stack's own
        params = {**{k: v for k, v in saved.items() if k not in local}, **params}
    check_params(params)
    book = None if args.snapshot is not None else _load_book(args)
    from .rejects import warning_line
    from .sim import start_stack

    say = _progress
    say(f"deploying template.yaml into the embedded emulator on 127.0.0.1:{args.port} ...")
    t0 = time.perf_counter()
    sim = start_stack(Path("out"), params, in_process=False, port=args.port)
    try:
        say(f"deployed in {time.perf_counter() - t0:.1f}s; published {', '.join(sim.published)}")
        if book is None:
            counts = sim.restore_snapshot(args.snapshot)
            say(f"restored {sum(counts.values())} items from {args.snapshot}; the clock at {sim.runner.clock.now.isoformat()}")
            _serve_up(sim, args)
            return 0
        files = [
            p.name for kind in ("borrowers", "loans", "installments", "repayments") for p in book.files.get(kind, [])
        ]
        say(f"importing {len(files)} file(s): {', '.join(files)} ...")
        t1 = time.perf_counter()
        sim.import_book(book)
        feed = sim.start_repayments(book)
        sim.deliver_repayments(datetime.now(UTC))
        sim.runner.clock.now = datetime.now(UTC)
        later = feed.next_at()
        say(
            f"imported in {time.perf_counter() - t1:.1f}s; {feed.pending()} repayment row(s) paid later arrive when "
            f"the clock passes their paid_at" + (f" (next {later.isoformat()})" if later else "")
        )
        warning = warning_line(sim.import_reports(), f"s3://{sim.imports_bucket}/<file>.rejects.json")
        if warning:
            print(warning, file=sys.stderr, flush=True)
        _serve_up(sim, args)
    finally:
        sim.stop()
    return 0


def _serve_up(sim: Any, args: argparse.Namespace) -> None:
    """Print the stack's names and addresses, serve its API and console, and follow the clock."""
    import queue as queues

    _print_names(sim)
    requests: queues.Queue[Any] = queues.Queue()
    sim.local_routes[("POST", "/local/advance")] = lambda body: _advance_request(requests, body)
    api = sim.start_api(args.api_port)
    print(f"  API: {api}/v1   (signed with the WebhookSecret; README: The API)", flush=True)
    print(
        f"  operations API: {api}/v1/ops   (a bearer token: arrears token --role supervisor --user ann; "
        "README: The operations API and console)",
        flush=True,
    )
    print(f"  console: {api}/console   (sign in as: user sue, role supervisor)", flush=True)
    print(f"  the clock: {sim.runner.clock.now.isoformat()} (arrears advance --days N moves it on)", flush=True)
    _serve(sim, requests)


def _advance_request(requests: Any, body: bytes) -> Any:
    """``POST /local/advance`` on ``arrears up``'s front: ``{"days": N}`` -> the clock moved on and what
    fired, once the serving loop has done it."""
    import queue as queues

    from .api_front import Response

    def answer(status: int, data: dict[str, Any]) -> Any:
        return Response(status, [("Content-Type", "application/json")], json.dumps(data).encode())

    try:
        days = json.loads(body or b"{}").get("days", 1)
    except (ValueError, AttributeError):
        return answer(400, {"Code": "BadRequest", "Message": "the body must be {\"days\": N}"})
    if isinstance(days, bool) or not isinstance(days, int | float) or not 0 < days <= 366:
        return answer(400, {"Code": "BadRequest", "Message": "days must be a number above 0, at most 366", "field": "days"})
    reply: queues.Queue[Any] = queues.Queue()
    requests.put((float(days), reply))
    try:
        return answer(200, reply.get(timeout=3600))
    except queues.Empty:
        return answer(503, {"Code": "ServiceUnavailable", "Message": "the stack did not finish the advance in an hour"})


def _advance(args: argparse.Namespace) -> int:
    import urllib.error
    import urllib.request

    if not 0 < args.days <= 366:
        raise UsageError(f"--days {args.days:g}: a number of days above 0, at most 366")
    url = f"http://127.0.0.1:{args.api_port}/local/advance"
    body = json.dumps({"days": args.days}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=3700) as r:
            result = json.loads(r.read())
    except urllib.error.HTTPError as e:
        raise Failure(f"arrears up refused: {json.loads(e.read() or b'{}').get('Message', e.reason)}") from None
    except (urllib.error.URLError, OSError) as e:
        raise Failure(f"no arrears up answers on 127.0.0.1:{args.api_port} ({getattr(e, 'reason', e)}): start it first") from None
    for line in result["fired"]:
        print(f"fired {line}")
    print(f"the clock is now {result['now']}")
    return 0


def _progress(text: str) -> None:
    print(text, flush=True)


def _print_names(sim: Any) -> None:
    endpoint = sim.emulator.endpoint
    hints = {
        "StrategiesTable": "strategy-publish / strategy-rollback --table",
        "ImportsBucket": "drop platform files here",
        "OutcomesBucket": "facts, reports, run summaries",
    }
    print(f"arrears local stack: endpoint {endpoint}  region us-east-1  (credentials: testing/testing)")
    for title, rtype in (
        ("tables", "AWS::DynamoDB::Table"),
        ("buckets", "AWS::S3::Bucket"),
        ("queues", "AWS::SQS::Queue"),
    ):
        print(f"  {title}:")
        for logical, res in sorted(sim.dep.cfn["Resources"].items()):
            if res["Type"] == rtype and logical in sim.dep.physical:
                hint = f"   <- {hints[logical]}" if logical in hints else ""
                print(f"    {logical:<30} {sim.dep.physical[logical]}{hint}")
    table = sim.dep.physical["StrategiesTable"]
    print(f"  e.g. aws --endpoint-url {endpoint} dynamodb list-tables")
    print(
        f"       AWS_ENDPOINT_URL={endpoint} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "
        f"arrears strategy-publish --table {table} FILE.yaml"
    )
    print("  files dropped into the imports bucket are imported; Ctrl-C stops", flush=True)


def _serve(sim: Any, requests: Any) -> None:
    """Follow the wall clock, moved on by ``arrears advance`` (``requests``: (days, reply queue) from
    the front's /local/advance): the book's repayments as their time comes, every schedule whose time
    is passed fired as ``arrears run`` fires it, what is pending run; say at once when something
    fails for good."""
    import queue as queues

    reported: set[str] = set()
    checked = 0.0
    offset = sim.runner.clock.now - datetime.now(UTC)  # a snapshot's clock goes on from where it stopped
    try:
        while True:
            try:
                days, reply = requests.get(timeout=1.0)
            except queues.Empty:
                days, reply = 0.0, None
            offset += timedelta(days=days)
            fired = sim.advance_to(datetime.now(UTC) + offset)
            for line in fired:
                print(f"  {line} fired", flush=True)
            if reply is not None:
                reply.put({"now": sim.runner.clock.now.isoformat(), "fired": fired})
            if time.monotonic() - checked > 5:
                checked = time.monotonic()
                for line in sim.problems():
                    if line not in reported:
                        reported.add(line)
                        print(line, file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        print("stopped")


# ---------------------------------------------------------------------------------------- token


def _token(args: argparse.Namespace) -> int:
    from .auth import MAX_MINUTES, mint

    user = args.user.strip()
    if not user or len(user) > 128 or not user.isprintable():
        raise UsageError("--user must be 1-128 printable characters")
    if args.minutes > MAX_MINUTES:
        raise UsageError(f"--minutes must be at most {MAX_MINUTES}")
    try:
        print(mint(args.out, args.role, user, args.minutes))
    except FileNotFoundError as e:
        raise Failure(str(e)) from None
    return 0


# ----------------------------------------------------------------------------------------- book


def _book(args: argparse.Namespace) -> int:
    from arrears.domain.importing import KINDS

    dest: Path = args.dest
    if dest.exists() and not dest.is_dir():
        raise UsageError(f"{dest} exists and is not a folder")
    existing = sorted(
        p.name
        for p in (dest.iterdir() if dest.is_dir() else ())
        if p.name.startswith(tuple(KINDS)) and p.suffix in (".csv", ".jsonl")
    )
    if existing and not args.force:
        raise Failure(f"{dest} already holds a book ({', '.join(existing)}); --force overwrites it")
    try:
        synthetic_book(dest, args.borrowers, args.seed)
    except OSError as e:
        raise Failure(f"cannot write the book to {dest}: {e.strerror or e}") from None
    print(f"synthetic book of {args.borrowers} borrowers written to {dest}")
    return 0


# -------------------------------------------------------------------------------------- explain


def _explain(args: argparse.Namespace) -> int:
    from .explain import explain, facts_in, runs_in, shard_count_in, zones_in

    out: Path = args.out
    folder = out / "outcomes" / "facts"
    if not folder.is_dir():
        raise UsageError(f"{folder} does not exist: run `arrears run --out {out}` first")
    try:
        lines = explain(facts_in(folder), args.id, zones_in(out), runs_in(out), shard_count_in(out))
    except ValueError as e:
        raise Failure(str(e)) from None
    if not lines:
        raise Failure(f"no action or loan {args.id!r} in {folder}")
    print("\n".join(lines))
    return 0


def _query(args: argparse.Namespace) -> int:
    from . import query

    try:
        queries = query.named_queries()
        if args.list:
            if args.sql or args.named or args.param:
                raise UsageError("--list takes no query")
            print(query.listing(queries), end="")
            return 0
        if bool(args.sql) == bool(args.named):
            raise UsageError("give either SQL or --named NAME (--list shows the named queries)")
        if args.named:
            if args.named not in queries:
                raise UsageError(f"no named query {args.named!r} (arrears query --list shows them)")
            named = queries[args.named]
            sql, values = named.sql, query.bind(named, dict(args.param))
        else:
            if args.param:
                raise UsageError("--param is for a named query; write the values into the SQL")
            sql, values = args.sql, []
        columns, rows = query.run(args.out, sql, values)
    except query.QueryError as e:
        raise Failure(str(e)) from None
    shown = query.as_csv if args.csv else query.as_json if args.json else query.as_table
    sys.stdout.write(shown(columns, rows))
    return 0


# ----------------------------------------------------------------------------------- strategies


def _check_strategies(args: argparse.Namespace) -> int:
    buckets = bucket_names(check_params(dict(args.param)))
    bad = 0
    for path in args.files:
        try:
            _, s = load_strategy(path, buckets)
        except StrategyInvalid as e:
            bad += 1
            print(f"{path}: invalid")
            for problem in e.problems:
                print(f"  - {problem}")
            continue
        except UsageError as e:
            bad += 1
            print(e)
            continue
        arms = ", ".join(f"{v.name} {v.share:.0%}" for v in s.variants)
        print(f"{path}: ok ({s.id} v{s.version}; {len(s.champion.segments)} segments; arms: {arms})")
    return 1 if bad else 0


def _strategy_admin(args: argparse.Namespace) -> int:
    """Against AWS (the usual credentials and region) or any endpoint in AWS_ENDPOINT_URL."""
    docs = [load_strategy(path)[0] for path in getattr(args, "files", [])]  # all valid before any is published
    from arrears.adapters import strategy_store
    from arrears.adapters.models import StrategyModel

    StrategyModel.Meta.table_name = args.table
    StrategyModel._connection = None
    try:
        if args.cmd == "strategy-rollback":
            print(f"{args.strategy_id}: version {strategy_store.rollback(args.strategy_id)} is active again")
            return 0
        for path, doc in zip(args.files, docs, strict=True):
            s = strategy_store.publish(doc, datetime.now(UTC))
            print(f"{path}: published {s.id} v{s.version}, now active")
    except strategy_store.StrategyStoreError as e:
        raise Failure(str(e)) from None
    except Exception as e:
        message = _aws_problem(
            e,
            f"table {args.table!r} does not exist there: use the stack's StrategiesTableName output (arrears up prints it)",
        )
        if message is None:
            raise
        raise Failure(message) from None
    return 0


def _aws_problem(e: BaseException, not_found: str) -> str | None:
    """One line for what went wrong talking to AWS (pynamodb wraps botocore's errors), or None."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
    )
    from pynamodb.exceptions import PynamoDBException

    cause: BaseException | None = e
    code = None
    while isinstance(cause, PynamoDBException):
        code = code or getattr(cause, "cause_response_code", None)
        cause = getattr(cause, "cause", None) or cause.__cause__
    if isinstance(cause, NoCredentialsError | PartialCredentialsError):
        return (
            "no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
            "(for a local stack: AWS_ENDPOINT_URL and testing/testing)"
        )
    if isinstance(cause, NoRegionError):
        return "no AWS region: set AWS_REGION"
    if isinstance(cause, EndpointConnectionError):
        return f"cannot reach the AWS endpoint: {cause}"
    if isinstance(cause, ClientError):
        code = code or cause.response.get("Error", {}).get("Code")
    if code == "ResourceNotFoundException":
        return not_found
    if code or isinstance(cause, ClientError | BotoCoreError):
        return f"AWS refused the request ({code or type(cause).__name__}): {cause}"
    return None


# -------------------------------------------------------------------------------------- redrive


def _redrive(args: argparse.Namespace) -> int:
    """Against AWS (the usual credentials) or any endpoint in AWS_ENDPOINT_URL; see redrive_aws.py."""
    from . import redrive_aws
    from .dlqs import AmbiguousDeadLetterQueue

    try:
        clients = redrive_aws.connect(args.region)
        stack = redrive_aws.load_stack(clients.cfn, args.stack)
        _progress(f"dead-letter queues of stack {args.stack} in {clients.cfn.meta.region_name}:")
        invoke = redrive_aws.lambda_invoker(clients.lambda_)
        results = redrive_aws.redrive(stack, clients, invoke, args.dry_run, _progress)
    except (redrive_aws.CannotStart, AmbiguousDeadLetterQueue) as e:
        raise Failure(str(e)) from None
    except Exception as e:
        message = _aws_problem(e, f"stack {args.stack!r}: {e}")
        if message is None:
            raise
        raise Failure(message) from None
    for line in redrive_aws.problems(results):
        print(line, file=sys.stderr)
    return 1 if any(r.left for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
