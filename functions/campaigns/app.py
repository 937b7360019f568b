"""campaign_command: two ways in.

- The CampaignsTable's stream, filtered to the job items a start or resume writes with the status
  change (one transaction, in the operations API or below): the campaign's work for today, dispatched
  at once from what is left of the channels' capacity (``usecases/campaigns.dispatch_now``; idempotent:
  a retried job finds the same step ids). Batch processing with partial failures; a job that keeps
  failing goes to CampaignEventsDLQ.
- A direct invocation from the Lambda console: ``{"command": "start" | "pause" | "resume" | "cancel",
  "campaign_id": "..."}`` (events/campaign_command_*.json): the same status change as the API's (its
  audit names the Lambda console); an unknown campaign or a command its status does not allow is an
  error naming why.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from arrears.adapters.models import bind
from arrears.clock import now
from arrears.config import settings
from arrears.domain.api import ApiError
from arrears.observability import logger, metrics
from arrears.usecases import campaigns

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def job_of(record: Any) -> str | None:
    """The campaign a job item names (None: not a job's insert)."""
    raw = record.raw_event
    keys = raw.get("dynamodb", {}).get("Keys", {})
    sk = keys.get("sk", {}).get("S", "")
    if raw.get("eventName") != "INSERT" or not sk.startswith("JOB#"):
        return None
    return str(keys.get("campaign_id", {}).get("S", "")) or None


def record_handler(record: Any) -> None:
    cid = job_of(record)
    if cid:
        campaigns.dispatch_now(settings(), cid, now())


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict, context: object) -> dict:
    bind(settings())
    if "command" in event:
        try:
            return campaigns.run_command(str(event.get("campaign_id", "")), str(event["command"]), now())
        except ApiError as e:
            raise ValueError(e.message) from None
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
