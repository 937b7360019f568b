"""SMS queue -> publish through SNS, at most once per action (idempotent on action_id)."""
import json
from datetime import UTC, datetime
from functools import lru_cache

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from arrears.adapters.facts_sink import FactSink
from arrears.adapters.models import bind
from arrears.config import settings
from arrears.observability import logger, metrics
from arrears.usecases.sms import SOURCE, ActionMessage, send_action

processor = BatchProcessor(event_type=EventType.SQS)


@lru_cache(maxsize=1)
def once():  # type: ignore[no-untyped-def]
    """Built on first use, not at import: the table name and endpoint come from settings."""
    s = settings()
    config = IdempotencyConfig(event_key_jmespath="action_id", expires_after_seconds=30 * 86400)
    persistence = DynamoDBPersistenceLayer(table_name=s.idempotency_table)

    @idempotent_function(data_keyword_argument="action", persistence_store=persistence, config=config)
    def send(action: dict, sent_at: str) -> dict:
        sink = FactSink(s.outcomes_bucket, SOURCE)
        status = send_action(s, ActionMessage.parse(action), datetime.fromisoformat(sent_at), sink)
        sink.flush()
        return {"action_id": action["action_id"], "status": status}

    return send, config


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict, context) -> dict:  # type: ignore[no-untyped-def]
    bind(settings())
    send, config = once()
    config.register_lambda_context(context)

    def record_handler(record) -> dict:  # type: ignore[no-untyped-def]
        sent_ms = int(record.attributes.sent_timestamp)
        sent_at = datetime.fromtimestamp(sent_ms / 1000, UTC).isoformat()
        return send(action=json.loads(record.body), sent_at=sent_at)

    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
