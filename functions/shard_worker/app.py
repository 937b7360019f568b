"""Work queue (one message per shard) -> evaluate the shard's delinquent loans."""

import json

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from arrears.adapters.models import bind
from arrears.config import settings
from arrears.domain.timeutil import parse_instant
from arrears.observability import logger, metrics
from arrears.usecases.daily import ShardWork, run_shard

processor = BatchProcessor(event_type=EventType.SQS)


def parse_work(body: str) -> ShardWork:
    data = json.loads(body)
    if not isinstance(data, dict) or "shard" not in data or "run_at" not in data:
        raise ValueError("shard work item needs 'shard' and 'run_at'")
    return ShardWork(parse_instant(data["run_at"]), str(data["shard"]), data.get("start_key"))


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict, context) -> dict:  # type: ignore[no-untyped-def]
    s = settings()
    bind(s)

    def record_handler(record) -> None:  # type: ignore[no-untyped-def]
        run_shard(s, parse_work(record.body), context.get_remaining_time_in_millis)

    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
