"""Work queue -> evaluate and plan one shard's delinquent loans, or (once every shard has planned)
dispatch the run's work under each channel's capacity, or count one shard of a strategy's dry run."""

import json

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from arrears import clock
from arrears.adapters.models import bind
from arrears.config import settings
from arrears.domain.timeutil import parse_instant
from arrears.observability import logger, metrics
from arrears.usecases.daily import exploration_share, run_shard
from arrears.usecases.dispatch import dispatch, watch_run
from arrears.usecases.dry_run import DryRunShard, run_job_shard
from arrears.usecases.fanout import Dispatch, ShardWork

processor = BatchProcessor(event_type=EventType.SQS)
exploration_share()  # checked at start-up: a bad BANDIT_EXPLORATION fails loudly


def parse_work(body: str) -> ShardWork | Dispatch | DryRunShard:
    data = json.loads(body)
    if isinstance(data, dict) and "dry_run" in data:  # a strategy's dry run from the operations API
        return DryRunShard(str(data["dry_run"]), str(data["shard"]))
    if isinstance(data, dict) and "dispatch" in data:
        return Dispatch(parse_instant(data["dispatch"]), watch=bool(data.get("watch")))
    if not isinstance(data, dict) or "shard" not in data or "run_at" not in data:
        raise ValueError("work item needs 'shard' and 'run_at' (or 'dispatch')")
    return ShardWork(parse_instant(data["run_at"]), str(data["shard"]), data.get("start_key"))


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict, context) -> dict:  # type: ignore[no-untyped-def]
    s = settings()
    bind(s)

    def record_handler(record) -> None:  # type: ignore[no-untyped-def]
        work = parse_work(record.body)
        if isinstance(work, DryRunShard):
            run_job_shard(s, work)
        elif isinstance(work, Dispatch) and work.watch:
            watch_run(s, work, clock.now())
        elif isinstance(work, Dispatch):
            dispatch(s, work.run_at)
        else:
            run_shard(s, work, context.get_remaining_time_in_millis)

    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
