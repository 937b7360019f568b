"""The local stack's engine for the report page's named queries: the same SQL, run with DuckDB over
the lake, so no function imports DuckDB. Installed with ``arrears.adapters.analytics.use`` when a stack
starts (``LocalLake``: the outcomes bucket in the emulator, kept in step by object ETag, so each day
loads only the objects that changed), and over a folder ``arrears run`` wrote (``FolderLake``).

The facts are loaded once into a DuckDB table (each query reading every JSON object again costs tenths
of a second; the same queries over the table take milliseconds); ``outcomes`` and ``compliance_rules``
are the same tables the queries read in Athena."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from arrears.domain.compliance import RULES_COLUMNS, rules_rows
from arrears.domain.facts import COLUMNS
from arrears.domain.named_queries import NamedQuery

from . import query
from .stack import ACCOUNT, live_objects

_TYPES = {"string": "VARCHAR", "int": "INTEGER", "bigint": "BIGINT"}


class DuckLake:
    """An in-memory DuckDB holding the lake's facts (by object) and rules."""

    def __init__(self) -> None:
        import duckdb

        self.con = duckdb.connect()
        query.shims(self.con)
        facts = ", ".join(f"{n} {_TYPES[t]}" for n, t in COLUMNS.items())
        rules = ", ".join(f"{n} {_TYPES[t]}" for n, t in RULES_COLUMNS.items())
        self.con.execute(f"CREATE TABLE facts_raw ({facts}, dt VARCHAR, object_key VARCHAR)")
        self.con.execute("CREATE VIEW outcomes AS SELECT * EXCLUDE (object_key) FROM facts_raw")
        self.con.execute(f"CREATE TABLE compliance_rules ({rules})")
        marks = ", ".join("?" for _ in RULES_COLUMNS)
        self.con.executemany(f"INSERT INTO compliance_rules VALUES ({marks})", [list(r.values()) for r in rules_rows()])
        self._columns = "{" + ", ".join(f"'{n}': '{_TYPES[t]}'" for n, t in COLUMNS.items()) + "}"
        self._rule_columns = "{" + ", ".join(f"'{n}': '{_TYPES[t]}'" for n, t in RULES_COLUMNS.items()) + "}"
        self._queries: dict[str, NamedQuery] | None = None
        self._translated: dict[str, str] = {}

    def drop(self, key: str) -> None:
        self.con.execute("DELETE FROM facts_raw WHERE object_key = ?", [key])

    def load(self, key: str, path: Path) -> None:
        """The facts of one object (``facts/dt=<day>/...``), in place of what it held before."""
        self.drop(key)
        day = key.split("dt=", 1)[1].split("/", 1)[0]
        self.con.execute(
            f"INSERT INTO facts_raw SELECT *, ?, ? FROM read_json(?, format = 'newline_delimited', hive_partitioning = false, "
            f"columns = {self._columns})",
            [day, key, str(path)],
        )

    def load_rules(self, path: Path) -> None:
        self.con.execute("DELETE FROM compliance_rules")
        self.con.execute(
            f"INSERT INTO compliance_rules SELECT * FROM read_json(?, format = 'newline_delimited', "
            f"columns = {self._rule_columns})",
            [str(path)],
        )

    def queries(self) -> dict[str, NamedQuery]:
        if self._queries is None:  # read and parsed once: the files do not change under a running stack
            self._queries = query.named_queries()
        return self._queries

    def execute(self, q: NamedQuery, values: list[Any]) -> list[dict[str, Any]]:
        import duckdb

        if q.sql not in self._translated:
            self._translated[q.sql] = query.to_duckdb(q.sql)
        try:
            cursor = self.con.execute(self._translated[q.sql], values)
        except duckdb.Error as e:
            raise query.QueryError(str(e).splitlines()[0]) from None
        columns = [d[0] for d in cursor.description]
        return [dict(zip(columns, map(query.plain, r), strict=True)) for r in cursor.fetchall()]


class LocalLake(DuckLake):
    """The emulator's outcomes bucket, loaded object by object as it changes."""

    def __init__(self, bucket: str) -> None:
        super().__init__()
        self.bucket = bucket
        self.etags: dict[str, str] = {}
        self.scratch = Path(tempfile.mkdtemp(prefix="arrears-lake-")) / "object.json"

    def sync(self) -> None:
        from moto.s3.models import s3_backends

        objects = {
            k: o
            for k, o in live_objects(s3_backends[ACCOUNT]["aws"].buckets[self.bucket])
            if k.startswith(("facts/dt=", "rules/rules.json"))
        }
        for key in set(self.etags) - set(objects):
            if key.startswith("facts/"):
                self.drop(key)
            del self.etags[key]
        for key, obj in objects.items():
            if self.etags.get(key) == obj.etag:
                continue
            self.scratch.write_bytes(obj.value)
            if key.startswith("rules/"):
                self.load_rules(self.scratch)
            else:
                self.load(key, self.scratch)
            self.etags[key] = obj.etag

    def run(self, q: NamedQuery, values: list[Any]) -> list[dict[str, Any]]:
        self.sync()
        return self.execute(q, values)

    def close(self) -> None:
        self.con.close()
        self.scratch.unlink(missing_ok=True)
        self.scratch.parent.rmdir()


class FolderLake(DuckLake):
    """What ``arrears run`` wrote: ``OUT/outcomes/facts/dt=.../*.json`` and ``OUT/outcomes/rules``."""

    def __init__(self, out: Path) -> None:
        super().__init__()
        root = out / "outcomes"
        for path in sorted(root.glob("facts/dt=*/*.json")):
            self.load(path.relative_to(root).as_posix(), path)
        if (root / "rules" / "rules.json").is_file():
            self.load_rules(root / "rules" / "rules.json")

    def run(self, q: NamedQuery, values: list[Any]) -> list[dict[str, Any]]:
        return self.execute(q, values)
