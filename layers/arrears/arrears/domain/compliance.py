"""The compliance guard: may this contact leave now? Pure rules over a borrower's contact ledger.

Every rule has a name; a verdict says which rules passed, which one failed and why, and when the
contact becomes allowed again (``retry_at``), or never by itself (``retry_at`` None: a hold, an
opt-out). Numbers are defaults per jurisdiction (../shared/DOMAIN.md) and all configurable; where
rules overlap the strictest applies, because every rule must pass.

- contact hours in the borrower's local time; with several candidate zones (an ambiguous location)
  only when allowed in every one of them;
- holds: third parties, deceased, bankrupt, cease-contact, attorney, per-channel opt-out, dispute,
  hardship, paused loan, open promise to pay;
- caps per borrower across lender and agencies: per channel per day and per rolling 7 days (168
  hours); voice: connected calls per day, dial attempts per number per day, attempts per debt in 7
  consecutive days, and no call within N days after a conversation about the debt.

Days are the borrower's local calendar days, counted in every candidate zone: a daily cap holds in
each zone's own day, an open promise until its date has passed in every zone. Regulation F
1006.14(b)(2) counts days, not hours: the 7 consecutive days are the request's local date and the 6
before it, and "within 7 days after" a conversation counts the conversation's local date as day 1, so
on day 8 a call is lawful at any allowed hour. A contact is allowed only when every zone allows it,
and ``retry_at`` is the first instant allowed in every zone.

Voice requests name the dialled number. A voice event on the ledger without a number (booked before
numbers were recorded, or by a source that does not say) counts against every number: the
conservative reading of the per-number cap.
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
    number: str | None = None  # required for voice: the dialled number (or a stable key of it)
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
    if req.channel == "voice" and not req.number:
        raise ValueError("a voice contact request needs the dialled number (number)")
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
    until = holds.promise_until
    if until is None:
        return
    if any(_day(req.at, tz) <= until for tz in req.zones):
        resume = next_allowed(max(_local_start(until + DAY, tz) for tz in req.zones), req.zones, rules)
        raise _Fail("open_promise", f"promise to pay open until {until.isoformat()}", resume)


def _hours(req: ContactRequest, rules: Rules, holds: Holds, events: list[ContactEvent]) -> None:
    if req.channel in UNTIMED:
        return
    if not allowed_at(req.at, req.zones, rules):
        window = f"{rules.allowed_from:%H:%M}-{rules.allowed_until:%H:%M}"
        where = req.zones[0] if len(req.zones) == 1 else f"all of {', '.join(req.zones)}"
        raise _Fail("contact_hours", f"outside {window} local time in {where}", next_allowed(req.at, req.zones, rules))


def _channel_caps(req: ContactRequest, rules: Rules, holds: Holds, events: list[ContactEvent]) -> None:
    same = [e for e in events if e.channel == req.channel]
    if rules.daily_caps.get(req.channel) == 0 or rules.weekly_caps.get(req.channel) == 0:
        raise _Fail("channel_not_used", f"{req.channel} is not used for collection in {rules.jurisdiction}", None)
    cap = rules.daily_caps.get(req.channel)
    if cap is not None and (reopens := _day_full(req, same, cap)) is not None:
        raise _Fail("daily_cap", f"{req.channel} cap of {cap} a day reached", next_allowed(reopens, req.zones, rules))
    cap = rules.weekly_caps.get(req.channel)
    recent = sorted(e.at for e in same if e.at > req.at - WEEK)
    if cap is not None and len(recent) >= cap:
        resume = next_allowed(recent[len(recent) - cap] + WEEK, req.zones, rules)
        raise _Fail("weekly_cap", f"{req.channel} cap of {cap} in 7 days reached", resume)


def _voice_caps(req: ContactRequest, rules: Rules, holds: Holds, events: list[ContactEvent]) -> None:
    if req.channel != "voice":
        return
    calls = [e for e in events if e.channel == "voice"]
    cap = rules.voice_connected_per_day
    connected = [e for e in calls if e.outcome in ("connected", "conversation")]
    if cap is not None and (reopens := _day_full(req, connected, cap)) is not None:
        reason = f"{cap} connected calls today already"
        raise _Fail("voice_connected_per_day", reason, next_allowed(reopens, req.zones, rules))
    cap = rules.voice_attempts_per_number_per_day
    dialled = [e for e in calls if e.number in (req.number, None)]  # no number: counts against every number
    if cap is not None and (reopens := _day_full(req, dialled, cap)) is not None:
        reason = f"{cap} dial attempts to this number today already"
        raise _Fail("voice_attempts_per_number", reason, next_allowed(reopens, req.zones, rules))
    debt = [e for e in calls if e.loan_id == req.loan_id]
    cap = rules.voice_attempts_per_debt_7_days
    if cap is not None and (reopens := _seven_days_full(req, debt, cap)) is not None:
        reason = f"{cap} call attempts about this debt in 7 consecutive days already"
        raise _Fail("voice_attempts_per_debt", reason, next_allowed(reopens, req.zones, rules))
    days = rules.no_call_days_after_conversation
    talks = [e for e in debt if e.outcome == "conversation"]
    if days is not None and (reopens := _after_talk(req, talks, days)) is not None:
        reason = f"a conversation about this debt took place within {days} days (its date is day 1)"
        raise _Fail("after_conversation", reason, next_allowed(reopens, req.zones, rules))


# --- counting local calendar days in every candidate zone ------------------------------------------

DAY = timedelta(days=1)


def _day(at: datetime, tz: str) -> date:
    return at.astimezone(zone(tz)).date()


def _latest(starts: list[datetime]) -> datetime | None:
    """When every zone that blocks has moved on (None: no zone blocks)."""
    return max(starts) if starts else None


def _day_full(req: ContactRequest, events: list[ContactEvent], cap: int) -> datetime | None:
    """A daily cap, in each zone's own local day: None when every zone's count of ``events`` on the
    request's local date is below ``cap``; else the start of the next local day in every zone where
    the cap is reached."""
    starts = []
    for tz in req.zones:
        today = _day(req.at, tz)
        if sum(1 for e in events if _day(e.at, tz) == today) >= cap:
            starts.append(_local_start(today + DAY, tz))
    return _latest(starts)


def _seven_days_full(req: ContactRequest, events: list[ContactEvent], cap: int) -> datetime | None:
    """At most ``cap`` in 7 consecutive local days (the request's date and the 6 before it; later
    events count too, to be safe). Blocked until the day the oldest counted event leaves the window."""
    starts = []
    for tz in req.zones:
        first = _day(req.at, tz) - 6 * DAY
        days = sorted(d for d in (_day(e.at, tz) for e in events) if d >= first)
        if len(days) >= cap:
            starts.append(_local_start(days[len(days) - cap] + WEEK, tz))
    return _latest(starts)


def _after_talk(req: ContactRequest, talks: list[ContactEvent], days: int) -> datetime | None:
    """No call within ``days`` days after a conversation, its local date being day 1: allowed again
    from the start of day ``days + 1`` in every zone."""
    starts = []
    for tz in req.zones:
        last = max((_day(e.at, tz) for e in talks), default=None)
        if last is not None and _day(req.at, tz) < last + days * DAY:
            starts.append(_local_start(last + days * DAY, tz))
    return _latest(starts)


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


# --- the rules table (the lake's compliance_rules: the violations query reads the caps in force) ------

#: the rules table's columns and Athena types (template.yaml's ComplianceRulesGlueTable declares them)
RULES_COLUMNS: dict[str, str] = {
    "jurisdiction": "string",  # CN, US, ... or * for a jurisdiction without its own rules
    "rule": "string",  # contact_hours, daily_cap, weekly_cap, or a voice cap's name
    "channel": "string",  # the capped channel (null for contact hours)
    "cap": "int",  # the most allowed (daily: per local day; weekly: in 168 hours; voice: as named)
    "from_time": "string",  # contact_hours: first allowed local time, HH:MM
    "until_time": "string",  # contact_hours: end of the allowed hours (exclusive), HH:MM
}
FALLBACK = "*"


def rules_rows(overrides: Mapping[str, Mapping[str, object]] | None = None) -> list[dict[str, object]]:
    """Every jurisdiction's rules in force as rows (``FALLBACK``: those of a jurisdiction without its
    own), written by the stack beside the facts so queries check contacts against the caps in force."""
    rows: list[dict[str, object]] = []
    names = sorted(set(DEFAULT_RULES) | {k.upper() for k in (overrides or {})}) + [FALLBACK]
    for name in names:
        r = rules_for("ZZ" if name == FALLBACK else name, overrides)
        hours = {"from_time": f"{r.allowed_from:%H:%M}", "until_time": f"{r.allowed_until:%H:%M}"}
        caps: list[tuple[str, str | None, int | None]] = [
            *(("daily_cap", ch, cap) for ch, cap in sorted(r.daily_caps.items())),
            *(("weekly_cap", ch, cap) for ch, cap in sorted(r.weekly_caps.items())),
            *(
                (rule, "voice", getattr(r, rule))
                for rule in (
                    "voice_connected_per_day",
                    "voice_attempts_per_number_per_day",
                    "voice_attempts_per_debt_7_days",
                    "no_call_days_after_conversation",
                )
                if getattr(r, rule) is not None
            ),
        ]
        rows.append({"jurisdiction": name, "rule": "contact_hours", **hours})
        rows += [{"jurisdiction": name, "rule": rule, "channel": ch, "cap": cap} for rule, ch, cap in caps]
    return [{c: row.get(c) for c in RULES_COLUMNS} for row in rows]
