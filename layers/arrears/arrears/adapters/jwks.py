"""The operations API's signing keys (a JSON Web Key Set): the stack's Cognito user pool publishes
them at ``https://cognito-idp.<region>.amazonaws.com/<pool>/.well-known/jwks.json``; the local stack
writes its own to a file (``file://`` URL). Fetched on first use, kept by the container for
``MAX_AGE`` seconds, and looked up again sooner (at most every ``RETRY_AGE`` seconds) when a token
names a key the kept set lacks, so a rotated key is honoured at once."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

MAX_AGE = 3600.0
RETRY_AGE = 60.0
TIMEOUT_S = 3.0
MAX_BYTES = 1_000_000

_cache: dict[str, tuple[float, Any]] = {}


class KeysUnavailable(Exception):
    """The key set could not be fetched or read (the caller answers 503)."""


def key_set(url: str, missing_kid: str | None = None) -> Any:
    """The key set (a joserfc KeySet); ``missing_kid``: a token named a kid the kept set lacks."""
    from joserfc.jwk import KeySet

    now = time.monotonic()
    kept = _cache.get(url)
    if kept is not None and now - kept[0] < (MAX_AGE if missing_kid is None else RETRY_AGE):
        return kept[1]
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as r:  # noqa: S310 - https or file, from the template
            raw = r.read(MAX_BYTES + 1)
        if len(raw) > MAX_BYTES:
            raise ValueError("over 1 MB")
        keys = KeySet.import_key_set(json.loads(raw))
    except Exception as e:  # noqa: BLE001 - network, JSON or key errors alike: the keys are unavailable
        if kept is not None:
            return kept[1]  # the keys kept before, rather than no sign-in at all
        raise KeysUnavailable(f"the sign-in keys at {url.split('?')[0][:200]} cannot be read: {e}") from None
    _cache[url] = (now, keys)
    return keys


def forget() -> None:
    _cache.clear()
