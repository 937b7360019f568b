"""EventBridge Scheduler (daily) -> one work item per shard on the work queue."""

from arrears.config import settings
from arrears.domain.timeutil import parse_instant
from arrears.observability import logger, metrics
from arrears.usecases.fanout import start_run


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict, context: object) -> dict:
    run_at = parse_instant(event.get("scheduled_time"))
    return {"run_at": event["scheduled_time"], "shards": start_run(settings(), run_at)}
