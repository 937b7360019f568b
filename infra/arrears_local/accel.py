"""A small, tested acceleration of the emulator's DynamoDB Query on base tables.

moto's ``Table.query`` walks every item of the table to find one partition (~10 ms per 1,000 items),
so a query that reads 5 items of a 40,000-item table costs ~0.4 s locally and nothing like that in
AWS. For base-table queries this hands moto's own query the items of the one partition instead of the
whole table; for index queries, the items whose index hash key matches (a cheap pre-filter with the
same test moto applies next). moto's filtering, sorting, paging and serialisation run unchanged on
those candidates, so the results are identical (tests/integration/test_accel.py proves it against
unpatched moto).
"""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.RLock()
_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    from moto.dynamodb.models.table import Table

    original = Table.query

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        hash_key = args[0] if args else kwargs.get("hash_key")
        index_name = args[7] if len(args) > 7 else kwargs.get("index_name")
        conditions = kwargs.get("hash_key_conditions")
        if index_name and conditions:
            candidates = [
                item
                for item in self.all_items()
                if all(
                    (v := item.attrs.get(a)) is not None and v.type == e.type and v.value == e.value
                    for a, e in conditions
                )
            ]
        elif not index_name and hash_key is not None and self.range_key_attr is not None:
            partition = self.items.get(hash_key)
            candidates = list(partition.values()) if partition else []
        else:
            return original(self, *args, **kwargs)
        with _lock:
            self.all_items = lambda: iter(candidates)
            try:
                return original(self, *args, **kwargs)
            finally:
                del self.all_items

    Table.query = query  # type: ignore[method-assign]
    Table._arrears_original_query = original  # type: ignore[attr-defined]
    _installed = True


def uninstall() -> None:
    global _installed
    from moto.dynamodb.models.table import Table

    if _installed:
        Table.query = Table._arrears_original_query  # type: ignore[method-assign,attr-defined]
        _installed = False
