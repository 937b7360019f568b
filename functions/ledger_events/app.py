"""DynamoDB stream of the ledger table -> re-evaluate each changed loan once per batch."""
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from arrears.adapters.facts_sink import FactSink
from arrears.adapters.models import bind
from arrears.config import settings
from arrears.observability import logger, metrics
from arrears.usecases.ledger_events import SOURCE, LedgerChange, reevaluate

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def parse_change(record: dict) -> LedgerChange:
    ddb = record["dynamodb"]
    keys = ddb["Keys"]
    new = ddb.get("NewImage") or {}
    old = ddb.get("OldImage") or {}
    amount = payment_id = None
    if "amount" in new and new.get("amount") != old.get("amount"):
        amount, payment_id = Decimal(new["amount"]["N"]), new.get("payment_id", {}).get("S")
    return LedgerChange(
        loan_id=keys["loan_id"]["S"], entry=keys["entry"]["S"], event=record["eventName"],
        at=datetime.fromtimestamp(float(ddb["ApproximateCreationDateTime"]), UTC),
        amount=amount, payment_id=payment_id,
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
    done: dict[str, Exception | None] = {}
    sink = FactSink(s.outcomes_bucket, SOURCE)

    def record_handler(record: object) -> None:
        loan_id = record["dynamodb"]["Keys"]["loan_id"]["S"]  # type: ignore[index]
        if loan_id not in done:
            try:
                reevaluate(s, loan_id, by_loan[loan_id], sink)
                done[loan_id] = None
            except Exception as e:  # reported per record below; the shard retries from here
                done[loan_id] = e
        if done[loan_id] is not None:
            raise RuntimeError(f"loan {loan_id} not re-evaluated") from done[loan_id]

    metrics.add_metric(name="LedgerChanges", unit="Count", value=len(event.get("Records", [])))
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
