"""Count AWS requests by service and operation (all SDK calls in this process: handlers and runner)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

calls: Counter[tuple[str, str]] = Counter()
failures: Counter[tuple[str, str]] = Counter()
lost_races: Counter[str] = Counter()  # conditional writes that failed their condition, by table
#: DynamoDB requests by (table, operation); a BatchGetItem/BatchWriteItem counts once for each table it touches
by_table: Counter[tuple[str, str]] = Counter()
#: per function (or "runner"): requests, items read, and items returned by index queries
by_function: Counter[tuple[str, str]] = Counter()
current = "runner"
seconds: dict[tuple[str, str], float] = {}
_installed = False
_lock = threading.Lock()


def install() -> None:
    global _installed
    if _installed:
        return
    from botocore.client import BaseClient

    original = BaseClient._make_api_call

    def counted(self: Any, operation_name: str, api_params: dict) -> Any:
        key = (self.meta.service_model.service_name, operation_name)
        t0 = time.perf_counter()
        result: Any = {}
        try:
            result = original(self, operation_name, api_params)
            return result
        except Exception as e:
            with _lock:
                failures[key] += 1
                answer = getattr(e, "response", None) or {}  # None for a timeout
                if answer.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                    lost_races[api_params.get("TableName", "")] += 1
            raise
        finally:  # a failed request (e.g. a conditional write that lost) is a request too
            with _lock:
                _count(key, operation_name, api_params, result, time.perf_counter() - t0)

    BaseClient._make_api_call = counted
    _installed = True


def _count(key: tuple[str, str], operation_name: str, api_params: dict, result: Any, spent: float) -> None:
    calls[key] += 1
    by_function[(current, "requests")] += 1
    if operation_name == "Scan":
        by_function[(current, "scans")] += 1
    seconds[key] = seconds.get(key, 0.0) + spent
    if key[0] != "dynamodb":
        return
    tables = list(api_params.get("RequestItems", {})) or [api_params.get("TableName", "")]
    for table in tables:
        by_table[(table, operation_name)] += 1
    read = 0
    if operation_name in ("Query", "Scan"):
        read = int(result.get("ScannedCount", 0))
        if api_params.get("IndexName"):
            by_function[(current, "index_items")] += int(result.get("Count", 0))
    elif operation_name == "GetItem":
        read = 1 if result.get("Item") else 0
    elif operation_name == "BatchGetItem":
        read = sum(len(items) for items in result.get("Responses", {}).values())
    elif operation_name == "BatchWriteItem":  # the daily run's EVAL markers: each makes the stream read one loan
        by_function[(current, "eval_markers")] += sum(
            1
            for requests in api_params.get("RequestItems", {}).values()
            for r in requests
            if str(r.get("PutRequest", {}).get("Item", {}).get("entry", {}).get("S", "")).startswith("EVAL#")
        )
    by_function[(current, "items_read")] += read
