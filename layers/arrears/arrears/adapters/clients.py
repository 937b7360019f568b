"""boto3 clients, built on first use (never at import time, so tests and the local stack can point
them elsewhere first) and then once per container."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3


@cache
def client(service: str) -> Any:
    return boto3.session.Session().client(service)  # type: ignore[call-overload]


def reset() -> None:
    client.cache_clear()
