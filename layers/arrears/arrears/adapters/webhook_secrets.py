"""The webhook signing secrets, from Secrets Manager: fetched on first use, then kept by the container.

Two are valid at once during a rotation: the secret's ``AWSCURRENT`` version and its ``AWSPREVIOUS``
one (Secrets Manager moves the labels when a new value is put). A container keeps them for
``MAX_AGE`` seconds, and looks again sooner (at most every ``RETRY_AGE`` seconds) when a signature
matches neither, so a rotated secret is honoured within seconds.
"""

from __future__ import annotations

import contextlib
import time

from .clients import client

MAX_AGE = 300.0
RETRY_AGE = 30.0

_cache: dict[str, tuple[float, tuple[str, ...]]] = {}


def secrets(secret_id: str, stale_ok: bool = True) -> tuple[str, ...]:
    """The valid secrets, newest first. ``stale_ok=False``: a signature matched none of the kept ones,
    look again unless they were fetched within ``RETRY_AGE`` seconds."""
    now = time.monotonic()
    kept = _cache.get(secret_id)
    if kept is not None and now - kept[0] < (MAX_AGE if stale_ok else RETRY_AGE):
        return kept[1]
    sm = client("secretsmanager")
    values = [sm.get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")["SecretString"]]
    with contextlib.suppress(sm.exceptions.ResourceNotFoundException):  # none before the first rotation
        values.append(sm.get_secret_value(SecretId=secret_id, VersionStage="AWSPREVIOUS")["SecretString"])
    fresh = tuple(v.strip() for v in values if v and v.strip())
    _cache[secret_id] = (now, fresh)
    return fresh


def forget() -> None:
    _cache.clear()
