"""Running the analysts' named queries for the daily report: in AWS in the Athena workgroup (the
queries saved there by the template, with their positional parameters); locally the local stack puts
its own engine in (``use``), which runs the same SQL with DuckDB over the lake, so no function imports
DuckDB. Rows come back as dicts of plain values (int, float, str, None)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from ..domain.named_queries import NamedQuery, bind, parse
from .clients import client

Rows = list[dict[str, Any]]


class Engine(Protocol):
    def queries(self) -> dict[str, NamedQuery]: ...
    def run(self, query: NamedQuery, values: list[Any]) -> Rows: ...


class QueryFailed(RuntimeError):
    """A named query that did not finish (failed, cancelled, over the bytes limit, too slow)."""


_TYPES: dict[str, Callable[[str], Any]] = {
    "bigint": int,
    "integer": int,
    "smallint": int,
    "tinyint": int,
    "double": float,
    "real": float,
    "decimal": float,
    "boolean": lambda v: v == "true",
}


class AthenaEngine:
    """The workgroup's saved queries, run with ``ExecutionParameters`` (results in the workgroup's
    result location, within its bytes-scanned limit)."""

    def __init__(self, workgroup: str, database: str, timeout_s: float = 240.0) -> None:
        self.workgroup, self.database, self.timeout_s = workgroup, database, timeout_s
        self._queries: dict[str, NamedQuery] | None = None

    def queries(self) -> dict[str, NamedQuery]:
        if self._queries is None:
            athena = client("athena")
            ids: list[str] = []
            token: dict[str, str] = {}
            while True:
                page = athena.list_named_queries(WorkGroup=self.workgroup, **token)
                ids += page.get("NamedQueryIds", [])
                if not page.get("NextToken"):
                    break
                token = {"NextToken": page["NextToken"]}
            saved = [athena.get_named_query(NamedQueryId=i)["NamedQuery"] for i in ids]
            self._queries = {q["Name"]: parse(q["Name"], q["QueryString"]) for q in saved}
        return self._queries

    def run(self, query: NamedQuery, values: list[Any]) -> Rows:
        athena = client("athena")
        params = [str(v) if isinstance(v, int) else "'" + str(v).replace("'", "''") + "'" for v in values]
        started = athena.start_query_execution(
            QueryString=query.sql,
            QueryExecutionContext={"Database": self.database},
            WorkGroup=self.workgroup,
            **({"ExecutionParameters": params} if params else {}),
        )["QueryExecutionId"]
        deadline, pause = time.monotonic() + self.timeout_s, 0.5
        while True:
            status = athena.get_query_execution(QueryExecutionId=started)["QueryExecution"]["Status"]
            if status["State"] == "SUCCEEDED":
                break
            if status["State"] in ("FAILED", "CANCELLED"):
                raise QueryFailed(f"{query.name}: {status['State'].lower()}: {status.get('StateChangeReason', '')}")
            if time.monotonic() > deadline:
                athena.stop_query_execution(QueryExecutionId=started)
                raise QueryFailed(f"{query.name}: still running after {self.timeout_s:.0f} s; stopped")
            time.sleep(pause)
            pause = min(pause * 1.5, 5.0)
        rows: Rows = []
        columns: list[tuple[str, Callable[[str], Any]]] = []
        for page in athena.get_paginator("get_query_results").paginate(QueryExecutionId=started):
            meta = page["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]
            columns = [(c["Name"], _TYPES.get(c["Type"].lower(), str)) for c in meta]
            data = page["ResultSet"]["Rows"]
            if not rows and data and [d.get("VarCharValue") for d in data[0]["Data"]] == [n for n, _ in columns]:
                data = data[1:]  # the header row Athena puts first
            for r in data:
                cells = [d.get("VarCharValue") for d in r["Data"]]
                rows.append({n: (None if v is None else cast(v)) for (n, cast), v in zip(columns, cells, strict=False)})
        return rows


_engine: Engine | None = None


def use(engine: Engine | None) -> None:
    """The engine the report runs its queries with (the local stack's; None: Athena's from settings)."""
    global _engine
    _engine = engine


def engine() -> Engine:
    """The installed engine, else Athena in the workgroup the environment names (ConfigError if none)."""
    if _engine is not None:
        return _engine
    from ..config import analytics_target

    return AthenaEngine(*analytics_target())


def run_named(e: Engine, name: str, params: dict[str, str]) -> Rows:
    q = e.queries().get(name)
    if q is None:
        raise QueryFailed(f"no named query {name!r} in the workgroup")
    return e.run(q, bind(q, params))
