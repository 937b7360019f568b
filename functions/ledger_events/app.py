"""DynamoDB stream of the ledger table -> re-evaluate each changed loan once per batch.

A loan's changes must be applied in order, so all of a loan's records in the batch are applied
together; a loan that fails has its records reported as failures (Powertools batch processing), and
the stream retries from the first of them, re-applying what follows idempotently.
"""

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from arrears.adapters.facts_sink import FactSink
from arrears.adapters.models import bind
from arrears.config import settings
from arrears.domain.timeutil import parse_instant
from arrears.observability import logger, metrics
from arrears.usecases.ledger_events import SOURCE, LedgerChange, reevaluate

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def _plain(image: dict) -> dict:
    return {k: next(iter(v.values())) for k, v in image.items()}


def parse_change(record: dict) -> LedgerChange:
    ddb = record["dynamodb"]
    new = ddb.get("NewImage")
    return LedgerChange(
        loan_id=ddb["Keys"]["loan_id"]["S"],
        entry=ddb["Keys"]["entry"]["S"],
        event=record["eventName"],
        at=parse_instant(new["run_at"]["S"])
        if new and "run_at" in new
        else datetime.fromtimestamp(float(ddb["ApproximateCreationDateTime"]), UTC),
        new=_plain(new) if new else None,
        unchanged=record["eventName"] == "MODIFY" and new == ddb.get("OldImage"),
        old_amount=Decimal(ddb["OldImage"]["amount"]["N"]) if "amount" in (ddb.get("OldImage") or {}) else None,
    )


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict, context: object) -> dict:
    s = settings()
    bind(s)
    by_loan: dict[str, list[LedgerChange]] = defaultdict(list)
    for r in event.get("Records", []):
        change = parse_change(r)
        by_loan[change.loan_id].append(change)
    metrics.add_metric(name="LedgerChanges", unit="Count", value=len(event.get("Records", [])))
    failed = reevaluate(s, by_loan, FactSink(s.outcomes_bucket, SOURCE))

    def record_handler(record) -> None:  # type: ignore[no-untyped-def]
        if record.dynamodb.keys["loan_id"] in failed:
            raise RuntimeError("loan not re-evaluated; retried from here")

    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
