"""A small, tested acceleration of the emulator's DynamoDB Query on base tables.

moto's ``Table.query`` walks every item of the table to find one partition (~10 ms per 1,000 items),
so a query that reads 5 items of a 40,000-item table costs ~0.4 s locally and nothing like that in
AWS. For base-table queries (no index) this hands moto's own query the items of the one partition
instead of the whole table; moto's filtering, sorting, paging and serialisation run unchanged, so
the results are identical (tests/integration/test_accel.py proves it against unpatched moto).
Index queries are left to moto as they are.
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
        if index_name or hash_key is None or self.range_key_attr is None:
            return original(self, *args, **kwargs)
        partition = self.items.get(hash_key)
        candidates = list(partition.values()) if partition else []
        with _lock:
            self.all_items = lambda: iter(candidates)
            try:
                return original(self, *args, **kwargs)
            finally:
                del self.all_items

    Table.query = query
    Table._arrears_original_query = original
    _installed = True


def uninstall() -> None:
    global _installed
    from moto.dynamodb.models.table import Table

    if _installed:
        Table.query = Table._arrears_original_query
        _installed = False
