"""A strategy document dry-run over today's book: what it would propose for every delinquent loan of
its jurisdictions, as counts per arm, segment, step and channel. Reads the due index as the daily run
does; writes and sends nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..adapters import store
from ..config import Settings
from ..domain.buckets import CURRENT
from ..domain.delinquency import assess
from ..domain.experiments import dry_run
from ..domain.strategies import Strategy
from .daily import PAGE_SIZE, candidate, cutoff


def dry_run_book(settings: Settings, strategy: Strategy, now: datetime) -> dict[str, Any]:
    mine = {j for j, sid in settings.strategy_for.items() if sid == strategy.id}
    views, days = [], {}
    for n in range(settings.shard_count):
        start = None
        while True:
            page = store.due_loans(f"{n:04d}", cutoff(now, settings.grace_days), start, PAGE_SIZE)
            for loan in page:
                a = assess(store.unpaid_of(loan), loan.tz, now, settings.grace_days, settings.buckets)
                if a.bucket == CURRENT or (mine and (loan.jurisdiction or "").split("-")[0] not in mine):
                    continue
                c = candidate(loan, a)
                views.append(c.view)
                days[c.view.loan_id] = c.today
            start = page.last_evaluated_key
            if not start:
                break
    out = dry_run(strategy, views, now.date(), now, days)
    out["loans"] = len(views)
    out["as_of"] = now.isoformat()
    return out
