"""A channel's queue -> contact the borrower on that channel, at most once per action. One code for
every channel; the function's CHANNEL setting picks the provider adapter.

Idempotent on the action id without a separate idempotency store: the action's own item is the
record. Sending claims it with one conditional write (planned -> sent) before the provider is called,
so a redelivered, duplicated or concurrent message finds it claimed and sends nothing; a contact
deferred by the guard leaves it planned and comes back later."""

import json
import math
from collections import Counter
from datetime import datetime
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from arrears import clock
from arrears.adapters.channels import sender_for
from arrears.adapters.clients import client
from arrears.adapters.facts_sink import FactSink
from arrears.adapters.models import bind
from arrears.config import ChannelSettings, settings
from arrears.observability import logger, metrics
from arrears.usecases.send import ActionMessage, Deferred, contexts, send_action, source_of

# deferred contacts are expected failures: report them, do not fail the invocation for them
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
MAX_VISIBILITY_S = 11 * 3600  # SQS allows 12 h from receipt; a longer wait takes several rounds
_batch: dict = {}  # this invocation's prefetched contexts and fact sink


@lru_cache(maxsize=1)
def once():  # type: ignore[no-untyped-def]
    """Built on first use, not at import: the channel's settings and provider adapter."""
    s, cs = settings(), ChannelSettings.from_env()  # per function: each channel's own
    sender = sender_for(cs)

    def send(action: dict, now: datetime) -> dict:
        msg = ActionMessage.parse(action)
        if msg.channel != cs.channel:
            raise ValueError(f"action {msg.action_id} is for {msg.channel}, not this {cs.channel} sender")
        ctx = _batch["contexts"].pop(msg.action_id, None)
        if ctx is None:  # delivered again in this batch: read again now, with every later such delivery
            ctx = _read_again(msg)
        _batch["left"][msg.action_id] -= 1
        status = send_action(s, sender, msg, ctx, now, _batch["sink"])
        return {"action_id": msg.action_id, "status": status}

    return send, cs


def _read_again(msg: ActionMessage) -> Any:
    """The contexts of this message and of every later message of the batch whose context was used
    already (a duplicate delivery), read now in one go: each one's own earlier delivery has run, so
    they read what it did (its claim, its booking); the conditional claim and the ledger's version
    still decide, as for any context read before its send."""
    later = {m.action_id: m for m in _batch["messages"] if _batch["left"][m.action_id] > 0}
    again = [m for aid, m in later.items() if aid not in _batch["contexts"] and aid != msg.action_id]
    _batch["contexts"].update(contexts([msg, *again]))
    return _batch["contexts"].pop(msg.action_id)


def _parse_all(records: list[dict]) -> list[ActionMessage]:
    out = []
    for r in records:
        try:
            out.append(ActionMessage.parse(json.loads(r["body"])))
        except ValueError:  # reported as this record's failure when it is processed
            continue
    return out


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict, context) -> dict:  # type: ignore[no-untyped-def]
    s = settings()
    bind(s)
    send, cs = once()
    _batch["messages"] = _parse_all(event.get("Records", []))
    _batch["contexts"] = contexts(_batch["messages"])
    _batch["left"] = Counter(m.action_id for m in _batch["messages"])  # deliveries still to come, by action
    _batch["sink"] = FactSink(s.outcomes_bucket, source_of(cs.channel))

    def record_handler(record) -> dict:  # type: ignore[no-untyped-def]
        now = clock.now()
        try:
            return send(json.loads(record.body), now)
        except Deferred as later:  # come back when the guard allows it (SQS keeps it hidden till then)
            wait = max(1, min(MAX_VISIBILITY_S, math.ceil((later.retry_at - now).total_seconds())))
            client("sqs").change_message_visibility(
                QueueUrl=cs.queue_url, ReceiptHandle=record.receipt_handle, VisibilityTimeout=wait
            )
            raise
        except Exception:
            logger.exception("action not sent; the message will be retried", extra={"message_id": record.message_id})
            raise

    try:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    finally:
        _batch["sink"].flush()
