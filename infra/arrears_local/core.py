"""The domain core in process: a book, a world and strategies run without the emulator.

``arrears run`` runs the whole stack (the real handlers on moto): right for seeing what arrears does,
too slow for comparing strategies over many seeds on a large book. This runs the same decisions with
the same pure functions of the ``arrears`` package, in the same order, over plain Python state:

- the clock as ``arrears run`` drives it: each day the world is asked at the business day's midnight,
  the daily run fires at ``DailyRunSchedule`` (09:00 in ``BusinessTimeZone``), the report at 00:15 the
  next day (the bandit learns online then), the training on Mondays at 04:00; the world's payments
  arrive at their ``paid_at`` and are applied before anything due at the same instant;
- a payment as the ledger stream applies it (``ledger.apply_payment``, ``delinquency.assess``, the open
  promise resolved, ``delinquency.transition``, the cured loan's planned contacts cancelled);
- the daily run as the shard workers and the dispatcher make it (``planning.plan_loans`` with the trained
  model's score and the bandit's choice, ``campaigns.rank`` under each channel's capacity), the work
  applied as the stream applies PLAN entries (each step once a case, the case's arm kept);
- a contact as the sender makes it (``strategy.decide_send``, the compliance guard's ``reserve`` on the
  borrower's contact ledger with the same holds, deferral to ``retry_at``, the bandit's send hour), the
  world told of it, a call's result and promise recorded as the dialer and the stream record them.

It writes the facts the stack writes for what the figures, the training, the bandit and the proposals
read (``loan_evaluated``, ``case_*``, ``action_*``, ``call_outcome``, ``promise_*``,
``repayment_applied``), with the same columns and ids. What it leaves out: campaigns, arrangements
and offers, agents, reversals, operators' holds, the platform callbacks and the reports' pages.
``tests/e2e/test_core_matches_stack.py`` runs a small book through both and requires the same figures
and facts. Channel costs are the defaults of ``domain/costs.py`` (the stack's until an admin sets others).
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from arrears.config import parse_pairs
from arrears.domain import bandit, propensity
from arrears.domain.buckets import CURRENT, DEFAULT_SPEC, BucketScheme
from arrears.domain.campaigns import rank
from arrears.domain.compliance import ContactRequest, Holds, Ledger, record_outcome, reserve, rules_for
from arrears.domain.costs import DEFAULT_COSTS, cost_micros
from arrears.domain.delinquency import Assessment, CaseState, assess, transition
from arrears.domain.facts import Fact, business_date
from arrears.domain.ledger import ZERO, Unpaid, apply_payment
from arrears.domain.money import to_minor
from arrears.domain.planning import Candidate, Work, plan_loans
from arrears.domain.promises import PromiseState, promise_from_call, resolve
from arrears.domain.propensity import Model, view_features
from arrears.domain.strategies import LoanView, Strategy
from arrears.domain.strategy import decide_send
from arrears.domain.timeutil import iso, zone
from arrears.usecases.collect import send_at

from .book import Book
from .world import CallResult, Contact, Payment, Reaction, World, WorldError, asked

#: what a channel sends to (the senders' ``address``): a borrower without one is blocked, as in the stack
ADDRESS = {"sms": "phone", "voice": "phone", "email": "email", "wechat": "wechat_openid", "letter": "address"}
#: a call's result on the borrower's contact ledger (adapters/contact_ledger.CALL_OUTCOMES)
CALL_LEDGER = {"no_answer": "attempt", "busy": "attempt", "voicemail": "attempt", "connected": "connected",
               "conversation": "conversation", "promise": "conversation"}  # fmt: skip
#: at one instant: payments first (nobody is reminded after paying), then the world's day, the
#: schedules, and the contacts due
#: the held-out days of the weekly training (the PropensityTestDays parameter's default)
TEST_DAYS = 20
ORDER = {"payment": 0, "day": 1, "report": 2, "train": 2, "daily": 2, "send": 3}


@dataclass(frozen=True)
class Config:
    """The stack's settings this needs, as the template's defaults give them."""

    business_tz: str = "Asia/Shanghai"
    daily_at: time = time(9, 0)
    report_at: time = time(0, 15)
    train_at: time = time(4, 0)  # Mondays
    grace_days: int = 0
    buckets: BucketScheme = field(default_factory=lambda: BucketScheme.parse(DEFAULT_SPEC))
    capacity: Mapping[str, int] = field(
        default_factory=lambda: {
            k: int(v) for k, v in parse_pairs("sms=20000,email=50000,voice=400,wechat=20000,letter=300").items()
        }
    )
    exploration: float = bandit.DEFAULT_SHARE


@dataclass
class _Borrower:
    borrower_id: str
    tz: str
    jurisdiction: str
    language: str
    credit_grade: str | None
    addresses: dict[str, bool]
    opt_outs: frozenset[str]
    holds: frozenset[str]
    ledger: Ledger = field(default_factory=Ledger)


@dataclass
class _Loan:
    loan_id: str
    borrower_id: str
    currency: str
    product: str
    tz: str
    jurisdiction: str
    language: str
    credit_grade: str | None
    holds: frozenset[str]
    unpaid: tuple[Unpaid, ...]
    credit: Decimal = ZERO
    paid_total: Decimal = ZERO
    payments: int = 0
    case: CaseState = field(default_factory=CaseState)
    strategy: str | None = None
    strategy_version: int | None = None
    variant: str | None = None
    segment: str | None = None
    done_steps: set[str] = field(default_factory=set)
    escalation: str | None = None
    last_contact_at: datetime | None = None
    promise: tuple[str, date, Decimal, Decimal] | None = None  # (id, until, amount, paid total when made)
    broken_promises: int = 0
    last_paid_at: datetime | None = None

    @property
    def bucket(self) -> str:
        return self.case.bucket

    @property
    def case_id(self) -> str | None:
        return self.case.case_id


@dataclass
class _Action:
    action_id: str
    loan_id: str
    case_id: str
    channel: str
    template: str
    step: str
    strategy: str
    version: int
    variant: str
    segment: str
    why: str
    not_before: datetime | None
    status: str = "planned"


@dataclass
class Learning:
    """What ranks and chooses: a trained propensity model (None: the heuristic) and the bandit's counts.
    With ``online`` the run learns as the stack does: the bandit each day (the daily report's), the model
    each week (the training function's: a new model ranks only if it beats the one in use and the
    heuristic on the last ``TEST_DAYS`` days)."""

    model: Model | None = None
    bandit_days: dict[str, dict[str, Any]] = field(default_factory=dict)  # business date -> learned counts
    online: bool = True

    def chooser(self, share: float) -> Callable[..., Any]:
        return bandit.chooser(bandit.merge(self.bandit_days.values()), share)  # type: ignore[no-any-return]


class CoreRun:
    """One run of a book under ``strategies`` (jurisdiction -> strategy) with a world and a seed."""

    def __init__(
        self,
        book: Book,
        world: World,
        seed: int,
        strategies: Mapping[str, Strategy],
        config: Config | None = None,
        learning: Learning | None = None,
    ) -> None:
        self.cfg = config or Config()
        self.strategies = dict(strategies)
        self.learning = learning or Learning(online=False)
        self.world, self.seed = world, seed
        self.facts: list[Fact] = []
        self.reactions: defaultdict[str, int] = defaultdict(int)
        self.borrowers: dict[str, _Borrower] = {}
        self.loans: dict[str, _Loan] = {}
        self.actions: dict[str, _Action] = {}
        self.pending_by_loan: dict[str, set[str]] = defaultdict(set)
        self._waiting: bandit.Pending = []  # contacts waiting for their 7 days (the report's bandit state)
        self._fed = 0  # the facts the bandit's learning has taken in
        self.refused: list[str] = []  # what the world answered that arrears cannot take (as WorldRun's)
        self.pending_payments = 0  # the world's payments dated after the run's end
        self.now = datetime.min.replace(tzinfo=UTC)
        self._events: list[tuple[datetime, int, int, str, Any]] = []
        self._order = itertools.count()
        self._load(book)
        try:
            world.start(book, seed)
        except Exception as e:  # noqa: BLE001 - the world's own failure, named in one line
            raise WorldError(f"the world's start() failed: {type(e).__name__}: {e}") from None

    # ------------------------------------------------------------------------------ the book

    def _load(self, book: Book) -> None:
        for r in book.rows("borrowers"):
            self.borrowers[r["borrower_id"]] = _Borrower(
                r["borrower_id"],
                r.get("timezone") or "Asia/Shanghai",
                (r.get("jurisdiction") or "").upper(),
                r.get("language") or "",
                r.get("credit_grade") or None,
                {ch: bool((r.get(col) or "").strip()) for ch, col in ADDRESS.items()},
                _names(r.get("opt_out")),
                _names(r.get("holds")),
            )
        schedule: dict[str, list[Unpaid]] = defaultdict(list)
        for r in book.rows("installments"):
            amount = sum((Decimal(r.get(k) or 0) for k in ("principal_due", "interest_due", "fee_due")), ZERO)
            schedule[r["loan_id"]].append(Unpaid(int(r["seq"]), date.fromisoformat(r["due_date"]), amount))
        for r in book.rows("loans"):
            b = self.borrowers.get(r["borrower_id"])
            if b is None:
                continue
            unpaid = tuple(
                sorted(
                    (u for u in schedule.get(r["loan_id"], []) if u.remaining > 0), key=lambda u: (u.due_date, u.seq)
                )
            )
            self.loans[r["loan_id"]] = _Loan(
                r["loan_id"], b.borrower_id, r["currency"], r.get("product") or "", b.tz, b.jurisdiction,
                b.language, b.credit_grade, _names(r.get("holds")), unpaid,
            )  # fmt: skip

    # ------------------------------------------------------------------------------ the clock

    def _at(self, at: datetime, kind: str, payload: Any = None) -> None:
        heapq.heappush(self._events, (at, ORDER[kind], next(self._order), kind, payload))

    def run(self, start: date, days: int) -> CoreRun:
        tz = zone(self.cfg.business_tz)
        for n in range(days):
            day = start + timedelta(days=n)
            self._at(datetime.combine(day, time(), tz).astimezone(UTC), "day", day)
            self._at(datetime.combine(day, self.cfg.daily_at, tz).astimezone(UTC), "daily")
            self._at(datetime.combine(day + timedelta(days=1), self.cfg.report_at, tz).astimezone(UTC), "report", day)
            if day.weekday() == 0:
                self._at(datetime.combine(day, self.cfg.train_at, tz).astimezone(UTC), "train")
        end = datetime.combine(start + timedelta(days=days), self.cfg.report_at, tz).astimezone(UTC)
        while self._events and self._events[0][0] <= end:
            at, _, _, kind, payload = heapq.heappop(self._events)
            self.now = at
            if kind == "payment":
                self._payment(payload, at)
            elif kind == "day":
                self._react(asked(self.world.on_day, payload, f"on_day({payload})", self.loans, self.refused.append))
            elif kind == "daily":
                self._daily(at)
            elif kind == "send":
                self._send(self.actions[payload], at)
            elif kind == "report" and self.learning.online:
                self._learn_bandit(payload)
            elif kind == "train" and self.learning.online:
                self._train()
        self.pending_payments = sum(1 for e in self._events if e[3] == "payment")
        return self

    # ------------------------------------------------------------------------------ facts

    def _fact(self, kind: str, at: datetime, loan: _Loan, source: str, **kw: Any) -> None:
        kw.setdefault("segment", loan.segment)
        kw.setdefault("product", loan.product or None)
        kw.setdefault("jurisdiction", loan.jurisdiction or None)
        self.facts.append(
            Fact(
                kind,
                at,
                business_date(at, self.cfg.business_tz),
                loan.loan_id,
                source,
                borrower_id=loan.borrower_id,
                currency=loan.currency,
                **kw,
            )
        )

    def rows(self) -> list[dict[str, Any]]:
        return [f.row() for f in self.facts]

    # ------------------------------------------------------------------------------ the world

    def _react(self, reactions: Iterable[Reaction], contact: Contact | None = None) -> str | None:
        """Take the world's (checked) reactions; a call's result, after a call."""
        result = None
        for r in reactions:
            if isinstance(r, Payment):  # one dated before now is reported late: applied now, as the stack does
                self._at(max(r.paid_at.astimezone(UTC), self.now), "payment", r)
            elif isinstance(r, CallResult):
                if contact is None or contact.channel != "voice" or r.action_id != contact.action_id:
                    what = f"a {contact.channel} contact ({contact.action_id})" if contact else "on_day"
                    self.refused.append(f"a CallResult for {r.action_id} after {what}: call results answer a call")
                    continue
                result = r.result
                self.reactions[f"call_{r.result}"] += 1
            else:
                self.reactions[type(r).__name__.lower()] += 1
        return result

    # ------------------------------------------------------------------------------ the ledger stream

    def _assess(self, loan: _Loan, at: datetime) -> Assessment:
        return assess(loan.unpaid, loan.tz, at, self.cfg.grace_days, self.cfg.buckets)

    def _payment(self, p: Payment, at: datetime) -> None:
        loan = self.loans[p.loan_id]
        self.reactions["payment"] += 1
        from_bucket = loan.bucket
        loan.unpaid, loan.credit = apply_payment(loan.unpaid, loan.credit, p.amount)
        loan.paid_total += p.amount
        loan.payments += 1
        if loan.last_paid_at is None or p.paid_at > loan.last_paid_at:
            loan.last_paid_at = p.paid_at
        a = self._apply(loan, at)
        self._fact(
            "repayment_applied", at, loan, "ledger-events",
            payment_id=f"W{self.seed}-{self.reactions['payment']:07d}",
            amount_minor=to_minor(p.amount, loan.currency), from_bucket=from_bucket, to_bucket=loan.bucket,
            bucket=from_bucket, dpd=a.dpd, outstanding_minor=to_minor(a.outstanding, loan.currency),
            key=f"{self.reactions['payment']}|{p.amount}",
        )  # fmt: skip

    def _apply(self, loan: _Loan, at: datetime) -> Assessment:
        """The stream's re-evaluation of a loan at ``at``: its promise settled, its case moved."""
        a = self._assess(loan, at)
        if loan.promise is not None:
            pid, until, amount, paid_then = loan.promise
            result = resolve(PromiseState(until, amount, paid_then), loan.paid_total, a.local_day, a.bucket == CURRENT)
            if result is not None:
                self._fact(
                    f"promise_{result}", at, loan, "ledger-events", case_id=loan.case_id, action_id=pid,
                    amount_minor=to_minor(amount, loan.currency), strategy=loan.strategy,
                    strategy_version=loan.strategy_version, variant=loan.variant, bucket=a.bucket, dpd=a.dpd, key=pid,
                )  # fmt: skip
                loan.broken_promises += result == "broken"
                loan.promise = None
        before = loan.case
        after, transitions = transition(loan.loan_id, before, a)
        for t in transitions:
            self._fact(
                t.kind, at, loan, "ledger-events", case_id=t.case_id, bucket=t.bucket, from_bucket=t.from_bucket,
                to_bucket=t.to_bucket, dpd=a.dpd, amount_minor=to_minor(a.overdue, loan.currency),
                outstanding_minor=to_minor(a.outstanding, loan.currency), reason=t.reason, key=f"{t.case_id}|{t.bucket}",
            )  # fmt: skip
        if transitions and after.bucket == CURRENT and before.case_id and loan.done_steps:
            for action_id in sorted(self.pending_by_loan.pop(loan.loan_id, set())):
                act = self.actions[action_id]
                act.status = "cancelled"
                self._fact("action_cancelled", at, loan, "ledger-events", case_id=act.case_id, action_id=action_id,
                           channel=act.channel, reason="loan cured", key=action_id)  # fmt: skip
        loan.case = after
        if after.case_id != before.case_id:
            loan.strategy = loan.strategy_version = loan.variant = None
            loan.done_steps, loan.last_contact_at, loan.escalation, loan.promise = set(), None, None, None
        return a

    # ------------------------------------------------------------------------------ the daily run

    def _daily(self, run_at: datetime) -> None:
        score = None
        if self.learning.model is not None:
            model = self.learning.model

            def score(view: LoanView, at: datetime) -> float:
                return model.score(view_features(view, at))

        choose = self.learning.chooser(self.cfg.exploration)
        last_due = (run_at + timedelta(hours=14)).date() - timedelta(days=self.cfg.grace_days + 1)
        candidates: list[Candidate] = []
        evaluated: list[tuple[_Loan, Assessment]] = []
        for loan in self.loans.values():
            if not loan.unpaid or loan.unpaid[0].due_date > last_due:
                continue
            a = self._assess(loan, run_at)
            if a.bucket == CURRENT:
                if a.bucket != loan.bucket or self._settles(loan, a):
                    self._apply(loan, run_at)
                continue
            candidates.append(self._candidate(loan, a))
            evaluated.append((loan, a))
        plan = plan_loans(self.strategies, candidates, run_at, score, choose)
        for loan, a in evaluated:
            self._fact(
                "loan_evaluated", run_at, loan, "daily-run", case_id=loan.case_id, bucket=a.bucket, dpd=a.dpd,
                amount_minor=to_minor(a.overdue, loan.currency), outstanding_minor=to_minor(a.outstanding, loan.currency),
                reason=plan.outcome.get(loan.loan_id), key=iso(run_at),
            )  # fmt: skip
            if a.bucket != loan.bucket or self._settles(loan, a):
                self._apply(loan, run_at)  # the EVAL marker, applied by the stream before the dispatch
        work = {(w.proposal.loan_id, w.proposal.step_id): w for w in plan.work}
        ranked = rank([w.proposal for w in work.values()], self.cfg.capacity, {}, {})
        for p, rule in ranked.deferred:
            w = work[(p.loan_id, p.step_id)]
            self._fact(
                "action_deferred", run_at, self.loans[p.loan_id], "dispatcher", case_id=p.case_id,
                action_id=w.action_id, channel=p.channel, bucket=w.bucket, dpd=w.dpd,
                amount_minor=to_minor(w.overdue, w.currency), strategy=p.strategy, strategy_version=p.version,
                variant=p.variant, step=p.step_id, reason=f"{rule}: deferred at dispatch",
                key=f"{w.action_id}|{rule}|{iso(run_at)}",
            )  # fmt: skip
        for p in ranked.work:
            self._plan(work[(p.loan_id, p.step_id)], run_at)

    def _settles(self, loan: _Loan, a: Assessment) -> bool:
        return loan.promise is not None and a.local_day > loan.promise[1]

    def _candidate(self, loan: _Loan, a: Assessment) -> Candidate:
        after, _ = transition(loan.loan_id, loan.case, a)
        same = after.case_id == loan.case_id
        promise = loan.promise[1] if loan.promise and same else None
        view = LoanView(
            loan_id=loan.loan_id, case_id=after.case_id or "", bucket=a.bucket, dpd=a.dpd, outstanding=a.outstanding,
            overdue=a.overdue, credit_grade=loan.credit_grade, risk=None, product=loan.product,
            jurisdiction=loan.jurisdiction, language=loan.language, bucket_since=after.bucket_since or a.local_day,
            last_contact_at=loan.last_contact_at if same else None,
            promise_open=promise is not None and promise >= a.local_day, broken_promises=loan.broken_promises,
            payments_made=loan.payments, reachable=True,
            done_steps=frozenset(loan.done_steps) if same else frozenset(), escalation=loan.escalation if same else None,
            payment_hour=loan.last_paid_at.astimezone(zone(loan.tz)).hour if loan.last_paid_at else None,
        )  # fmt: skip
        return Candidate(view, a.local_day, loan.holds, loan.variant if same else None, loan.borrower_id, loan.currency)

    def _plan(self, w: Work, run_at: datetime) -> None:
        """A PLAN entry as the stream applies it (``collect.apply_plans``)."""
        p, loan = w.proposal, self.loans[w.proposal.loan_id]
        if p.case_id != loan.case_id or p.step_id in loan.done_steps:
            return
        loan.done_steps.add(p.step_id)
        loan.strategy, loan.strategy_version, loan.variant, loan.segment = p.strategy, p.version, p.variant, p.segment
        common = {"case_id": p.case_id, "action_id": w.action_id, "bucket": w.bucket, "dpd": w.dpd,
                  "strategy": p.strategy, "strategy_version": p.version, "variant": p.variant, "step": p.step_id,
                  "amount_minor": to_minor(w.overdue, loan.currency), "key": w.action_id}  # fmt: skip
        if p.kind == "escalate":
            loan.escalation = p.step_id.split(":", 1)[1]
            self._fact(
                "case_escalated", run_at, loan, "ledger-events", **common, reason=f"escalated to {loan.escalation}"
            )
            return
        loan.last_contact_at = run_at
        self._fact("action_planned", run_at, loan, "ledger-events", channel=p.channel, **common,
                   reason=f"{p.segment}/{p.step_id}: {p.why}")  # fmt: skip
        not_before = send_at(run_at, loan.tz, p.send_hour)
        self.actions[w.action_id] = _Action(
            w.action_id, loan.loan_id, p.case_id, str(p.channel), str(p.template), p.step_id, p.strategy, p.version,
            p.variant, p.segment, p.why, not_before,
        )  # fmt: skip
        self.pending_by_loan[loan.loan_id].add(w.action_id)
        self._at(run_at, "send", w.action_id)

    # ------------------------------------------------------------------------------ the senders

    def _send(self, act: _Action, now: datetime) -> None:
        if act.status != "planned":
            return
        if act.not_before is not None and now < act.not_before:  # the bandit's send hour
            self._at(act.not_before, "send", act.action_id)
            return
        loan, b = self.loans[act.loan_id], self.borrowers[self.loans[act.loan_id].borrower_id]

        def record(kind: str, key: str = act.action_id, at: datetime = now, **kw: Any) -> None:
            self._fact(kind, at, loan, f"{act.channel}-sender", case_id=act.case_id, action_id=act.action_id,
                       channel=act.channel, strategy=act.strategy, strategy_version=act.version, variant=act.variant,
                       step=act.step, key=key, **kw)  # fmt: skip

        decision = decide_send(
            action_case_id=act.case_id, channel=act.channel, loan_case_id=loan.case_id, loan_bucket=loan.bucket,
            has_address=b.addresses.get(act.channel, False),
        )  # fmt: skip
        reason = decision.reason
        if decision.verdict == "send":
            holds = Holds(
                opt_outs=b.opt_outs, deceased="deceased" in b.holds, bankrupt="bankrupt" in b.holds,
                cease_contact="cease_contact" in b.holds, attorney="attorney" in b.holds,
                dispute="dispute" in loan.holds, hardship="hardship" in loan.holds, paused="paused" in loan.holds,
                promise_until=loan.promise[1] if loan.promise else None,
            )  # fmt: skip
            number = _number(b.borrower_id) if act.channel == "voice" else None
            req = ContactRequest(b.borrower_id, loan.loan_id, act.action_id, act.channel, now, (b.tz,), number=number)
            verdict, booked = reserve(b.ledger, req, rules_for(b.jurisdiction), holds)
            if verdict.allowed:
                b.ledger = booked or b.ledger
            elif verdict.retry_at is not None:
                why = f"{verdict.rule}: {verdict.reason}"
                record("action_deferred", key=f"{act.action_id}|{iso(verdict.retry_at)}",
                       reason=f"{why}; retry at {iso(verdict.retry_at)}")  # fmt: skip
                self._at(verdict.retry_at, "send", act.action_id)
                return
            else:
                decision = decision._replace(verdict="block")
                reason = f"{verdict.rule}: {verdict.reason}"
        self.pending_by_loan[loan.loan_id].discard(act.action_id)
        if decision.verdict != "send":
            act.status = "cancelled" if decision.verdict == "cancel" else "blocked"
            record(f"action_{act.status}", reason=reason or act.status)
            return
        act.status = "sent"
        a = self._assess(loan, now)
        record(
            "action_sent", reason=f"{act.segment}/{act.step}: {act.why}", bucket=loan.bucket, dpd=a.dpd,
            amount_minor=to_minor(a.overdue, loan.currency), zones=b.tz, jurisdiction=b.jurisdiction or None,
            cost_micros=cost_micros(act.channel, loan.currency, DEFAULT_COSTS),
        )  # fmt: skip
        contact = Contact(
            borrower_id=b.borrower_id, loan_id=loan.loan_id, action_id=act.action_id, channel=act.channel,
            template=act.template, local_time=now.astimezone(zone(loan.tz)), language=loan.language, dpd=a.dpd,
            amount_overdue=a.overdue, currency=loan.currency,
        )  # fmt: skip
        result = self._react(
            asked(self.world.on_contact, contact, f"on_contact({act.action_id})", self.loans, self.refused.append),
            contact,
        )
        if act.channel != "voice":
            return
        result = result or "no_answer"
        if result not in ("no_answer", "busy", "voicemail"):
            b.ledger = record_outcome(b.ledger, act.action_id, CALL_LEDGER[result])
        record("call_outcome", key=f"{act.action_id}|outcome", reason=result)
        if result == "promise":
            p = promise_from_call(act.action_id, act.case_id, now, loan.tz, a.overdue)
            if p.case_id == loan.case_id and (loan.promise is None or loan.promise[0] != p.promise_id):
                loan.promise = (p.promise_id, p.until, p.amount, loan.paid_total)
                self._fact("promise_made", now, loan, "ledger-events", case_id=loan.case_id, action_id=p.promise_id,
                           amount_minor=to_minor(p.amount, loan.currency), strategy=loan.strategy,
                           strategy_version=loan.strategy_version, variant=loan.variant, bucket=loan.bucket,
                           key=p.promise_id)  # fmt: skip

    # ------------------------------------------------------------------------------ learning online

    def _learn_bandit(self, day: date) -> None:
        """As the daily report does (``bandit.advance`` and ``take``, a day at a time): the contacts of the
        day 8 days back, now that their 7 days passed."""
        learned = day - timedelta(days=8)
        until = datetime.combine(day + timedelta(days=1), time(), zone(self.cfg.business_tz))
        fresh = [f.row() for f in self.facts[self._fed :] if f.fact_type in ("action_sent", "repayment_applied")]
        self._fed = len(self.facts)
        counts, self._waiting = bandit.take(bandit.advance(self._waiting, fresh), until, learned.isoformat())
        if counts:
            self.learning.bandit_days[learned.isoformat()] = counts

    def _train(self) -> None:
        """As the weekly training does (``usecases/train.py``)."""
        rows = propensity.decisions(self.rows())
        if not rows:
            return
        try:
            model, doc = propensity.fit(rows, propensity.split_day_for(rows, TEST_DAYS), self.learning.model)
        except ValueError:  # too few decisions yet: nothing changes
            return
        if doc["choice"] == "new":
            self.learning.model = model
        elif doc["choice"] == "heuristic":
            self.learning.model = None  # the model in use ranks worse than the heuristic: retired


def _names(raw: object) -> frozenset[str]:
    return frozenset(x.strip() for x in str(raw or "").replace(";", ",").split(",") if x.strip())


def _number(borrower_id: str) -> str:
    """A stable key for the borrower's number (the stack keys it by the phone: one number a borrower)."""
    return hashlib.sha256(f"arrears-number|{borrower_id}".encode()).hexdigest()[:20]
