"""The analysts' named queries: one SQL file each in Athena's dialect (``infra/athena/queries``), saved
in the Athena workgroup by the template, with a header naming it, saying what it answers and
declaring its positional parameters:

    -- name: daily_overview
    -- description: what it answers (one line)
    -- param: from_date string 2026-01-01 what it is (positional ``?``, in this order)

Pure: the header's parsing and the parameters' binding, shared by the report function (which reads the
queries saved in the workgroup) and ``arrears query`` (which reads the files)."""

from __future__ import annotations

import re
from typing import Any, NamedTuple

_PARAM_TYPES = {"string": str, "int": int}
_HEADER = re.compile(r"^--\s*(name|description|param):\s*(.*)$")


class QueryError(ValueError):
    """A query that cannot run as asked; the message says why in one line."""


class Param(NamedTuple):
    name: str
    type: str  # string or int
    default: str
    doc: str


class NamedQuery(NamedTuple):
    name: str
    description: str
    params: tuple[Param, ...]
    sql: str  # the whole file: Athena runs it as it is


def parse(name: str, text: str) -> NamedQuery:
    """A named query from its SQL text (``name``: its file's stem, or its saved name)."""
    fields: dict[str, str] = {}
    params: list[Param] = []
    for line in text.splitlines():
        m = _HEADER.match(line.strip())
        if not m:
            if line.strip() and not line.strip().startswith("--"):
                break  # the header ends at the first line of SQL
            continue
        key, value = m.group(1), m.group(2).strip()
        if key == "param":  # one a '?', in order; a name again is the same value again
            parts = value.split(maxsplit=3)
            if len(parts) < 3 or parts[1] not in _PARAM_TYPES:
                raise QueryError(f"{name}: a param line is 'name type default doc' (type string or int): {value!r}")
            param = Param(parts[0], parts[1], parts[2], parts[3] if len(parts) > 3 else "")
            same = next((p for p in params if p.name == param.name), None)
            if same is not None and (same.type, same.default) != (param.type, param.default):
                raise QueryError(f"{name}: parameter {param.name} is declared twice with another type or default")
            params.append(param)
        else:
            fields[key] = value
    if fields.get("name") != name or not fields.get("description"):
        raise QueryError(f"{name}: its header needs '-- name: {name}' and a '-- description:' line")
    query = NamedQuery(name, fields["description"], tuple(params), text)
    placeholders = len(re.findall(r"\?", re.sub(r"'(?:[^']|'')*'", "''", without_comments(text))))
    if placeholders != len(params):
        raise QueryError(f"{name}: {placeholders} '?' in the SQL but {len(params)} param line(s)")
    return query


def without_comments(sql: str) -> str:
    """The SQL without its ``--`` comments (a ``--`` inside a string literal is kept)."""
    out = []
    for line in sql.splitlines():
        quoted, cut = False, len(line)
        for i, ch in enumerate(line):
            if ch == "'":
                quoted = not quoted
            elif not quoted and line.startswith("--", i):
                cut = i
                break
        out.append(line[:cut])
    return "\n".join(out)


def bind(query: NamedQuery, given: dict[str, str]) -> list[Any]:
    """The positional values of a named query: each param given (``--param k=v``) or its default."""
    known = {p.name for p in query.params}
    unknown = sorted(set(given) - known)
    if unknown:
        names = ", ".join(sorted(known)) or "none"
        raise QueryError(f"{query.name} has no parameter {unknown[0]!r} (its parameters: {names})")
    values: list[Any] = []
    for p in query.params:
        raw = given.get(p.name, p.default)
        try:
            values.append(_PARAM_TYPES[p.type](raw))
        except ValueError:
            raise QueryError(f"{p.name}={raw!r} is not a whole number") from None
    return values
