"""The daily planning pass: which strategy applies to a loan, the planning-time gate, and the rows
that carry proposals from the shard workers to the dispatcher (which ranks them across the whole
book under each channel's capacity).

Pure: the shard worker builds a ``LoanView`` per delinquent loan from its stored state; this module
says what to do with it.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from . import DATA_ERRORS
from .strategies import (
    Chooser,
    LoanView,
    Proposal,
    Scorer,
    Strategy,
    arm_for,
    probability_of_payment,
    propose,
    segment_for,
    variant_named,
)
from .timeutil import iso, parse_instant

#: loan holds that stop all collection work on the loan at planning already
PLANNING_HOLDS = ("dispute", "hardship", "paused")


def action_id_for(case_id: str, step_id: str) -> str:
    """Deterministic: re-planning the same step of the same case yields the same action."""
    return hashlib.sha256(f"{case_id}|{step_id}".encode()).hexdigest()[:24]


class Work(NamedTuple):
    """A proposal with what the dispatcher and the ledger stream need besides (no personal data)."""

    proposal: Proposal
    borrower_id: str
    currency: str
    bucket: str
    dpd: int
    run_at: datetime
    overdue: Decimal  # when planned: what a contact asks for, and the arm comparison's base

    @property
    def action_id(self) -> str:
        return action_id_for(self.proposal.case_id, self.proposal.step_id)

    def row(self) -> dict[str, Any]:
        p = self.proposal._asdict()
        p["expected_recovery"] = str(self.proposal.expected_recovery)
        return {
            **p,
            "action_id": self.action_id,
            "borrower_id": self.borrower_id,
            "currency": self.currency,
            "bucket": self.bucket,
            "dpd": self.dpd,
            "run_at": iso(self.run_at),
            "overdue": str(self.overdue),
        }

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Work:
        fields: dict[str, Any] = {k: row.get(k) for k in Proposal._fields}  # .get: rows from before a field
        fields["expected_recovery"] = Decimal(str(row["expected_recovery"]))
        fields["version"] = int(row["version"])
        return cls(
            Proposal(**fields),
            str(row["borrower_id"]),
            str(row["currency"]),
            str(row["bucket"]),
            int(row["dpd"]),
            parse_instant(str(row["run_at"])),
            Decimal(str(row["overdue"])),
        )


class Candidate(NamedTuple):
    """A delinquent loan as the shard worker sees it today."""

    view: LoanView
    today: date  # the borrower's local date at the run
    holds: frozenset[str]  # the loan's holds (dispute, hardship, paused)
    arm: str | None  # the variant recorded on the loan's case, if any
    borrower_id: str
    currency: str


class ShardPlan(NamedTuple):
    work: list[Work]
    gated: Counter[str]  # loans held at planning, by hold
    unassigned: Counter[str]  # loans whose jurisdiction has no strategy, by jurisdiction
    no_segment: int  # loans the strategy has no segment for
    outcome: dict[str, str]  # loan id -> what planning decided for it, in words (arrears explain)
    failed: dict[str, str] = {}  # loan id -> why it could not be planned (its data broke a rule's arithmetic)


def with_risk(view: LoanView, now: datetime, score: Scorer | None = None) -> LoanView:
    """The loan with its ``risk``, what a strategy's ``match.risk`` compares: the probability that it is
    not paid, 1 - the probability of payment the work is ranked with (the trained model's, else the
    heuristic's), to 4 places. A risk the loan already has is kept."""
    if view.risk is not None:
        return view
    p = score(view, now) if score is not None else probability_of_payment(view)
    return view._replace(risk=round(1.0 - min(1.0, max(0.0, p)), 4))


def plan_loans(
    strategies: Mapping[str, Strategy],
    loans: Iterable[Candidate],
    now: datetime,
    score: Scorer | None = None,
    choose: Chooser | None = None,
) -> ShardPlan:
    """Propose today's work for each loan with the strategy of its jurisdiction, in the arm its case
    already has (a loan never switches arm mid-cycle) or its deterministic arm, valued with the
    trained model's ``score`` when there is one."""
    work: list[Work] = []
    gated: Counter[str] = Counter()
    unassigned: Counter[str] = Counter()
    no_segment = 0
    outcome: dict[str, str] = {}
    failed: dict[str, str] = {}
    for c in loans:
        loan_id = c.view.loan_id
        held = next((h for h in PLANNING_HOLDS if h in c.holds), None)
        if held:
            gated[held] += 1
            outcome[loan_id] = f"held at planning: {held} hold on the loan"
            continue
        jurisdiction = c.view.jurisdiction.upper().split("-", 1)[0]
        strategy = strategies.get(jurisdiction)
        if strategy is None:
            unassigned[jurisdiction or "(none)"] += 1
            outcome[loan_id] = f"no strategy for jurisdiction {jurisdiction or '(none)'}"
            continue
        variant = variant_named(strategy, c.arm) or arm_for(strategy, loan_id)
        arm = f"{strategy.id} v{strategy.version} {variant.name}"
        try:  # one loan's absurd data must not stop the others' planning
            view = with_risk(c.view, now, score)
        except DATA_ERRORS as e:
            failed[loan_id] = f"{type(e).__name__}: {e}"[:300]
            outcome[loan_id] = f"not planned: {failed[loan_id]}"
            continue
        segment = segment_for(variant, view)
        if segment is None:
            no_segment += 1
            outcome[loan_id] = f"no segment of {arm} matches {view.bucket} at DPD {view.dpd}, risk {view.risk}"
            continue
        try:
            proposed = propose(strategy, view, c.today, now, variant, score, choose)
            loan_work = [Work(p, c.borrower_id, c.currency, view.bucket, view.dpd, now, view.overdue) for p in proposed]
        except DATA_ERRORS as e:
            failed[loan_id] = f"{type(e).__name__}: {e}"[:300]
            outcome[loan_id] = f"not planned: {failed[loan_id]}"
            continue
        work += loan_work
        outcome[loan_id] = (
            f"proposed {', '.join(p.step_id for p in proposed)} ({arm}, segment {segment.name})"
            if proposed
            else f"nothing due today in {arm}, segment {segment.name} (steps done, not yet due, waiting on a "
            "condition or the cool-down)"
        )
    return ShardPlan(work, gated, unassigned, no_segment, outcome, failed)
