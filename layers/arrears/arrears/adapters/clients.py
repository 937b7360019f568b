"""boto3 clients, built on first use (never at import time, so tests and the local stack can point
them elsewhere first) and then once per container."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3

#: providers without an idempotency token: the SDK must not re-send a message on its own
NO_SDK_RETRY = ("sns", "ses")


@cache
def client(service: str) -> Any:
    if service in NO_SDK_RETRY:
        from botocore.config import Config

        return boto3.session.Session().client(service, config=Config(retries={"max_attempts": 1, "mode": "standard"}))  # type: ignore[call-overload]
    return boto3.session.Session().client(service)  # type: ignore[call-overload]


def reset() -> None:
    client.cache_clear()
