"""The daily run: fan out one work item per shard, and evaluate a shard's delinquent loans."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ..adapters import bandit_store, campaign_store, propensity_store, runs, store, strategy_store
from ..adapters.clients import client
from ..adapters.facts_sink import FactSink
from ..adapters.models import LoanModel
from ..config import ConfigError, Settings
from ..domain import DATA_ERRORS, bandit
from ..domain.buckets import CURRENT
from ..domain.campaigns import Campaign, matches
from ..domain.campaigns import proposal as campaign_proposal
from ..domain.delinquency import Assessment, assess, transition
from ..domain.facts import Fact, business_date
from ..domain.money import to_minor
from ..domain.planning import PLANNING_HOLDS, Candidate, Work, plan_loans
from ..domain.strategies import LoanView, Scorer, Strategy, expected_recovery
from ..domain.timeutil import iso, parse_instant, zone
from ..observability import logger, metrics
from .fanout import Dispatch, ShardWork
from .recording import fact

SOURCE = "daily-run"
PAGE_SIZE = 500
#: The furthest-ahead zone (UTC+14): no borrower anywhere is on a later local date than this.
MAX_UTC_OFFSET = timedelta(hours=14)


def exploration_share() -> float:
    """BANDIT_EXPLORATION: the share of a step's choices the bandit makes at random (0 to 0.5)."""
    raw = os.environ.get("BANDIT_EXPLORATION", str(bandit.DEFAULT_SHARE))
    try:
        share = float(raw)
    except ValueError:
        share = -1.0
    if not 0 <= share <= 0.5:
        raise ConfigError(f"bad configuration: BANDIT_EXPLORATION={raw!r}: a fraction from 0 to 0.5")
    return share


def cutoff(run_at: datetime, grace_days: int) -> date:
    """Latest next_due that can be at least 1 DPD somewhere on earth at ``run_at``."""
    return (run_at.astimezone(UTC) + MAX_UTC_OFFSET).date() - timedelta(days=grace_days + 1)


@dataclass
class ShardResult:
    evaluated: int = 0
    delinquent: int = 0
    transitions: int = 0
    items_read: int = 0
    proposed: int = 0
    continued: bool = False
    dispatch_requested: bool = False


def run_shard(settings: Settings, work: ShardWork, time_left_ms: Callable[[], int]) -> ShardResult:
    """Evaluate every loan in the shard due on or before the cutoff. Reads only those loans (sparse
    index); where a loan's bucket changes it writes an EVAL marker to the loan's ledger, which the
    ledger stream applies (case, history, actions); and it records a loan_evaluated fact per
    delinquent loan (the report's bucket snapshot)."""
    result = ShardResult()
    _, done = runs.state_of(work.run_at)
    if work.shard in done:  # delivered again after the shard finished: its parts and its mark are written
        if len(done) >= settings.shard_count:  # the first delivery may have stopped before asking
            _continue(settings, Dispatch(work.run_at))  # (a dispatched run skips the request)
            result.dispatch_requested = True
        logger.info("shard already evaluated", extra={"shard": work.shard, "run_at": iso(work.run_at)})
        return result
    sink = FactSink(settings.outcomes_bucket, f"{SOURCE}-{work.shard}")
    strategies = active_strategies(settings, work.run_at)
    live = [c for c in running_campaigns(settings, work.run_at) if c.live(work.run_at)]
    score, model_version = propensity_store.scorer(settings.outcomes_bucket, work.run_at)
    choose = bandit.chooser(bandit_store.counts(settings.outcomes_bucket, work.run_at), exploration_share())
    start_key = work.start_key
    month_end = is_month_end(business_date(work.run_at, settings.business_tz))
    # at a month end every loan with a balance, each told in a loan_snapshot fact; else the due ones only
    last = None if month_end else cutoff(work.run_at, settings.grace_days)
    rows: list[dict] = []
    stats: Counter[str] = Counter()
    while True:
        page = store.due_loans(work.shard, last, start_key, PAGE_SIZE)
        markers, candidates, delinquent = _assess_page(settings, page, work.run_at, month_end, sink, stats, result)
        result.items_read += page.total_count
        shard_plan = plan_loans(strategies, candidates, work.run_at, score, choose)
        stats["failed"] += len(shard_plan.failed)
        for loan, a in delinquent:  # with what planning decided (arrears explain)
            reason = shard_plan.outcome.get(loan.loan_id)
            sink.add(_state_fact(settings, "loan_evaluated", loan, a, work.run_at, iso(work.run_at), reason=reason))
        rows += [w.row() for w in shard_plan.work]
        rows += [w.row() for w in campaign_work(live, delinquent, work.run_at, score)]
        stats.update({f"gated:{k}": n for k, n in shard_plan.gated.items()})
        stats.update({f"unassigned:{k}": n for k, n in shard_plan.unassigned.items()})
        stats.update({"no_segment": shard_plan.no_segment, "delinquent": len(candidates)})
        ranked_by = f"propensity v{model_version}" if model_version else "heuristic"
        stats[f"ranked_by:{ranked_by}"] += len(candidates)  # which valued the work (loans)
        sink.flush()
        store.save_all(markers)  # the ledger stream applies the bucket changes, in order per loan
        start_key = page.last_evaluated_key
        if not start_key:
            break
        if time_left_ms() < 60_000:
            result.continued = True
            break
    result.proposed = len(rows)
    runs.write_part(settings.outcomes_bucket, work.run_at, work.shard, work.start_key, rows, dict(stats))
    if result.continued:  # only once this part is written: the rest of the shard comes after it
        _continue(settings, ShardWork(work.run_at, work.shard, start_key))
    if not result.continued and runs.shard_done(work.run_at, work.shard) >= settings.shard_count:
        _continue(settings, Dispatch(work.run_at))  # the last shard to finish asks for the dispatch
        result.dispatch_requested = True
    metrics.add_metric(name="LoansEvaluated", unit="Count", value=result.evaluated)
    metrics.add_metric(name="LoansDelinquent", unit="Count", value=result.delinquent)
    logger.info("shard evaluated", extra={"shard": work.shard, **result.__dict__})
    return result


_run_campaigns: dict[tuple[str, datetime], list[Campaign]] = {}


def running_campaigns(settings: Settings, run_at: datetime) -> list[Campaign]:
    """The campaigns running when this container first planned a shard of the run (read once a run)."""
    key = (settings.campaigns_table, run_at)
    if key not in _run_campaigns:
        _run_campaigns.clear()
        _run_campaigns[key] = campaign_store.running()
    return _run_campaigns[key]


def campaign_work(
    live: list[Campaign], delinquent: list[tuple[LoanModel, Assessment]], run_at: datetime, score: Scorer | None
) -> list[Work]:
    """Each running campaign's contact for each of its loans today, valued as the strategy's work is;
    the dispatcher ranks it with the strategy's (one contact a loan a day; each campaign's cap)."""
    out: list[Work] = []
    for c in live:
        for loan, a in delinquent:
            if set(loan.holds or ()) & set(PLANNING_HOLDS):
                continue  # held at planning, as the strategy's work is
            view = candidate(loan, a).view
            if matches(c.target, view, loan.segment):
                expected = expected_recovery(view, score(view, run_at) if score else None)
                p = campaign_proposal(c, view, a.local_day, expected, daily=True)
                out.append(Work(p, loan.borrower_id, loan.currency, a.bucket, a.dpd, run_at, a.overdue))
    return out


def _assessed(settings: Settings, loan: LoanModel, run_at: datetime) -> Assessment:
    """The loan today; under an active plan or settlement its bucket stands (the case's stage is plan)."""
    a = assess(store.unpaid_of(loan), loan.tz, run_at, settings.grace_days, settings.buckets)
    return a._replace(bucket=loan.bucket) if loan.arrangement_check else a


def _settles_something(loan: LoanModel, a: Assessment) -> bool:
    """Whether the stream has something to settle today though the bucket stands: a promise's date
    passed (kept or broken), or an arrangement's due passed beyond grace (kept or broken)."""
    day = a.local_day.isoformat()
    return bool(loan.promise_until and day > loan.promise_until) or bool(
        loan.arrangement_check and day > loan.arrangement_check
    )


def _assess_page(
    settings: Settings,
    page: Iterable[LoanModel],
    run_at: datetime,
    month_end: bool,
    sink: FactSink,
    stats: Counter[str],
    result: ShardResult,
) -> tuple[list[Any], list[Candidate], list[tuple[LoanModel, Assessment]]]:
    """Each loan of a page assessed today: the EVAL markers to write, the delinquent loans to plan (as
    candidates, and with their assessments); a month end's snapshots go to ``sink``."""
    markers = []
    candidates = []
    delinquent: list[tuple[LoanModel, Assessment]] = []
    for loan in page:
        result.evaluated += 1
        try:  # one loan's data must never stop the shard: it is recorded and the others go on
            a = _assessed(settings, loan, run_at)
            c = candidate(loan, a) if a.bucket != CURRENT else None
        except DATA_ERRORS as e:
            _loan_failed(settings, sink, loan, run_at, e)
            stats["failed"] += 1
            continue
        if month_end and a.outstanding > 0:
            sink.add(
                _state_fact(settings, "loan_snapshot", loan, a, run_at, "month-end", disbursed_on=loan.disbursed_on)
            )
        if a.bucket != loan.bucket:
            result.transitions += 1
        if a.bucket != loan.bucket or _settles_something(loan, a):
            markers.append(store.eval_marker(loan.loan_id, run_at))
        if c is not None:
            result.delinquent += 1
            candidates.append(c)
            delinquent.append((loan, a))
    return markers, candidates, delinquent


def is_month_end(day: date) -> bool:
    return (day + timedelta(days=1)).month != day.month


def _state_fact(
    settings: Settings, kind: str, loan: LoanModel, a: Assessment, run_at: datetime, key: str, **more: Any
) -> Fact:
    """A loan's state at the run: bucket, DPD, amount overdue and balance (``loan_evaluated`` for each
    delinquent loan; ``loan_snapshot`` at a month end for each loan with a balance, with its
    disbursement date: roll rates from M0, cure rates and vintages are counted from these)."""
    return fact(
        settings,
        kind,
        run_at,
        loan,
        SOURCE,
        case_id=loan.case_id,
        bucket=a.bucket,
        dpd=a.dpd,
        amount_minor=to_minor(a.overdue, loan.currency),
        outstanding_minor=to_minor(a.outstanding, loan.currency),
        key=key,
        **more,
    )


def _loan_failed(settings: Settings, sink: FactSink, loan: LoanModel, run_at: datetime, e: Exception) -> None:
    reason = f"{type(e).__name__}: {e}"[:300]
    logger.warning("loan not evaluated; the others go on", extra={"loan_id": loan.loan_id, "reason": reason})
    metrics.add_metric(name="LoansFailed", unit="Count", value=1)
    sink.add(fact(settings, "loan_failed", run_at, loan, SOURCE, reason=reason, key=iso(run_at)))


def active_strategies(settings: Settings, run_at: datetime) -> dict[str, Strategy]:
    """The version of each jurisdiction's strategy active when this container first planned a shard
    of the run (StrategyStoreError if one has none): a run's shards plan with one version even if a
    new one is published meanwhile, and each container reads the active pointers once per run."""
    key = (settings.strategies_table, run_at)
    cached = _run_strategies.get(key)
    if cached is None:
        loaded = {
            sid: strategy_store.load_cached(sid, strategy_store.active_version(sid))
            for sid in set(settings.strategy_for.values())
        }
        cached = {j: loaded[sid] for j, sid in settings.strategy_for.items()}
        _run_strategies.clear()
        _run_strategies[key] = cached
    return cached


_run_strategies: dict[tuple[str, datetime], dict[str, Strategy]] = {}


def candidate(loan: LoanModel, a: Assessment) -> Candidate:
    """The loan as planning sees it, after today's assessment (its case as the stream will make it)."""
    after, _ = transition(loan.loan_id, store.case_state_of(loan), a)
    same_case = after.case_id == loan.case_id  # otherwise a new case: nothing done on it yet
    promise = date.fromisoformat(loan.promise_until) if loan.promise_until and same_case else None
    view = LoanView(
        loan_id=loan.loan_id,
        case_id=after.case_id or "",
        bucket=a.bucket,
        dpd=a.dpd,
        outstanding=a.outstanding,
        overdue=a.overdue,
        credit_grade=loan.credit_grade,
        risk=None,
        product=loan.product or "",
        jurisdiction=loan.jurisdiction or "",
        language=loan.language or "",
        bucket_since=after.bucket_since or a.local_day,
        last_contact_at=parse_instant(loan.last_contact_at) if loan.last_contact_at and same_case else None,
        promise_open=promise is not None and promise >= a.local_day,
        broken_promises=int(loan.broken_promises or 0),
        payments_made=len(loan.payment_ids or ()),
        reachable=True,
        done_steps=frozenset(loan.done_steps or ()) if same_case else frozenset(),
        escalation=loan.escalation if same_case else None,
        payment_hour=parse_instant(loan.last_paid_at).astimezone(zone(loan.tz)).hour if loan.last_paid_at else None,
    )
    return Candidate(
        view,
        a.local_day,
        frozenset(loan.holds or ()),
        loan.variant if same_case else None,
        loan.borrower_id,
        loan.currency,
    )


def _continue(settings: Settings, work: ShardWork | Dispatch) -> None:
    client("sqs").send_message(QueueUrl=settings.work_queue_url, MessageBody=work.body())
