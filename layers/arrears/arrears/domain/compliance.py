"""The compliance guard: may this contact leave now? Pure rules over a borrower's contact ledger.

Every rule has a name; a verdict says which rules passed, which one failed and why, and when the
contact becomes allowed again (``retry_at``), or never by itself (``retry_at`` None: a hold, an
opt-out). Numbers are defaults per jurisdiction (../shared/DOMAIN.md) and all configurable; where
rules overlap the strictest applies, because every rule must pass.

- contact hours in the borrower's local time; with several candidate zones (an ambiguous location)
  only when allowed in every one of them;
- holds: third parties, deceased, bankrupt, cease-contact, attorney, per-channel opt-out, dispute,
  hardship, paused loan, open promise to pay;
- caps per borrower across lender and agencies: per channel per day and per rolling 7 days; voice:
  connected calls per day, dial attempts per number per day, attempts per debt per 7 days, and no
  call within N days after a conversation about the debt.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import NamedTuple

from .timeutil import zone

CHANNELS = ("sms", "email", "voice", "wechat", "letter")
#: posted, not delivered at an hour: contact hours do not apply (holds, opt-outs and caps do)
UNTIMED = ("letter",)
WEEK = timedelta(days=7)


class Rules(NamedTuple):
    jurisdiction: str
    allowed_from: time
    allowed_until: time  # exclusive: a contact at exactly this local time is outside hours
    daily_caps: Mapping[str, int]
    weekly_caps: Mapping[str, int]
    voice_connected_per_day: int | None = None
    voice_attempts_per_number_per_day: int | None = None
    voice_attempts_per_debt_7_days: int | None = None
    no_call_days_after_conversation: int | None = None

    def with_overrides(self, overrides: Mapping[str, object]) -> Rules:
        bad = sorted(set(overrides) - set(self._fields))
        if bad:
            raise ValueError(f"unknown compliance setting(s): {', '.join(bad)}")
        return self._replace(**overrides)  # type: ignore[arg-type]


DEFAULT_RULES: dict[str, Rules] = {
    # NIFA 2024 / CBA 2026 (secondary sources): no contact 22:00-08:00, 3 connected calls a day per
    # borrower, 6 dial attempts a day to one number.
    "CN": Rules(
        "CN",
        time(8, 0),
        time(22, 0),
        daily_caps={"sms": 2, "email": 2, "wechat": 2},
        weekly_caps={"sms": 6, "email": 7, "wechat": 6},
        voice_connected_per_day=3,
        voice_attempts_per_number_per_day=6,
    ),
    # Regulation F 1006.6(b)(1)(i) and 1006.14(b)(2): 08:00-21:00 local, 7 call attempts per debt in
    # 7 days, no call within 7 days after a telephone conversation.
    "US": Rules(
        "US",
        time(8, 0),
        time(21, 0),
        daily_caps={"sms": 1, "email": 2, "wechat": 0},
        weekly_caps={"sms": 4, "email": 7},
        voice_attempts_per_debt_7_days=7,
        no_call_days_after_conversation=7,
    ),
}


def rules_for(jurisdiction: str, overrides: Mapping[str, Mapping[str, object]] | None = None) -> Rules:
    """Rules of a jurisdiction ('US-CA' uses 'US'); unknown jurisdictions get the strictest hours."""
    key = jurisdiction.upper().split("-", 1)[0]
    base = DEFAULT_RULES.get(key)
    if base is None:
        base = Rules(
            key, time(8, 0), time(21, 0), DEFAULT_RULES["US"].daily_caps, DEFAULT_RULES["US"].weekly_caps, 3, 6, 7, 7
        )
    return base.with_overrides((overrides or {}).get(key, {}))


class Holds(NamedTuple):
    """What stops contact regardless of time and counts."""

    opt_outs: frozenset[str] = frozenset()
    cease_contact: bool = False
    attorney: bool = False
    deceased: bool = False
    bankrupt: bool = False
    dispute: bool = False
    hardship: bool = False
    paused: bool = False
    promise_until: date | None = None  # an open promise to pay: no dunning up to and including this date


class ContactEvent(NamedTuple):
    """A contact on the borrower's ledger. For voice, ``outcome`` is attempt, connected or conversation
    (a connected call with the borrower about the debt); other channels record sent."""

    at: datetime
    channel: str
    loan_id: str
    action_id: str
    outcome: str = "sent"
    number: str | None = None


class ContactRequest(NamedTuple):
    borrower_id: str
    loan_id: str
    action_id: str
    channel: str
    at: datetime
    zones: tuple[str, ...]  # the borrower's time zone, or every zone the borrower may be in
    number: str | None = None
    to_borrower: bool = True


class Verdict(NamedTuple):
    allowed: bool
    passed: tuple[str, ...]
    rule: str | None = None
    reason: str | None = None
    retry_at: datetime | None = None

    def explain(self) -> str:
        head = "allowed" if self.allowed else f"blocked by {self.rule}: {self.reason}"
        return f"{head}; passed: {', '.join(self.passed) or '-'}"


class _Fail(Exception):
    def __init__(self, rule: str, reason: str, retry_at: datetime | None) -> None:
        super().__init__(reason)
        self.rule, self.reason, self.retry_at = rule, reason, retry_at


def check(req: ContactRequest, rules: Rules, holds: Holds, history: Iterable[ContactEvent]) -> Verdict:
    """Evaluate every rule in order; the first that fails decides. ``history`` is the borrower's
    ledger (all loans, lender and agencies together)."""
    if req.channel not in CHANNELS:
        raise ValueError(f"unknown channel {req.channel!r}")
    if not req.zones:
        raise ValueError("a contact request needs the borrower's time zone")
    events = [
        e for e in history if e.at > req.at - WEEK - timedelta(days=max(7, rules.no_call_days_after_conversation or 0))
    ]
    passed: list[str] = []
    try:
        for name, rule in _RULES:
            rule(req, rules, holds, events)
            passed.append(name)
    except _Fail as f:
        return Verdict(False, tuple(passed), f.rule, f.reason, f.retry_at)
    return Verdict(True, tuple(passed))


# --- the rules ----------------------------------------------------------------------------------


def _borrower_only(req: ContactRequest, rules: Rules, holds: Holds, events: list[ContactEvent]) -> None:
    if not req.to_borrower:
        raise _Fail("borrower_only", "debt information goes to the borrower only, never to third parties", None)


def _status_holds(req: ContactRequest, rules: Rules, holds: Holds, events: list[ContactEvent]) -> None:
    for flag, reason in (
        ("deceased", "borrower is deceased"),
        ("bankrupt", "borrower is in bankruptcy"),
        ("cease_contact", "borrower asked in writing to cease contact"),
        ("attorney", "borrower is represented by an attorney: contact the attorney instead"),
        ("dispute", "the debt is disputed: on hold until resolved"),
        ("hardship", "hardship hold"),
        ("paused", "collection on this loan is paused"),
    ):
        if getattr(holds, flag):
            raise _Fail(flag, reason, None)


def _opt_out(req: ContactRequest, rules: Rules, holds: Holds, events: list[ContactEvent]) -> None:
    if req.channel in holds.opt_outs:
        raise _Fail("opt_out", f"borrower opted out of {req.channel}", None)


def _promise(req: ContactRequest, rules: Rules, holds: Holds, events: list[ContactEvent]) -> None:
    if holds.promise_until is None:
        return
    today = req.at.astimezone(zone(req.zones[0])).date()
    if today <= holds.promise_until:
        day_after = holds.promise_until + timedelta(days=1)
        resume = next_allowed(_local_start(day_after, req.zones[0]), req.zones, rules)
        raise _Fail("open_promise", f"promise to pay open until {holds.promise_until.isoformat()}", resume)


def _hours(req: ContactRequest, rules: Rules, holds: Holds, events: list[ContactEvent]) -> None:
    if req.channel in UNTIMED:
        return
    if not allowed_at(req.at, req.zones, rules):
        window = f"{rules.allowed_from:%H:%M}-{rules.allowed_until:%H:%M}"
        where = req.zones[0] if len(req.zones) == 1 else f"all of {', '.join(req.zones)}"
        raise _Fail("contact_hours", f"outside {window} local time in {where}", next_allowed(req.at, req.zones, rules))


def _channel_caps(req: ContactRequest, rules: Rules, holds: Holds, events: list[ContactEvent]) -> None:
    tz = req.zones[0]
    day = req.at.astimezone(zone(tz)).date()
    same = [e for e in events if e.channel == req.channel]
    if rules.daily_caps.get(req.channel) == 0 or rules.weekly_caps.get(req.channel) == 0:
        raise _Fail("channel_not_used", f"{req.channel} is not used for collection in {rules.jurisdiction}", None)
    cap = rules.daily_caps.get(req.channel)
    if cap is not None and sum(1 for e in same if e.at.astimezone(zone(tz)).date() == day) >= cap:
        resume = next_allowed(_local_start(day + timedelta(days=1), tz), req.zones, rules)
        raise _Fail("daily_cap", f"{req.channel} cap of {cap} a day reached", resume)
    cap = rules.weekly_caps.get(req.channel)
    recent = sorted(e.at for e in same if e.at > req.at - WEEK)
    if cap is not None and len(recent) >= cap:
        resume = next_allowed(recent[len(recent) - cap] + WEEK, req.zones, rules)
        raise _Fail("weekly_cap", f"{req.channel} cap of {cap} in 7 days reached", resume)


def _voice_caps(req: ContactRequest, rules: Rules, holds: Holds, events: list[ContactEvent]) -> None:
    if req.channel != "voice":
        return
    tz = req.zones[0]
    day = req.at.astimezone(zone(tz)).date()
    calls = [e for e in events if e.channel == "voice"]
    today = [e for e in calls if e.at.astimezone(zone(tz)).date() == day]
    tomorrow = next_allowed(_local_start(day + timedelta(days=1), tz), req.zones, rules)
    cap = rules.voice_connected_per_day
    if cap is not None and sum(1 for e in today if e.outcome in ("connected", "conversation")) >= cap:
        raise _Fail("voice_connected_per_day", f"{cap} connected calls today already", tomorrow)
    cap = rules.voice_attempts_per_number_per_day
    if cap is not None and req.number and sum(1 for e in today if e.number == req.number) >= cap:
        raise _Fail("voice_attempts_per_number", f"{cap} dial attempts to this number today already", tomorrow)
    debt = sorted(e.at for e in calls if e.loan_id == req.loan_id and e.at > req.at - WEEK)
    cap = rules.voice_attempts_per_debt_7_days
    if cap is not None and len(debt) >= cap:
        resume = next_allowed(debt[len(debt) - cap] + WEEK, req.zones, rules)
        raise _Fail("voice_attempts_per_debt", f"{cap} call attempts about this debt in 7 days already", resume)
    days = rules.no_call_days_after_conversation
    if days is not None:
        talks = [e.at for e in calls if e.loan_id == req.loan_id and e.outcome == "conversation"]
        last = max(talks, default=None)
        if last is not None and req.at < last + timedelta(days=days):
            resume = next_allowed(last + timedelta(days=days), req.zones, rules)
            raise _Fail("after_conversation", f"a conversation about this debt took place within {days} days", resume)


_RULES = (
    ("borrower_only", _borrower_only),
    ("holds", _status_holds),
    ("opt_out", _opt_out),
    ("open_promise", _promise),
    ("contact_hours", _hours),
    ("channel_caps", _channel_caps),
    ("voice_caps", _voice_caps),
)


# --- hours --------------------------------------------------------------------------------------


def _local_start(day: date, tz: str) -> datetime:
    return datetime.combine(day, time(0, 0), zone(tz))


def allowed_at(at: datetime, zones: Sequence[str], rules: Rules) -> bool:
    """Inside the allowed window in every candidate zone (fold/DST handled by zoneinfo)."""
    for tz in zones:
        local = at.astimezone(zone(tz)).time()
        if not rules.allowed_from <= local < rules.allowed_until:
            return False
    return True


def next_allowed(at: datetime, zones: Sequence[str], rules: Rules) -> datetime | None:
    """The first instant at or after ``at`` when a contact is allowed in every zone (None if the
    windows never overlap)."""
    t = at
    for _ in range(16):
        if allowed_at(t, zones, rules):
            return t
        later = []
        for tz in zones:
            local = t.astimezone(zone(tz))
            if rules.allowed_from <= local.time() < rules.allowed_until:
                continue
            day = local.date() if local.time() < rules.allowed_from else local.date() + timedelta(days=1)
            later.append(datetime.combine(day, rules.allowed_from, zone(tz)))
        t = max(later)
    return None


# --- the contact ledger ---------------------------------------------------------------------------

#: how long events matter: the longest window a rule looks back over, and a day's margin
KEEP = timedelta(days=15)


class Ledger(NamedTuple):
    """One borrower's recent contacts, with a version for optimistic concurrency."""

    events: tuple[ContactEvent, ...] = ()
    version: int = 0


def reserve(ledger: Ledger, req: ContactRequest, rules: Rules, holds: Holds) -> tuple[Verdict, Ledger | None]:
    """Decide and, if allowed, book the contact. Returns the verdict and the ledger to write (None:
    nothing to write). A request already booked under its action id (a retry after a failed send, a
    redelivery) is decided again on everything else on the ledger, so holds, opt-outs and hours that
    changed since still stop it, and it is not counted twice; the caller's own at-most-once claim
    keeps it from being sent twice."""
    if any(e.action_id == req.action_id for e in ledger.events):
        others = [e for e in ledger.events if e.action_id != req.action_id]
        again = check(req, rules, holds, others)
        return (again._replace(passed=(*again.passed, "already_reserved")) if again.allowed else again), None
    verdict = check(req, rules, holds, ledger.events)
    if not verdict.allowed:
        return verdict, None
    outcome = "attempt" if req.channel == "voice" else "sent"
    booked = ContactEvent(req.at, req.channel, req.loan_id, req.action_id, outcome, req.number)
    kept = tuple(e for e in ledger.events if e.at > req.at - KEEP) + (booked,)
    return verdict, Ledger(kept, ledger.version + 1)


def record_outcome(ledger: Ledger, action_id: str, outcome: str) -> Ledger:
    """A call's result (connected, conversation) once known; it counts towards the voice caps."""
    if outcome not in ("attempt", "connected", "conversation", "sent"):
        raise ValueError(f"unknown contact outcome {outcome!r}")
    events = tuple(e._replace(outcome=outcome) if e.action_id == action_id else e for e in ledger.events)
    return Ledger(events, ledger.version + 1)
