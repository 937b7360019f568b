"""SQS (CallbackQueue) -> signed callbacks to the platform (arrears/usecases/callbacks.py): one event a
message, retried with backoff, then the DLQ; a delivered event is never posted again."""

from __future__ import annotations

import functools
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from arrears.observability import logger, metrics
from arrears.usecases import callbacks

processor = BatchProcessor(event_type=EventType.SQS)


@functools.cache
def settings() -> callbacks.CallbackSettings:
    return callbacks.CallbackSettings.from_env()  # a bad setting fails loudly, naming it


def record_handler(record: Any) -> str:
    body, count, receipt = callbacks.record_of(record.raw_event)
    return callbacks.deliver(settings(), body, count, receipt)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict, context: object) -> dict:
    settings()
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
