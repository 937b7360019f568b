"""Signed callbacks to the platform (Standard Webhooks): what arrears tells the lending platform about
a loan: an arrangement started, broken or completed (a settlement's write-down with the amount
forgiven). Later account actions (freezing) reuse it.

Each event is one SQS message (sent by the ledger stream, ``collect.send_callbacks``). The consumer
POSTs it to ``PLATFORM_CALLBACK_URL`` with ``webhook-id`` (the event's id: the same on every retry, so
the platform deduplicates), ``webhook-timestamp`` and ``webhook-signature`` (``v1,<base64>`` with the
``PlatformCallbackSecret``). A 2xx answer delivers it, and ``callback#<event id>`` is recorded in the
idempotency table, so a redelivered message is not posted again. Anything else is retried with
exponential backoff (the message's visibility set to 30 s, 60 s, ... up to 15 minutes), then after
``maxReceiveCount`` receives it lands in the DLQ, from where ``arrears redrive`` (or the console)
sends it again.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any, NamedTuple

from ..adapters.clients import client
from ..adapters.webhook_secrets import secrets
from ..config import ConfigError
from ..domain.webhooks import sign
from ..observability import logger, metrics

TIMEOUT_S = 10
BASE_BACKOFF_S = 30
MAX_BACKOFF_S = 900


class CallbackSettings(NamedTuple):
    url: str
    secret_id: str
    idempotency_table: str
    queue_url: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CallbackSettings:
        env = os.environ if env is None else env
        problems = [
            f"{n} is not set"
            for n in ("PLATFORM_CALLBACK_URL", "CALLBACK_SECRET_ID", "IDEMPOTENCY_TABLE", "CALLBACK_QUEUE_URL")
            if not env.get(n, "").strip()
        ]
        url = env.get("PLATFORM_CALLBACK_URL", "").strip()
        if url and not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            problems.append(f"PLATFORM_CALLBACK_URL={url[:80]!r} must be an https:// URL")
        if problems:
            raise ConfigError("bad configuration: " + "; ".join(problems))
        return cls(url, env["CALLBACK_SECRET_ID"], env["IDEMPOTENCY_TABLE"], env["CALLBACK_QUEUE_URL"])


class NotDelivered(RuntimeError):
    pass


def backoff_s(receive_count: int) -> int:
    """How long a failed callback waits before its next try: 30 s doubled each try, at most 15 min."""
    return int(min(MAX_BACKOFF_S, BASE_BACKOFF_S * 2 ** max(0, receive_count - 1)))


def deliver(s: CallbackSettings, body: str, receive_count: int, receipt_handle: str | None) -> str:
    """Post one event; returns ``delivered`` or ``duplicate`` (delivered before). Raises NotDelivered
    (after setting the message's backoff) when the platform did not take it."""
    event = json.loads(body)
    event_id = str(event["id"])
    ddb = client("dynamodb")
    key = {"key": {"S": f"callback#{event_id}"}}
    if "Item" in ddb.get_item(TableName=s.idempotency_table, Key=key, ConsistentRead=True):
        return "duplicate"
    payload = json.dumps(event, separators=(",", ":"), sort_keys=True).encode()
    stamp = str(int(time.time()))
    signature = " ".join(sign(secret, event_id, stamp, payload) for secret in secrets(s.secret_id)[:1])
    request = urllib.request.Request(
        s.url,
        data=payload,
        method="POST",
        headers={
            "content-type": "application/json",
            "webhook-id": event_id,
            "webhook-timestamp": stamp,
            "webhook-signature": signature,
            "user-agent": "arrears-callbacks/1",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:  # noqa: S310 - the configured https URL
            status = answer.status
    except urllib.error.HTTPError as e:
        status = e.code
    except (urllib.error.URLError, TimeoutError, OSError) as e:
        status = 0
        logger.warning("platform callback not delivered", extra={"event_id": event_id, "why": str(e)[:200]})
    if not 200 <= status < 300:
        wait = backoff_s(receive_count)
        if receipt_handle:
            client("sqs").change_message_visibility(
                QueueUrl=s.queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=wait
            )
        metrics.add_metric(name="CallbacksFailed", unit="Count", value=1)
        raise NotDelivered(f"platform answered {status or 'nothing'} to {event_id}; next try in {wait} s")
    ddb.put_item(
        TableName=s.idempotency_table,
        Item={**key, "status": {"N": str(status)}, "recorded_at": {"S": stamp}, "source": {"S": "callback"}},
    )
    metrics.add_metric(name="CallbacksDelivered", unit="Count", value=1)
    logger.info("platform callback delivered", extra={"event_id": event_id, "type": event.get("type")})
    return "delivered"


def record_of(record: Any) -> tuple[str, int, str | None]:
    """(body, receive count, receipt handle) of an SQS record."""
    attrs: dict[str, Any] = record.get("attributes") or {}
    return record["body"], int(attrs.get("ApproximateReceiveCount", "1")), record.get("receiptHandle")
