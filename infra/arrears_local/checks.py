"""What a user gives the ``arrears`` command, checked before anything starts: template parameters
(``--param``) and strategy documents (readable, valid, every segment able to match). A mistake is a
``UsageError`` with one line that says what is wrong and where."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from arrears.domain.countries import ISO_3166_ALPHA2
from arrears.domain.strategies import Strategy, StrategyError, never_matching, parse_strategy


class UsageError(ValueError):
    """A mistake in the arguments or the files they name (exit status 2)."""


class StrategyInvalid(UsageError):
    def __init__(self, path: Path, problems: list[str]) -> None:
        super().__init__(f"{path}: invalid strategy: " + "; ".join(problems))
        self.path, self.problems = path, problems


# ------------------------------------------------------------------------------------- strategies


def read_document(path: Path) -> Any:
    """The YAML (or JSON) document in a file, or UsageError saying why it cannot be read."""
    import yaml

    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except OSError as e:
        raise UsageError(f"{path}: cannot be read ({e.strerror or e})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise UsageError(f"{path}: not UTF-8 text (byte {e.start})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise UsageError(f"{path}: not valid YAML{where}: {getattr(e, 'problem', None) or e}") from None


def load_strategy(path: Path, buckets: Sequence[str] | None = None) -> tuple[dict[str, Any], Strategy]:
    """A strategy document and what it parses to; with ``buckets``, also refused when a segment names
    something no loan can have."""
    doc = read_document(path)
    try:
        strategy = parse_strategy(doc)
    except StrategyError as e:
        raise StrategyInvalid(path, e.problems) from None
    problems = never_matching(strategy, buckets) if buckets is not None else []
    if problems:
        raise StrategyInvalid(path, problems)
    return doc, strategy


# ------------------------------------------------------------------------------------- parameters


@lru_cache(maxsize=1)
def template_parameters() -> dict[str, dict[str, Any]]:
    from .stack import load_template

    return dict(load_template().get("Parameters", {}))


def bucket_names(params: Mapping[str, str]) -> list[str]:
    from arrears.domain.buckets import BucketScheme

    return BucketScheme.parse(params["Buckets"]).names


def shipped_strategy_ids() -> set[str]:
    from .sim import STRATEGIES

    ids = set()
    for path in STRATEGIES.glob("*.yaml"):
        doc = read_document(path)
        if isinstance(doc, dict) and "id" in doc:
            ids.add(str(doc["id"]))
    return ids


def check_params(overrides: Mapping[str, str], strategies: Collection[str] | None = None) -> dict[str, str]:
    """Every template parameter with the overrides applied, or UsageError naming the first bad one.
    ``strategies``: the strategy ids the stack will hold (None: not known, not checked)."""
    spec = template_parameters()
    unknown = sorted(set(overrides) - set(spec))
    if unknown:
        raise UsageError(f"--param {unknown[0]}: no such template parameter (known: {', '.join(spec)})")
    for name, value in overrides.items():
        problem = _constraint_problem(spec[name], value) or _meaning_problem(name, value, strategies)
        if problem:
            raise UsageError(f"--param {name}={value}: {problem}")
    return {name: str(overrides.get(name, p.get("Default", ""))) for name, p in spec.items()}


def _constraint_problem(p: Mapping[str, Any], value: str) -> str | None:
    """The template's own constraints, as CloudFormation checks them."""
    if p.get("Type") == "Number":
        if not re.fullmatch(r"-?\d+", value):
            return "must be a whole number"
        lo, hi = p.get("MinValue"), p.get("MaxValue")
        if (lo is not None and int(value) < int(lo)) or (hi is not None and int(value) > int(hi)):
            return f"must be from {lo} to {hi}"
    allowed = p.get("AllowedValues")
    if allowed and value not in [str(a) for a in allowed]:
        return f"must be one of {', '.join(map(str, allowed))}"
    pattern = p.get("AllowedPattern")
    if pattern and not re.fullmatch(str(pattern), value):
        return str(p.get("ConstraintDescription") or f"must match {pattern}")
    if "MinLength" in p and len(value) < int(p["MinLength"]):
        return f"must be at least {p['MinLength']} characters"
    if "MaxLength" in p and len(value) > int(p["MaxLength"]):
        return f"must be at most {p['MaxLength']} characters"
    return None


def _meaning_problem(name: str, value: str, strategies: Collection[str] | None) -> str | None:
    """What the functions would refuse at start-up (or the local runner could not schedule)."""
    from arrears.config import CHANNELS, ConfigError, ImportSettings, parse_pairs
    from arrears.domain.buckets import BucketScheme
    from arrears.domain.timeutil import zone_names

    try:
        if name == "Buckets":
            BucketScheme.parse(value)
        elif name == "BusinessTimeZone" and value not in zone_names():
            return "not an IANA time zone name (e.g. Asia/Shanghai)"
        elif name == "ChannelCapacity":
            for channel, n in parse_pairs(value).items():
                if channel not in CHANNELS or not n.isdigit():
                    return f"{channel}={n}: a channel ({', '.join(CHANNELS)}) and a whole number"
        elif name == "Strategies":
            return _strategies_problem(parse_pairs(value), strategies)
        elif name == "ImportLimits":
            ImportSettings.from_env({"IMPORT_LIMITS": value})
        elif name in ("DailyRunSchedule", "DailyReportSchedule", "TrainSchedule"):
            return _schedule_problem(name, value)
    except (ValueError, ConfigError) as e:
        return str(e).removeprefix("bad configuration: ")
    return None


def _schedule_problem(name: str, value: str) -> str | None:
    """What the local runner could not fire: the daily schedules daily, the training's daily or weekly."""
    from .runner import parse_cron

    daily = "the local stack runs daily schedules only: cron(M H * * ? *), e.g. cron(0 9 * * ? *)"
    try:
        minutes, hours, weekdays = parse_cron(value)
    except ValueError:
        if name == "TrainSchedule":
            return "the local stack runs cron(M H * * ? *) or cron(M H ? * DAYS *), e.g. cron(0 4 ? * MON *)"
        return daily
    if weekdays is not None and name != "TrainSchedule":
        return daily
    if not all(0 <= m < 60 for m in minutes) or not all(0 <= h < 24 for h in hours):
        return "minutes must be 0-59 and hours 0-23"
    return None


def _strategies_problem(pairs: Mapping[str, str], strategies: Collection[str] | None) -> str | None:
    for jurisdiction, sid in pairs.items():
        if jurisdiction.upper() not in ISO_3166_ALPHA2:
            return f"{jurisdiction!r} is not an ISO 3166-1 alpha-2 code"
        if strategies is not None and sid not in strategies:
            return f"no strategy {sid!r} to apply (known: {', '.join(sorted(strategies))}; give others with --publish)"
    return None
