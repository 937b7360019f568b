"""boto3 clients built lazily (never at import time), once per container."""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def client(service: str) -> Any:
    import boto3  # deferred: keeps cold start small for functions that never touch this service

    return boto3.session.Session().client(service)  # type: ignore[call-overload]


def reset() -> None:
    client.cache_clear()
