"""Champion/challenger: compare arms, and a dry run of a strategy over today's book.

The comparison is per loan: recovery rate = amount recovered / amount overdue when the loan was
assigned. The difference between an arm and the champion comes with a 95% confidence interval
(Welch's normal approximation on per-loan rates); with fewer than two loans in an arm there is none.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from .planning import with_risk
from .strategies import LoanView, Scorer, Strategy, propose

Z95 = 1.959964


class LoanOutcome(NamedTuple):
    loan_id: str
    arm: str
    overdue: Decimal  # when assigned
    recovered: Decimal
    contacts: int = 0
    promises: int = 0
    cured: bool = False
    currency: str = ""  # the loan's: amounts are added up per currency, never across


def _cent(currency: str) -> Decimal:
    """The smallest amount of the currency (0.01 when unknown)."""
    from .money import minor_units

    return Decimal(1).scaleb(-minor_units(currency)) if currency else Decimal("0.01")


def _mean_var(xs: Sequence[float]) -> tuple[float, float]:
    m = sum(xs) / len(xs)
    v = sum((x - m) ** 2 for x in xs) / (len(xs) - 1) if len(xs) > 1 else 0.0
    return m, v


def compare_arms(outcomes: Iterable[LoanOutcome], champion: str = "champion") -> dict[str, Any]:
    by_arm: dict[str, list[LoanOutcome]] = defaultdict(list)
    for o in outcomes:
        by_arm[o.arm].append(o)
    rates = {arm: [float(o.recovered / o.overdue) if o.overdue else 0.0 for o in rows] for arm, rows in by_arm.items()}
    out: dict[str, Any] = {}
    for arm, rows in sorted(by_arm.items()):
        n = len(rows)
        recovered: dict[str, Decimal] = defaultdict(Decimal)
        loans: Counter[str] = Counter()
        for o in rows:
            recovered[o.currency] += o.recovered
            loans[o.currency] += 1
        entry: dict[str, Any] = {
            "loans": n,
            "contacts": sum(o.contacts for o in rows),
            "promises": sum(o.promises for o in rows),
            "cures": sum(1 for o in rows if o.cured),
            # by currency: the amount recovered over the arm's loans in that currency
            "recovered_per_loan": {
                cur: str((recovered[cur] / loans[cur]).quantize(_cent(cur))) for cur in sorted(recovered)
            },
            "recovery_rate": round(_mean_var(rates[arm])[0], 4),
        }
        if arm != champion and champion in rates and n > 1 and len(rates[champion]) > 1:
            (m1, v1), (m0, v0) = _mean_var(rates[arm]), _mean_var(rates[champion])
            diff = m1 - m0
            se = math.sqrt(v1 / n + v0 / len(rates[champion]))
            entry["difference_vs_champion"] = {
                "recovery_rate": round(diff, 4),
                "ci95": [round(diff - Z95 * se, 4), round(diff + Z95 * se, 4)],
            }
        out[arm] = entry
    return out


def dry_run(
    strategy: Strategy,
    book: Iterable[LoanView],
    today: date,
    now: datetime,
    local_days: Mapping[str, date] | None = None,
    score: Scorer | None = None,
) -> dict[str, Any]:
    """What this strategy version would do today, as counts per segment, step and channel; nothing
    is sent or written. ``local_days``: each loan's own local date, where it differs from ``today``;
    ``score``: the trained model in use (a loan's risk, and the value of its work, as the daily run's)."""
    counts: Counter[tuple[str, str, str, str]] = Counter()
    unmatched = 0
    for loan in book:
        loan = with_risk(loan, now, score)
        proposals = propose(strategy, loan, (local_days or {}).get(loan.loan_id, today), now, score=score)
        if not proposals:
            unmatched += 1
        for p in proposals:
            counts[(p.variant, p.segment, p.step_id, p.channel or p.kind)] += 1
    return {
        "strategy": strategy.id,
        "version": strategy.version,
        "no_action": unmatched,
        "by_step": [
            {"variant": v, "segment": s, "step": st, "channel": ch, "loans": n}
            for (v, s, st, ch), n in sorted(counts.items())
        ],
    }
