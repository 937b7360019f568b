"""Lambda event filtering, as an event source mapping's ``FilterCriteria`` applies it: a record reaches
the function only if some filter's pattern matches it; the others are dropped (not retried, never
seen). The local runner applies the template's filters so the functions see what they would in AWS.

The subset arrears uses, and any pattern the template may grow into by the same rules: a pattern is
an object whose keys name the record's fields; a leaf is a list of alternatives, each a value (equal)
or ``{"exists": true|false}``, ``{"prefix": "..."}``, ``{"anything-but": [...]}``. Any other operator
is refused when the runner starts, naming it, rather than matched wrongly."""

from __future__ import annotations

import json
from typing import Any

_MISSING = object()
OPERATORS = ("exists", "prefix", "anything-but")


def parse(criteria: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The patterns of a mapping's ``FilterCriteria`` (none: every record passes); ValueError names an
    operator this runner does not apply."""
    patterns = [json.loads(f["Pattern"]) for f in (criteria or {}).get("Filters", [])]
    for p in patterns:
        _check(p)
    return patterns


def _check(pattern: Any) -> None:
    if isinstance(pattern, dict):
        for v in pattern.values():
            _check(v)
    elif isinstance(pattern, list):
        for alt in pattern:
            if isinstance(alt, dict):
                unknown = [k for k in alt if k not in OPERATORS]
                if unknown or len(alt) != 1:
                    raise ValueError(f"event filter operator {sorted(alt)} is not applied by the local runner")
    else:
        raise ValueError(f"an event filter's leaf must be a list of alternatives, not {pattern!r}")


def passes(patterns: list[dict[str, Any]], record: dict[str, Any]) -> bool:
    return not patterns or any(_matches(p, record) for p in patterns)


def _matches(pattern: dict[str, Any], value: Any) -> bool:
    for key, want in pattern.items():
        got = value.get(key, _MISSING) if isinstance(value, dict) else _MISSING
        if isinstance(want, dict):
            if got is _MISSING or not _matches(want, got):
                return False
        elif not any(_leaf(alt, got) for alt in want):
            return False
    return True


def _leaf(alt: Any, got: Any) -> bool:
    if isinstance(alt, dict):
        ((op, arg),) = alt.items()
        if op == "exists":
            return (got is not _MISSING) is bool(arg)
        if got is _MISSING or isinstance(got, (dict, list)):
            return False
        if op == "prefix":
            return isinstance(got, str) and got.startswith(arg)
        return got not in (arg if isinstance(arg, list) else [arg])  # anything-but
    return got is not _MISSING and got == alt
