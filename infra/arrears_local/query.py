"""``arrears query``: the analysts' Athena SQL, run locally with DuckDB over the lake ``arrears run``
writes (``OUT/outcomes/facts/dt=.../*.json``, the same JSON Lines objects the outcomes table reads in
S3), translated from Athena's dialect with sqlglot where the two differ.

The named queries are ``infra/athena/queries/<name>.sql``, one each, in Athena's dialect, with a header:

    -- name: daily_overview
    -- description: what it answers (one line)
    -- param: from_date string 2026-01-01 what it is (positional ``?``, in this order)

``template.yaml`` declares each as an ``AWS::Athena::NamedQuery`` (``infra/athena/named.py`` writes
them there; a test fails while the template and the files differ)."""

from __future__ import annotations

import functools
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from arrears.domain.named_queries import NamedQuery, Param, QueryError, bind, parse, without_comments

from .stack import ROOT

__all__ = ["NamedQuery", "Param", "QueryError", "bind", "named_queries", "run", "connect", "to_duckdb"]

QUERIES = ROOT / "infra" / "athena" / "queries"
_DUCK_TYPES = {"string": "VARCHAR", "int": "INTEGER", "bigint": "BIGINT"}


def _parse(path: Path) -> NamedQuery:
    try:
        return parse(path.stem, path.read_text(encoding="utf-8"))
    except QueryError as e:
        raise QueryError(f"{path.name}: {str(e).split(': ', 1)[1]}") from None


def named_queries(folder: Path = QUERIES) -> dict[str, NamedQuery]:
    return {p.stem: _parse(p) for p in sorted(folder.glob("*.sql"))}


@functools.lru_cache(maxsize=256)
def to_duckdb(sql: str) -> str:
    """Athena's SQL in DuckDB's dialect (QueryError naming the problem when it does not parse). Pure:
    each text is translated once (the local stack runs the same named queries every day)."""
    import sqlglot
    from sqlglot.errors import SqlglotError

    try:
        statements = sqlglot.transpile(without_comments(sql), read="athena", write="duckdb")
    except SqlglotError as e:
        raise QueryError(f"not Athena SQL: {str(e).splitlines()[0]}") from None
    statements = [s for s in statements if s.strip()]
    if len(statements) != 1:
        raise QueryError(f"one statement a query, not {len(statements)}")
    return statements[0]


def connect(out: Path) -> Any:
    """DuckDB with the ``outcomes`` view over the lake in ``out`` (the Glue table's columns and types,
    ``dt`` from the partition folders)."""
    import duckdb

    from arrears.domain.compliance import RULES_COLUMNS, rules_rows
    from arrears.domain.facts import COLUMNS

    facts = out / "outcomes" / "facts"
    if not any(facts.glob("dt=*/*.json")):
        raise QueryError(f"no facts under {facts}/ (arrears run --out {out} writes them)")
    columns = ", ".join(f"'{name}': '{_DUCK_TYPES[kind]}'" for name, kind in COLUMNS.items())
    con = duckdb.connect()
    shims(con)
    pattern = _quoted(facts / "dt=*" / "*.json")
    con.execute(
        f"CREATE VIEW outcomes AS SELECT * FROM read_json('{pattern}', format = 'newline_delimited', "
        f"columns = {{{columns}}}, hive_partitioning = true, hive_types = {{'dt': 'VARCHAR'}})"
    )
    rules = out / "outcomes" / "rules" / "rules.json"
    rule_columns = {name: _DUCK_TYPES[kind] for name, kind in RULES_COLUMNS.items()}
    if rules.is_file():  # as the stack wrote them
        listed = ", ".join(f"'{k}': '{v}'" for k, v in rule_columns.items())
        con.execute(
            f"CREATE VIEW compliance_rules AS SELECT * FROM read_json('{_quoted(rules)}', "
            f"format = 'newline_delimited', columns = {{{listed}}})"
        )
    else:  # a lake written before the stack wrote its rules: the rules of this code
        con.execute(f"CREATE TABLE compliance_rules ({', '.join(f'{k} {v}' for k, v in rule_columns.items())})")
        marks = ", ".join("?" for _ in rule_columns)
        con.executemany(f"INSERT INTO compliance_rules VALUES ({marks})", [list(r.values()) for r in rules_rows()])
    return con


def shims(con: Any) -> None:
    """Athena's functions that sqlglot leaves as they are and DuckDB lacks, as DuckDB macros.
    ``at_timezone(ts, zone)``: the instant in that zone (Athena: AT TIME ZONE takes a literal only)."""
    con.execute("CREATE MACRO at_timezone(ts, zone) AS timezone(zone, ts)")


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


def run(out: Path, sql: str, values: list[Any] | None = None) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The query's column names and rows."""
    import duckdb

    con = connect(out)
    try:
        cursor = con.execute(to_duckdb(sql), values or [])
    except duckdb.Error as e:
        raise QueryError(str(e).splitlines()[0]) from None
    return [d[0] for d in cursor.description], cursor.fetchall()


# --------------------------------------------------------------------------------------- output


def plain(v: Any) -> Any:
    if isinstance(v, Decimal):
        return int(v) if v == v.to_integral_value() else float(v)
    return v


def as_table(columns: list[str], rows: list[tuple[Any, ...]]) -> str:
    cells = [[("" if v is None else str(plain(v))) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    numeric = [all(isinstance(plain(r[i]), int | float) or r[i] is None for r in rows) for i in range(len(columns))]

    def line(values: list[str]) -> str:
        return "  ".join(
            v.rjust(w) if n else v.ljust(w) for v, w, n in zip(values, widths, numeric, strict=True)
        ).rstrip()

    out = [line(columns), line(["-" * w for w in widths]), *(line(r) for r in cells)]
    return "\n".join(out) + f"\n({len(rows)} row{'s' if len(rows) != 1 else ''})\n"


def as_csv(columns: list[str], rows: list[tuple[Any, ...]]) -> str:
    from arrears.domain.csvsafe import rows_csv

    return rows_csv(columns, [dict(zip(columns, map(plain, r), strict=True)) for r in rows])


def as_json(columns: list[str], rows: list[tuple[Any, ...]]) -> str:
    return (
        json.dumps(
            [dict(zip(columns, map(plain, r), strict=True)) for r in rows], default=str, ensure_ascii=False, indent=1
        )
        + "\n"
    )


def listing(queries: dict[str, NamedQuery]) -> str:
    buf = io.StringIO()
    for q in queries.values():
        named = {p.name: p.default for p in q.params}  # a parameter Athena needs twice is given once here
        params = " ".join(f"{k}={v}" for k, v in named.items())
        buf.write(f"{q.name}  [{params}]  {q.description}\n")
    return buf.getvalue()
