"""DynamoDB stream of the idempotency table -> the facts of the API's accepted requests, to S3.

The API stores each accepted request's facts with its first answer, in the one transaction that
records the request (``arrears/usecases/webhook.py``), and answers without writing them itself: this
function writes them to the outcomes table off the request's path, one object per business date a
batch touches. Only new items carrying facts reach it (the mapping's filter; checked again here: a
file import's payment items carry none). Fact ids are deterministic, so a retried batch writes the
same facts again and the outcomes table's readers keep one row per fact_id.
"""

from __future__ import annotations

import functools
import os

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from botocore.exceptions import BotoCoreError, ClientError

from arrears.adapters import facts_sink
from arrears.config import ConfigError
from arrears.observability import logger, metrics

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


@functools.cache
def outcomes_bucket() -> str:
    bucket = os.environ.get("OUTCOMES_BUCKET", "").strip()
    if not bucket:
        raise ConfigError("bad configuration: OUTCOMES_BUCKET is not set")
    return bucket


def facts_of(record: dict) -> str:
    """The fact lines an inserted idempotency item carries ('' for any other record)."""
    if record.get("eventName") != "INSERT":
        return ""
    text = (record.get("dynamodb", {}).get("NewImage") or {}).get("facts", {}).get("S", "")
    return text if text.endswith("\n") or not text else text + "\n"


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict, context: object) -> dict:
    records = event.get("Records", [])
    text = "".join(facts_of(r) for r in records)
    written = True
    if text:
        try:
            metrics.add_metric(name="ApiFactsWritten", unit="Count", value=facts_sink.write_lines(outcomes_bucket(), "api", text))
        except (ClientError, BotoCoreError):
            logger.exception("the API's facts not written: the batch is retried")
            written = False

    def record_handler(record) -> None:  # type: ignore[no-untyped-def]
        if not written:
            raise RuntimeError("facts not written; retried")

    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
