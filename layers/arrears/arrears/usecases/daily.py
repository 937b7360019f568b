"""The daily run: fan out one work item per shard, and evaluate a shard's delinquent loans."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from ..adapters import store
from ..adapters.clients import client
from ..adapters.facts_sink import FactSink
from ..config import Settings
from ..domain.buckets import CURRENT
from ..domain.delinquency import assess
from ..domain.money import to_minor
from ..domain.timeutil import iso
from ..observability import logger, metrics
from .fanout import ShardWork
from .recording import fact

SOURCE = "daily-run"
PAGE_SIZE = 500
#: The furthest-ahead zone (UTC+14): no borrower anywhere is on a later local date than this.
MAX_UTC_OFFSET = timedelta(hours=14)


def cutoff(run_at: datetime, grace_days: int) -> date:
    """Latest next_due that can be at least 1 DPD somewhere on earth at ``run_at``."""
    return (run_at.astimezone(UTC) + MAX_UTC_OFFSET).date() - timedelta(days=grace_days + 1)


@dataclass
class ShardResult:
    evaluated: int = 0
    delinquent: int = 0
    transitions: int = 0
    items_read: int = 0
    continued: bool = False


def run_shard(settings: Settings, work: ShardWork, time_left_ms: Callable[[], int]) -> ShardResult:
    """Evaluate every loan in the shard due on or before the cutoff. Reads only those loans (sparse
    index); where a loan's bucket changes it writes an EVAL marker to the loan's ledger, which the
    ledger stream applies (case, history, actions); and it records a loan_evaluated fact per
    delinquent loan (the report's bucket snapshot)."""
    result = ShardResult()
    sink = FactSink(settings.outcomes_bucket, f"{SOURCE}-{work.shard}")
    start_key = work.start_key
    last = cutoff(work.run_at, settings.grace_days)
    while True:
        page = store.due_loans(work.shard, last, start_key, PAGE_SIZE)
        markers = []
        for loan in page:
            result.evaluated += 1
            a = assess(store.unpaid_of(loan), loan.tz, work.run_at, settings.grace_days, settings.buckets)
            if a.bucket != loan.bucket:
                result.transitions += 1
                markers.append(store.eval_marker(loan.loan_id, work.run_at))
            if a.bucket != CURRENT:
                result.delinquent += 1
                sink.add(
                    fact(
                        settings,
                        "loan_evaluated",
                        work.run_at,
                        loan,
                        SOURCE,
                        case_id=loan.case_id,
                        bucket=a.bucket,
                        dpd=a.dpd,
                        amount_minor=to_minor(a.overdue, loan.currency),
                        outstanding_minor=to_minor(a.outstanding, loan.currency),
                        key=iso(work.run_at),
                    )
                )
        result.items_read += page.total_count
        sink.flush()
        store.save_all(markers)  # the ledger stream applies the bucket changes, in order per loan
        start_key = page.last_evaluated_key
        if not start_key:
            break
        if time_left_ms() < 60_000:
            _continue(settings, ShardWork(work.run_at, work.shard, start_key))
            result.continued = True
            break
    metrics.add_metric(name="LoansEvaluated", unit="Count", value=result.evaluated)
    metrics.add_metric(name="LoansDelinquent", unit="Count", value=result.delinquent)
    logger.info("shard evaluated", extra={"shard": work.shard, **result.__dict__})
    return result


def _continue(settings: Settings, work: ShardWork) -> None:
    client("sqs").send_message(QueueUrl=settings.work_queue_url, MessageBody=work.body())
