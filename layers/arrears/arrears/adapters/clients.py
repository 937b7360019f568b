"""boto3 clients, built on first use (never at import time, so tests and the local stack can point
them elsewhere first) and then once per container."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3

#: providers without an idempotency token: the SDK must not re-send a message on its own
NO_SDK_RETRY = ("sns", "ses")


@cache
def _session() -> Any:
    """One session for every client: its loader reads the SDK's endpoint and service data once per
    container, not once per client (a cold-start cost)."""
    return boto3.session.Session()


@cache
def client(service: str) -> Any:
    """Without the SDK's own check of each request's parameters against the service model (a tenth
    of the API function's CPU a request): the service checks them all again and answers a clear
    ValidationException, and every request arrears builds is typed before it gets here."""
    from botocore.config import Config

    config = Config(parameter_validation=False)
    if service in NO_SDK_RETRY:
        config = config.merge(Config(retries={"max_attempts": 1, "mode": "standard"}))
    return _session().client(service, config=config)


def reset() -> None:
    client.cache_clear()
    _session.cache_clear()
