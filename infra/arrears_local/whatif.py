"""``arrears whatif``: the same book and the same world under each strategy, side by side.

Each strategy document is published on its own stack (``arrears run --publish``) and the days run
with the same book, world and seed; that is repeated for ``--seeds`` seeds (the world's draws differ
by seed), two runs at a time. The whole pipeline runs each time: what arrears would do in AWS, not a
model of it. From each run's outputs (the last day's champion/challenger state, the facts and
``world.json``):

- recovered (by currency) and the recovery rate: per case, recovered over the amount overdue when
  the case was first worked, averaged over cases (a ratio, so currencies never mix: as the daily
  report's arms comparison);
- cures, contacts and their cost by channel (``--cost``), contacts per cured loan;
- complaints and opt-outs (the world's), and the guard's blocks and deferrals by rule.

Each figure is the mean over seeds with a 95% confidence interval (Student's t over the seeds).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

#: cost of one contact by channel, in cost units (a lender sets its own: --cost sms=0.05,...)
DEFAULT_COST = {"sms": 0.05, "email": 0.01, "wechat": 0.02, "voice": 1.2, "letter": 2.5}
#: Student's t, two-sided 95%, by degrees of freedom (more than 10: 2.0 is close enough, 1.96 at infinity)
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}
CHANNELS = ("sms", "email", "wechat", "voice", "letter")
ZERO_WHEN_ABSENT = {"recovered", "guard_by_rule"}


class WhatIfError(RuntimeError):
    """A run that failed: its exit status and the last line it printed."""


@dataclass(frozen=True)
class Plan:
    strategies: list[Path]
    book: Path
    days: int
    world: str
    seeds: list[int]
    out: Path
    params: list[str]
    cost: dict[str, float]
    start: str | None = None
    parallel: int = 2
    core: bool = False  # the domain core in process (core.py) instead of the whole stack


#: the template parameters the core in process models (``--core`` refuses an override of any other)
CORE_PARAMS = ("Strategies", "GraceDays", "Buckets", "ChannelCapacity", "BanditExploration", "BusinessTimeZone")


def run_all(plan: Plan, progress: Any = print) -> dict[str, Any]:
    """Every (strategy, seed) run, two at a time (with ``core``: one after the other, in process); the
    figures by strategy."""
    jobs = [(s, seed) for s in plan.strategies for seed in plan.seeds]

    def one(job: tuple[Path, int]) -> tuple[Path, int, dict[str, Any]]:
        strategy, seed = job
        if plan.core:
            got = core_figures(plan, strategy, seed)
            progress(f"  {strategy.name} seed {seed}: done")
            return strategy, seed, got
        out = plan.out / "runs" / f"{_label(strategy, plan.strategies)}-seed{seed}"
        argv = [
            sys.executable, "-m", "arrears_local.cli", "run", "--book", str(plan.book), "--days", str(plan.days),
            "--world", plan.world, "--seed", str(seed), "--publish", str(strategy), "--out", str(out),
        ]  # fmt: skip
        argv += [a for p in plan.params for a in ("--param", p)]
        argv += ["--start", plan.start] if plan.start else []
        done = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        if done.returncode != 0:
            last = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or ["(nothing printed)"]
            raise WhatIfError(f"{strategy.name} seed {seed}: arrears run exited {done.returncode}: {last[0]} (see {out})")
        progress(f"  {strategy.name} seed {seed}: done")
        return strategy, seed, figures(out, plan.cost)

    with ThreadPoolExecutor(1 if plan.core else max(1, plan.parallel)) as pool:
        results = list(pool.map(one, jobs))
    by_strategy: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for strategy, _, f in results:
        by_strategy[_label(strategy, plan.strategies)].append(f)
    return {
        "book": str(plan.book),
        "days": plan.days,
        "world": plan.world,
        "engine": "the domain core in process (arrears whatif --core)" if plan.core else "the local stack (arrears run)",
        "seeds": plan.seeds,
        "cost_per_contact": plan.cost,
        "strategies": {label: {"file": str(_file(label, plan.strategies)), **summarise(runs)} for label, runs in by_strategy.items()},
    }


def core_figures(plan: Plan, strategy: Path, seed: int) -> dict[str, Any]:
    """One run of the domain core in process (``core.py``): the shipped strategies with ``strategy``
    published over the one of its id, as ``arrears run --publish`` does; the bandit and the model
    learning as the stack learns them."""
    from datetime import date, timedelta

    from arrears.config import parse_pairs
    from arrears.domain.strategies import parse_strategy

    from . import world as worlds
    from .adaptive import run_figures
    from .book import Book
    from .checks import check_params, read_document
    from .core import CoreRun, Learning
    from .sim import STRATEGIES

    params = check_params(dict(p.split("=", 1) for p in plan.params))  # type: ignore[arg-type]
    docs = {str(d["id"]): d for d in map(read_document, sorted(STRATEGIES.glob("*.yaml")))}
    doc = read_document(strategy)
    docs[str(doc["id"])] = doc
    strategies = {j.upper(): parse_strategy(docs[sid]) for j, sid in parse_pairs(params["Strategies"]).items() if sid in docs}
    config = core_config(params)
    book = Book.load(plan.book)
    start = date.fromisoformat(plan.start) if plan.start else book.earliest_due() - timedelta(days=1)
    world = worlds.load(plan.world)
    if world is None:
        raise WhatIfError("--core needs a world that answers (default, fatigued or module:Name), not scripted")
    try:
        run = CoreRun(book, world, seed, strategies, config, Learning(online=True)).run(start, plan.days)
    except worlds.WorldError as e:
        raise WhatIfError(f"{strategy.name} seed {seed}: {e}") from None
    if run.refused:
        raise WhatIfError(
            f"{strategy.name} seed {seed}: the world's reactions refused: {len(run.refused)} (first: {run.refused[0]})"
        )
    got = run_figures(run, plan.cost)
    out = plan.out / "runs" / f"{_label(strategy, plan.strategies)}-seed{seed}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "facts.jsonl").write_text("".join(json.dumps(r, default=str) + "\n" for r in run.rows()), encoding="utf-8")
    return got


def core_config(params: dict[str, str]) -> Any:
    """The core's settings from the template's parameters (each checked as the functions check their
    configuration: ValueError naming the first bad one)."""
    from arrears.config import CHANNELS, ConfigError, Settings

    from .core import Config

    names = ["LEDGER", "LOANS", "BORROWERS", "CONTACTS", "COLLECTIONS", "CONTACT_LEDGER", "STRATEGIES", "RUNS",
             "IDEMPOTENCY", "CAMPAIGNS"]  # fmt: skip
    resources = {f"{n}_TABLE": "in-process" for n in names} | {"OUTCOMES_BUCKET": "in-process"}
    queues = {f"{q.upper()}_QUEUE_URL": "in-process" for q in ("work", "callback", *CHANNELS)}
    env = {
        **resources,
        **queues,
        "BUSINESS_TZ": params["BusinessTimeZone"],
        "GRACE_DAYS": params["GraceDays"],
        "BUCKETS": params["Buckets"],
        "CHANNEL_CAPACITY": params["ChannelCapacity"],
        "STRATEGIES": params["Strategies"],
    }
    try:
        s = Settings.from_env(env)
    except ConfigError as e:
        raise ValueError(str(e).removeprefix("bad configuration: ")) from None
    share = float(params["BanditExploration"])
    if not 0 <= share <= 0.5:
        raise ValueError(f"BanditExploration={params['BanditExploration']}: a fraction from 0 to 0.5")
    return Config(s.business_tz, grace_days=s.grace_days, buckets=s.buckets, capacity=s.capacity, exploration=share)


def _label(path: Path, all_paths: list[Path]) -> str:
    """The file's stem; its position too when two files share a stem."""
    stems = [p.stem for p in all_paths]
    return path.stem if stems.count(path.stem) == 1 else f"{all_paths.index(path) + 1}-{path.stem}"


def _file(label: str, all_paths: list[Path]) -> Path:
    return next(p for p in all_paths if _label(p, all_paths) == label)


def figures(out: Path, cost: dict[str, float]) -> dict[str, Any]:
    """One run's figures, from what it wrote."""
    reports = sorted((out / "reports").glob("dt=*/arms-state.json"))
    cases = json.loads(reports[-1].read_text())["cases"] if reports else {}
    world = json.loads((out / "world.json").read_text()) if (out / "world.json").exists() else {"reactions": {}}
    return figures_of(cases, _facts(out), world["reactions"], cost)


def figures_of(
    cases: dict[str, Any], facts: list[dict[str, Any]], reactions: dict[str, int], cost: dict[str, float]
) -> dict[str, Any]:
    """The figures of a run: its cases as the arms comparison keeps them (``report.advance_arms``), its
    facts (each once) and the world's reactions by kind."""
    recovered: dict[str, Decimal] = defaultdict(Decimal)
    rates = []
    for c in cases.values():
        recovered[c["currency"]] += Decimal(c["recovered_minor"]) / _minor(c["currency"])
        rates.append(c["recovered_minor"] / c["overdue_minor"] if c["overdue_minor"] else 0.0)
    sent: Counter[str] = Counter()
    rules: Counter[str] = Counter()
    for f in facts:
        if f["fact_type"] == "action_sent":
            sent[f["channel"]] += 1
        elif f["fact_type"] in ("action_blocked", "action_deferred"):
            kind = "blocked" if f["fact_type"] == "action_blocked" else "deferred"
            rules[f"{kind}:{str(f['reason'] or '').split(':', 1)[0]}"] += 1
    cures = sum(1 for c in cases.values() if c["cured"])
    contacts = sum(sent.values())
    total = sum(rates)
    return {
        "cases": len(cases),
        "recovered": {cur: float(a) for cur, a in sorted(recovered.items())},
        "recovery_rate": total / len(rates) if rates else 0.0,
        "recovered_per_contact": total / contacts if contacts else None,
        "cures": cures,
        "contacts": contacts,
        "contacts_by_channel": {ch: sent[ch] for ch in CHANNELS},
        "cost": round(sum(n * cost.get(ch, 0.0) for ch, n in sent.items()), 2),
        "cost_by_channel": {ch: round(sent[ch] * cost.get(ch, 0.0), 2) for ch in CHANNELS},
        "contacts_per_cure": contacts / cures if cures else None,
        "complaints": reactions.get("complaint", 0),
        "opt_outs": reactions.get("optout", 0),
        "guard_by_rule": dict(sorted(rules.items())),
    }


def _minor(currency: str) -> int:
    from arrears.domain.money import minor_units

    return 10 ** minor_units(currency)


def _facts(out: Path) -> list[dict[str, Any]]:
    from .explain import facts_in

    # a fact written twice (a retried handler) counts once
    return list({f["fact_id"]: f for f in facts_in(out / "outcomes" / "facts")}.values())


def _flatten(f: dict[str, Any], prefix: str = "") -> dict[str, float | None]:
    flat: dict[str, float | None] = {}
    for k, v in f.items():
        if isinstance(v, dict):
            flat.update(_flatten(v, f"{prefix}{k}."))
        else:
            flat[f"{prefix}{k}"] = v
    return flat


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each figure's mean over the seeds and its 95% interval (None where a run has none)."""
    flats = [_flatten(r) for r in runs]
    keys = sorted({k for f in flats for k in f})
    out: dict[str, Any] = {"runs": runs}
    for k in keys:
        zero = 0.0 if k.split(".", 1)[0] in ZERO_WHEN_ABSENT else None  # a currency or rule a run never met
        xs = [f.get(k, zero) for f in flats]
        values = [float(x) for x in xs if x is not None]
        if len(values) != len(xs) or not values:
            out[k] = {"mean": None, "ci95": None}
            continue
        mean = sum(values) / len(values)
        if len(values) > 1:
            sd = math.sqrt(sum((x - mean) ** 2 for x in values) / (len(values) - 1))
            half = T95.get(len(values) - 1, 2.0) * sd / math.sqrt(len(values))
            out[k] = {"mean": mean, "ci95": [mean - half, mean + half]}
        else:
            out[k] = {"mean": mean, "ci95": None}
    return out


ROWS = [
    ("recovery rate", "recovery_rate", "{:.1%}"),
    ("recovered per contact", "recovered_per_contact", "{:.3f}"),
    ("cures", "cures", "{:.1f}"),
    ("contacts", "contacts", "{:.1f}"),
    *[(f"  {ch}", f"contacts_by_channel.{ch}", "{:.1f}") for ch in CHANNELS],
    ("contact cost", "cost", "{:.2f}"),
    *[(f"  {ch} cost", f"cost_by_channel.{ch}", "{:.2f}") for ch in CHANNELS],
    ("contacts per cure", "contacts_per_cure", "{:.2f}"),
    ("complaints", "complaints", "{:.1f}"),
    ("opt-outs", "opt_outs", "{:.1f}"),
]


def table(result: dict[str, Any]) -> str:
    """The strategies side by side: each figure's mean over the seeds and its 95% interval."""
    labels = list(result["strategies"])
    s = result["strategies"]
    currencies = sorted({k.split(".", 1)[1] for lab in labels for k in s[lab] if k.startswith("recovered.")})
    rules = sorted({k.split(".", 1)[1] for lab in labels for k in s[lab] if k.startswith("guard_by_rule.")})
    rows = [(f"recovered {c}", f"recovered.{c}", "{:,.2f}") for c in currencies] + ROWS
    rows += [(f"guard {r}", f"guard_by_rule.{r}", "{:.1f}") for r in rules]
    width = max(26, *(len(lab) + 2 for lab in labels))
    lines = [f"{'':<22}" + "".join(f"{lab:>{width}}" for lab in labels)]
    for name, key, fmt in rows:
        cells = []
        for lab in labels:
            got = s[lab].get(key) or {"mean": 0.0, "ci95": None}  # a rule one strategy never met: 0
            if got["mean"] is None:
                cells.append("-")
                continue
            text = fmt.format(got["mean"])
            if got["ci95"]:
                half = (got["ci95"][1] - got["ci95"][0]) / 2
                text += " ±" + fmt.format(half).replace("%", "") + ("%" if "%" in fmt else "")
            cells.append(text)
        lines.append(f"{name:<22}" + "".join(f"{c:>{width}}" for c in cells))
    return "\n".join(lines)


def scratch_book(borrowers: int) -> Path:
    from .book import synthetic_book

    return synthetic_book(Path(tempfile.mkdtemp(prefix="arrears-whatif-book-")), borrowers)
