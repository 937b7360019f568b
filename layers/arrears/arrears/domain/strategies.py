"""Collection strategies as data: versioned documents, validated with errors that name the path.

A strategy has ordered segments (the first whose ``match`` fits a loan applies); a segment has steps
(what to do, on which channel, how many days after entering the bucket or after the last contact,
under which conditions), a cool-down between contacts and escalation levels with DPD thresholds
(taken one level at a time). Challenger variants carry their own segments and a traffic share; a
loan's arm is a deterministic hash of the strategy and the loan, so it never changes between days.

This module is pure: the documents come from YAML files in the repo (defaults) or from DynamoDB.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from . import templates
from .countries import ISO_3166_ALPHA2

CHANNELS = ("sms", "email", "voice", "wechat", "letter")
CONDITIONS = ("no_open_promise", "no_contact_today", "reachable")
ESCALATIONS = ("high_risk", "legal", "agency")
ANCHORS = ("bucket_entry", "last_contact")
#: when a step may be sent besides as dispatched or at the bandit's hour
SEND_AT = ("payment_hour",)
MATCH_KEYS = ("buckets", "dpd", "outstanding", "credit_grades", "risk", "products", "jurisdictions", "languages")


class StrategyError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid strategy: " + "; ".join(problems))
        self.problems = problems


class Match(NamedTuple):
    buckets: frozenset[str] | None = None
    dpd: tuple[int, int | None] | None = None
    outstanding: tuple[Decimal, Decimal | None] | None = None
    credit_grades: frozenset[str] | None = None
    risk: tuple[float, float | None] | None = None
    products: frozenset[str] | None = None
    jurisdictions: frozenset[str] | None = None
    languages: frozenset[str] | None = None


class Step(NamedTuple):
    id: str
    after_days: int
    anchor: str
    channel: str
    template: str
    conditions: tuple[str, ...] = ()
    # a choice the bandit learns (domain/bandit.py): other channels with their templates, and the
    # local hours to send at; none: the step's channel, sent as soon as dispatched
    options: tuple[tuple[str, str], ...] = ()
    hours: tuple[int, ...] = ()
    # ``payment_hour``: sent at the local hour the borrower last paid the loan at, when a payment is known
    send_at: str | None = None

    def choices(self) -> list[tuple[str, str, int | None]]:
        """Every (channel, template, hour) the step allows, its own channel first."""
        channels = [(self.channel, self.template), *[o for o in self.options if o[0] != self.channel]]
        hours: list[int | None] = list(self.hours) or [None]
        return [(c, t, h) for c, t in channels for h in hours]


class Escalation(NamedTuple):
    level: str
    min_dpd: int


class Segment(NamedTuple):
    name: str
    match: Match
    steps: tuple[Step, ...]
    cooldown_hours: int
    escalations: tuple[Escalation, ...]


class Variant(NamedTuple):
    name: str
    share: float
    segments: tuple[Segment, ...]


class Strategy(NamedTuple):
    id: str
    version: int
    name: str
    variants: tuple[Variant, ...]  # the champion first, with the share the challengers leave

    @property
    def champion(self) -> Variant:
        return self.variants[0]


class LoanView(NamedTuple):
    """What planning needs to know about a delinquent loan (no personal data)."""

    loan_id: str
    case_id: str
    bucket: str
    dpd: int
    outstanding: Decimal
    overdue: Decimal
    credit_grade: str | None
    risk: float | None
    product: str
    jurisdiction: str
    language: str
    bucket_since: date
    last_contact_at: datetime | None = None
    promise_open: bool = False
    broken_promises: int = 0
    payments_made: int = 0
    reachable: bool = True
    done_steps: frozenset[str] = frozenset()
    escalation: str | None = None
    payment_hour: int | None = None  # the local hour of the loan's latest repayment (None: none yet)


# --- parsing --------------------------------------------------------------------------------------


class _Errors:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def add(self, path: str, text: str) -> None:
        self.problems.append(f"{path}: {text}")


def _words(e: _Errors, path: str, raw: Any, known: Sequence[str] | None = None) -> frozenset[str] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(w, str) and w for w in raw):
        e.add(path, "must be a list of names")
        return None
    bad = [w for w in raw if known is not None and w not in known]
    if bad:
        e.add(path, f"{', '.join(bad)} not one of {', '.join(known or ())}")
    return frozenset(raw)


def _range(e: _Errors, path: str, raw: Any, kind: type) -> tuple | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or len(raw) != 2 or raw[0] is None:
        e.add(path, "must be [min, max] (max may be null for no upper bound)")
        return None
    try:
        lo = kind(str(raw[0]))
        hi = None if raw[1] is None else kind(str(raw[1]))
    except (ValueError, ArithmeticError):
        e.add(path, f"{raw!r} are not numbers")
        return None
    if hi is not None and hi < lo:
        e.add(path, "max is below min")
    return (lo, hi)


def _int(e: _Errors, path: str, raw: Any, lo: int = 0) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool) or raw < lo:
        e.add(path, f"must be a whole number of at least {lo}")
        return lo
    return raw


def _text(e: _Errors, path: str, raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip():
        e.add(path, "must be a non-empty text")
        return ""
    return raw


def _unknown(e: _Errors, path: str, raw: Mapping, allowed: Sequence[str]) -> None:
    for key in raw:
        if key not in allowed:
            e.add(f"{path}.{key}", f"unknown field (allowed: {', '.join(allowed)})")


def _step(e: _Errors, sp: str, s: Any) -> Step | None:
    if not isinstance(s, dict):
        e.add(sp, "must be a mapping")
        return None
    _unknown(e, sp, s, ("id", "after_days", "from", "channel", "template", "when", "options", "hours", "send_at"))
    step = Step(
        id=_text(e, f"{sp}.id", s.get("id")),
        after_days=_int(e, f"{sp}.after_days", s.get("after_days", 0)),
        anchor=s.get("from", "bucket_entry"),
        channel=s.get("channel", ""),
        template=_text(e, f"{sp}.template", s.get("template")),
        conditions=tuple(sorted(_words(e, f"{sp}.when", s.get("when", []), CONDITIONS) or ())),
    )
    step = step._replace(options=_options(e, sp, s.get("options")), hours=_hours(e, sp, s.get("hours")))
    if s.get("send_at") is not None:
        if s["send_at"] not in SEND_AT:
            e.add(f"{sp}.send_at", f"{s['send_at']!r} is not one of {', '.join(SEND_AT)}")
        else:
            step = step._replace(send_at=str(s["send_at"]))
    if step.anchor not in ANCHORS:
        e.add(f"{sp}.from", f"{step.anchor!r} is not one of {', '.join(ANCHORS)}")
    if step.channel not in CHANNELS:
        e.add(f"{sp}.channel", f"{step.channel!r} is not one of {', '.join(CHANNELS)}")
    elif step.template and (why := templates.problem(step.channel, step.template)):
        e.add(f"{sp}.template", why)
    return step


def _options(e: _Errors, sp: str, raw: Any) -> tuple[tuple[str, str], ...]:
    """``options: [{channel: wechat, template: ...}, ...]``: other channels the bandit may use."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or not raw:
        e.add(f"{sp}.options", "must be a list of {channel, template}")
        return ()
    out = []
    for i, o in enumerate(raw):
        op = f"{sp}.options[{i}]"
        if not isinstance(o, dict):
            e.add(op, "must be a mapping with channel and template")
            continue
        _unknown(e, op, o, ("channel", "template"))
        channel, template = o.get("channel", ""), _text(e, f"{op}.template", o.get("template"))
        if channel not in CHANNELS:
            e.add(f"{op}.channel", f"{channel!r} is not one of {', '.join(CHANNELS)}")
        elif template and (why := templates.problem(channel, template)):
            e.add(f"{op}.template", why)
        out.append((str(channel), template))
    if len({c for c, _ in out}) != len(out):
        e.add(f"{sp}.options", "a channel is offered twice")
    return tuple(out)


def _hours(e: _Errors, sp: str, raw: Any) -> tuple[int, ...]:
    """``hours: [9, 12, 18]``: the local hours the bandit may send at (the guard's hours still apply)."""
    if raw is None:
        return ()
    if (
        not isinstance(raw, list)
        or not raw
        or any(isinstance(h, bool) or not isinstance(h, int) or not 0 <= h <= 23 for h in raw)
        or len(set(raw)) != len(raw)
    ):
        e.add(f"{sp}.hours", "must be a list of distinct whole hours from 0 to 23")
        return ()
    return tuple(sorted(raw))


def _segment(e: _Errors, path: str, raw: Any) -> Segment:
    if not isinstance(raw, dict):
        e.add(path, "must be a mapping")
        return Segment("", Match(), (), 0, ())
    _unknown(e, path, raw, ("name", "match", "steps", "cooldown_hours", "escalations"))
    m = raw.get("match") or {}
    if not isinstance(m, dict):
        e.add(f"{path}.match", "must be a mapping")
        m = {}
    _unknown(e, f"{path}.match", m, MATCH_KEYS)
    match = Match(
        buckets=_words(e, f"{path}.match.buckets", m.get("buckets")),
        dpd=_range(e, f"{path}.match.dpd", m.get("dpd"), int),
        outstanding=_range(e, f"{path}.match.outstanding", m.get("outstanding"), Decimal),
        credit_grades=_words(e, f"{path}.match.credit_grades", m.get("credit_grades")),
        risk=_range(e, f"{path}.match.risk", m.get("risk"), float),
        products=_words(e, f"{path}.match.products", m.get("products")),
        jurisdictions=_words(e, f"{path}.match.jurisdictions", m.get("jurisdictions")),
        languages=_words(e, f"{path}.match.languages", m.get("languages")),
    )
    steps = []
    seen: set[str] = set()
    for i, s in enumerate(raw.get("steps") or []):
        step = _step(e, f"{path}.steps[{i}]", s)
        if step is None:
            continue
        if step.id in seen:
            e.add(f"{path}.steps[{i}].id", f"{step.id!r} is used twice in this segment")
        seen.add(step.id)
        steps.append(step)
    escalations = []
    for i, x in enumerate(raw.get("escalations") or []):
        xp = f"{path}.escalations[{i}]"
        if not isinstance(x, dict):
            e.add(xp, "must be a mapping")
            continue
        level = x.get("level")
        if level not in ESCALATIONS:
            e.add(f"{xp}.level", f"{level!r} is not one of {', '.join(ESCALATIONS)}")
        escalations.append(Escalation(str(level), _int(e, f"{xp}.min_dpd", x.get("min_dpd"), 1)))
    order = [ESCALATIONS.index(x.level) for x in escalations if x.level in ESCALATIONS]
    if order != sorted(order) or [x.min_dpd for x in escalations] != sorted(x.min_dpd for x in escalations):
        e.add(f"{path}.escalations", "levels must go up in order (high_risk, legal, agency) with rising min_dpd")
    return Segment(
        _text(e, f"{path}.name", raw.get("name")),
        match,
        tuple(steps),
        _int(e, f"{path}.cooldown_hours", raw.get("cooldown_hours", 0)),
        tuple(escalations),
    )


def _steps_unique(e: _Errors, path: str, segments: Sequence[Segment]) -> None:
    """A step is done once per case, by id: two segments of one arm must not share a step id."""
    first: dict[str, str] = {}
    for seg in segments:
        for step in seg.steps:
            if step.id in first and first[step.id] != seg.name:
                e.add(path, f"step id {step.id!r} is used by segments {first[step.id]!r} and {seg.name!r}")
            first.setdefault(step.id, seg.name)


def parse_strategy(doc: Any) -> Strategy:
    """A strategy document (the dict a YAML or JSON file holds) -> Strategy, or StrategyError with
    every problem and where it is."""
    e = _Errors()
    if not isinstance(doc, dict):
        raise StrategyError(["(document): must be a mapping"])
    _unknown(e, "strategy", doc, ("id", "version", "name", "segments", "challengers"))
    sid = _text(e, "id", doc.get("id"))
    version = _int(e, "version", doc.get("version"), 1)
    segments = tuple(_segment(e, f"segments[{i}]", s) for i, s in enumerate(doc.get("segments") or []))
    _steps_unique(e, "segments", segments)
    if not segments:
        e.add("segments", "at least one segment is needed")
    variants = []
    total = 0.0
    for i, c in enumerate(doc.get("challengers") or []):
        cp = f"challengers[{i}]"
        if not isinstance(c, dict):
            e.add(cp, "must be a mapping")
            continue
        share = c.get("share")
        if not isinstance(share, int | float) or not 0 < share < 1:
            e.add(f"{cp}.share", "must be a fraction between 0 and 1")
            share = 0.0
        total += float(share)
        segs = tuple(_segment(e, f"{cp}.segments[{j}]", s) for j, s in enumerate(c.get("segments") or []))
        _steps_unique(e, f"{cp}.segments", segs)
        if not segs:
            e.add(f"{cp}.segments", "a challenger needs its own segments")
        variants.append(Variant(_text(e, f"{cp}.variant", c.get("variant")), float(share), segs))
    if total >= 1:
        e.add("challengers", "shares must leave the champion some traffic (sum below 1)")
    names = [v.name for v in variants]
    if len(set(names)) != len(names) or "champion" in names:
        e.add("challengers", "variant names must be unique and not 'champion'")
    if e.problems:
        raise StrategyError(e.problems)
    return Strategy(
        sid, version, _text(e, "name", doc.get("name", sid)), (Variant("champion", 1 - total, segments), *variants)
    )


# --- deciding -------------------------------------------------------------------------------------


def never_matching(strategy: Strategy, buckets: Sequence[str]) -> list[str]:
    """Names in segments that no loan can ever have: a bucket the stack does not configure, or a
    jurisdiction that is not an ISO 3166-1 alpha-2 code (loans carry those)."""
    problems = []
    for i, variant in enumerate(strategy.variants):
        base = "segments" if i == 0 else f"challengers[{i - 1}].segments"
        for j, seg in enumerate(variant.segments):
            path = f"{base}[{j}].match"
            for b in sorted(seg.match.buckets or ()):
                if b not in buckets:
                    problems.append(
                        f"{path}.buckets: {b!r} is not a configured bucket ({', '.join(buckets)}), "
                        f"so segment {seg.name!r} can never match it"
                    )
            for code in sorted(seg.match.jurisdictions or ()):
                if code not in ISO_3166_ALPHA2:
                    hint = f" (did you mean {code.upper()!r}?)" if code.upper() in ISO_3166_ALPHA2 else ""
                    problems.append(
                        f"{path}.jurisdictions: {code!r} is not an ISO 3166-1 alpha-2 code{hint}, "
                        f"so segment {seg.name!r} can never match it"
                    )
    return problems


def arm_for(strategy: Strategy, loan_id: str) -> Variant:
    """Deterministic traffic split: the same loan gets the same arm on every day and every re-run."""
    x = int(hashlib.sha256(f"{strategy.id}|{loan_id}".encode()).hexdigest()[:12], 16) / float(1 << 48)
    edge = 0.0
    for v in strategy.variants[1:]:
        edge += v.share
        if x < edge:
            return v
    return strategy.champion


def _within(value: Any, rng: tuple | None) -> bool:
    if rng is None:
        return True
    if value is None:
        return False
    lo, hi = rng
    return bool(value >= lo and (hi is None or value <= hi))


def matches(m: Match, loan: LoanView) -> bool:
    return (
        (m.buckets is None or loan.bucket in m.buckets)
        and _within(loan.dpd, m.dpd)
        and _within(loan.outstanding, m.outstanding)
        and (m.credit_grades is None or loan.credit_grade in m.credit_grades)
        and _within(loan.risk, m.risk)
        and (m.products is None or loan.product in m.products)
        and (m.jurisdictions is None or loan.jurisdiction.split("-")[0] in m.jurisdictions)
        and (m.languages is None or loan.language in m.languages)
    )


def segment_for(variant: Variant, loan: LoanView) -> Segment | None:
    return next((s for s in variant.segments if matches(s.match, loan)), None)


class Proposal(NamedTuple):
    """One piece of work the strategy proposes today, with how it got there (explainability)."""

    loan_id: str
    case_id: str
    strategy: str
    version: int
    variant: str
    segment: str
    kind: str  # contact | escalate
    step_id: str
    channel: str | None
    template: str | None
    expected_recovery: Decimal
    why: str
    send_hour: int | None = None  # the local hour to send at (a step with hours: the bandit's choice)


#: picks a step's channel, template and send hour for a loan today (domain/bandit.py); None: the step's own
Chooser = Callable[[str, "Step", "Segment", "LoanView", date], tuple[str, str, int | None, str]]


def variant_named(strategy: Strategy, name: str | None) -> Variant | None:
    return next((v for v in strategy.variants if v.name == name), None)


def propose(
    strategy: Strategy,
    loan: LoanView,
    today: date,
    now: datetime,
    variant: Variant | None = None,
    score: Scorer | None = None,
    choose: Chooser | None = None,
) -> list[Proposal]:
    """Today's work for one loan. ``variant``: the arm already recorded on the loan's case (a loan
    never switches arm mid-cycle); by default the loan's deterministic arm. ``score``: a trained
    model's probability of payment (the heuristic's without one). ``choose``: the bandit's pick
    among a step's options and hours (without: the step's own channel, sent when dispatched)."""
    variant = variant or arm_for(strategy, loan.loan_id)
    seg = segment_for(variant, loan)
    if seg is None:
        return []
    value = expected_recovery(loan, score(loan, now) if score is not None else None)
    base = (loan.loan_id, loan.case_id, strategy.id, strategy.version, variant.name, seg.name)
    out: list[Proposal] = []
    current = ESCALATIONS.index(loan.escalation) if loan.escalation in ESCALATIONS else -1
    for x in seg.escalations:  # one level at a time: only the next one up
        level = ESCALATIONS.index(x.level)
        if level == current + 1 and loan.dpd >= x.min_dpd:
            out.append(
                Proposal(
                    *base,
                    "escalate",
                    f"escalate:{x.level}",
                    None,
                    None,
                    value,
                    f"DPD {loan.dpd} >= {x.min_dpd} and current level {loan.escalation or 'none'}",
                )
            )
            break
    if loan.last_contact_at is not None and (now - loan.last_contact_at).total_seconds() < seg.cooldown_hours * 3600:
        return out
    for step in seg.steps:
        if step.id in loan.done_steps or not _conditions_hold(step, loan, today):
            continue
        start = (
            loan.bucket_since
            if step.anchor == "bucket_entry"
            else (loan.last_contact_at.date() if loan.last_contact_at else loan.bucket_since)
        )
        if (today - start).days >= step.after_days:
            why = f"{step.after_days} days after {step.anchor.replace('_', ' ')}"
            channel, template, hour = step.channel, step.template, None
            if choose is not None and len(step.choices()) > 1:
                channel, template, hour, how = choose(strategy.id, step, seg, loan, today)
                why = f"{why}; {how}"
            if step.send_at == "payment_hour" and loan.payment_hour is not None:
                hour = loan.payment_hour
                why = f"{why}; sent at {hour:02d}:00 local, the hour the borrower last paid at"
            out.append(Proposal(*base, "contact", step.id, channel, template, value, why, hour))
            break  # one contact step a day per loan; the next one waits for its own day
    return out


def _conditions_hold(step: Step, loan: LoanView, today: date) -> bool:
    for c in step.conditions:
        if c == "no_open_promise" and loan.promise_open:
            return False
        if c == "no_contact_today" and loan.last_contact_at is not None and loan.last_contact_at.date() == today:
            return False
        if c == "reachable" and not loan.reachable:
            return False
    return True


# --- prioritisation -------------------------------------------------------------------------------


def probability_of_payment(loan: LoanView) -> float:
    """A documented heuristic until a trained model exists: high early in delinquency and falling
    with DPD (a logistic curve, half at 45 DPD), lower for each broken promise, higher for a history
    of payments, halved when the borrower cannot be reached; kept within 1%-95%."""
    z = (loan.dpd - 45) / 15
    p = 0.85 / (1.0 + math.exp(z)) if z < 700 else 0.0  # exp overflows a float past ~709
    p *= 0.7**loan.broken_promises
    p *= 1.0 + 0.08 * min(loan.payments_made, 5)
    if not loan.reachable:
        p *= 0.5
    return min(0.95, max(0.01, p))


#: a trained model's probability of payment for a loan at an instant (arrears.domain.propensity)
Scorer = Callable[[LoanView, datetime], float]


def expected_recovery(loan: LoanView, p: float | None = None) -> Decimal:
    """The amount overdue times the probability of payment: ``p`` (a trained model's), or the heuristic's."""
    p = probability_of_payment(loan) if p is None else min(1.0, max(0.0, p))
    return (loan.overdue * Decimal(str(round(p, 4)))).quantize(Decimal("0.01"))


class Plan(NamedTuple):
    work: list[Proposal]
    deferred: list[Proposal]


def prioritise(proposals: Sequence[Proposal], capacity: Mapping[str, int]) -> Plan:
    """Highest expected recovery first (ties: loan id, then step id); each channel's daily capacity
    is a limit: the best work takes it, the rest is deferred. Escalations need no channel capacity."""
    ranked = sorted(proposals, key=lambda p: (-p.expected_recovery, p.loan_id, p.step_id))
    used: dict[str, int] = {}
    work, deferred = [], []
    for p in ranked:
        if p.channel is not None and p.channel in capacity:
            if used.get(p.channel, 0) >= capacity[p.channel]:
                deferred.append(p)
                continue
            used[p.channel] = used.get(p.channel, 0) + 1
        work.append(p)
    return Plan(work, deferred)
