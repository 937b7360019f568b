"""Standard Webhooks signatures (https://www.standardwebhooks.com), pure.

The platform signs ``"{webhook-id}.{webhook-timestamp}.{body}"`` with HMAC-SHA256 and sends
``webhook-signature: v1,<base64>`` (several space-separated signatures are allowed, e.g. while it
rotates its key). A secret is ``whsec_<base64 of the key bytes>``; two secrets are valid at once
during a rotation. The timestamp must be within ``tolerance`` of the stack's clock, so an old
request cannot be replayed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

PREFIX = "whsec_"
TOLERANCE = timedelta(minutes=5)
HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


class SignatureError(ValueError):
    """The request is not signed by the platform (the reason is for the caller; it holds no secret)."""


def secret_key(secret: str) -> bytes:
    """The key bytes of ``whsec_<base64>`` (the prefix is optional)."""
    text = secret.strip().removeprefix(PREFIX)
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a webhook secret is whsec_ followed by base64") from None
    if len(key) < 16:
        raise ValueError("a webhook secret must hold at least 16 bytes")
    return key


def sign(secret: str, msg_id: str, timestamp: int | str, body: bytes) -> str:
    """The ``webhook-signature`` header value for one secret (the timestamp as sent in its header)."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(
    secrets: Iterable[str],
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
    tolerance: timedelta = TOLERANCE,
) -> str:
    """Check the signature headers (``headers`` looked up by lower-case name); returns the webhook-id.
    Raises SignatureError when a header is missing, the timestamp is outside ``tolerance`` of
    ``now``, or no ``v1`` signature matches any of the secrets."""
    msg_id, stamp, signatures = (headers.get(h) or "" for h in HEADERS)
    missing = [h for h, v in zip(HEADERS, (msg_id, stamp, signatures), strict=True) if not v.strip()]
    if missing:
        raise SignatureError(f"missing header(s) {', '.join(missing)}")
    stamp = stamp.strip()
    if not (stamp.isascii() and stamp.isdigit()) or len(stamp) > 12:
        raise SignatureError("webhook-timestamp is not whole seconds since the epoch")
    sent = int(stamp)
    if abs(sent - now.timestamp()) > tolerance.total_seconds():
        raise SignatureError(f"webhook-timestamp is more than {int(tolerance.total_seconds())} seconds from now")
    offered = [s.split(",", 1)[1].encode() for s in signatures.split() if s.startswith("v1,")]
    expected = [sign(secret, msg_id, stamp, body).split(",", 1)[1].encode() for secret in secrets]
    # every pair compared in constant time, without stopping at the first match
    matched = False
    for theirs in offered:
        for ours in expected:
            matched |= hmac.compare_digest(theirs, ours)
    if not matched:
        raise SignatureError("no valid signature")
    return msg_id
