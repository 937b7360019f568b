"""Channel and send hour learned online, per strategy segment and step: a Thompson-sampling bandit
over the options a step allows, always within the compliance guard (it only picks among what the
strategy allows; the guard still checks every contact at send time).

A step that lists ``options`` (channels, each with its template) or ``hours`` (local hours to send at)
is a choice; each option and hour is an arm with a Beta(1 + paid, 1 + not paid) posterior, "paid"
meaning the loan was repaid (any amount) within 7 days after a contact made with it. Each day the
planner draws one sample per arm and takes the best; with the configured exploration share it takes
an arm at random instead. The draw is seeded by the case, the step and the day, so planning the same
day again chooses the same. Every action says what was chosen and how (exploring or not, and the
share) in its ``why``, which the action and its ``action_planned`` fact keep.

Learned online: each daily report adds the day whose contacts' 7 days have just passed (``learn`` with
its ``day``), and the counts in use are the sum of the last ``WINDOW_DAYS`` days (``merge``): old
evidence leaves, so a borrower base that changes is followed.

Pure: ``learn`` counts from the facts; ``merge`` adds days up; ``choose`` picks."""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEK = timedelta(days=7)
DEFAULT_SHARE = 0.1
WINDOW_DAYS = 180  # the days of contacts the counts in use are summed over


class Option(NamedTuple):
    channel: str
    template: str
    hour: int | None  # local hour to send at (None: as soon as dispatched)

    def key(self) -> str:
        return f"{self.channel}@{'' if self.hour is None else self.hour}"


class Choice(NamedTuple):
    option: Option
    explored: bool
    share: float
    samples: Mapping[str, float]  # each arm's draw (none when exploring)

    def why(self) -> str:
        hour = f" at {self.option.hour:02d}:00 local" if self.option.hour is not None else ""
        how = "exploring" if self.explored else "Thompson sampling"
        return f"bandit: {self.option.channel}{hour} ({how}, exploration share {self.share:.0%})"


#: learned counts: "strategy|segment|step" -> arm key -> [paid, contacts]
Counts = Mapping[str, Mapping[str, Sequence[int]]]


def context(strategy: str, segment: str, step: str) -> str:
    return f"{strategy}|{segment}|{step}"


def choose(options: Sequence[Option], counts: Counts, ctx: str, seed: str, share: float = DEFAULT_SHARE) -> Choice:
    """One option for today: at random with probability ``share``, else the best of one Beta draw
    per option (an option never tried draws from Beta(1, 1))."""
    if not options:
        raise ValueError("a choice needs at least one option")
    rng = random.Random(int(hashlib.sha256(seed.encode()).hexdigest()[:16], 16))
    if len(options) == 1:
        return Choice(options[0], False, share, {})
    if rng.random() < share:
        return Choice(options[rng.randrange(len(options))], True, share, {})
    seen = counts.get(ctx, {})
    samples: dict[str, float] = {}
    for o in options:
        paid, n = (list(seen.get(o.key(), (0, 0))) + [0, 0])[:2]
        samples[o.key()] = rng.betavariate(1 + paid, 1 + max(0, n - paid))
    best = max(options, key=lambda o: (samples[o.key()], -options.index(o)))
    return Choice(best, False, share, samples)


def _at(row: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(str(row["occurred_at"]).replace("Z", "+00:00"))


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ValueError, ZoneInfoNotFoundError):  # a fact from before zones were checked: count it in UTC
        return ZoneInfo("UTC")


def learn(
    rows: Iterable[Mapping[str, Any]], until: datetime, day: str | None = None
) -> dict[str, dict[str, list[int]]]:
    """Per strategy, segment and step, per channel and local hour sent at: contacts and those followed
    by a repayment on the loan within 7 days. Only contacts whose 7 days had passed by ``until`` (and,
    with ``day``, only those of that business date)."""
    return take(advance([], rows), until, day)[0]


#: a contact waiting for its 7 days: [fact id, loan id, sent at, context, channel, local hour, business
#: date, whether a repayment on the loan followed within 7 days so far] (JSON: the report's state)
Pending = list[list[Any]]


def advance(pending: Pending, rows: Iterable[Mapping[str, Any]]) -> Pending:
    """The contacts waiting for their 7 days, with ``rows`` (facts) taken in: their contacts added (each
    fact once) and every waiting contact followed by one of their repayments marked paid. Fed one day
    at a time, in order, it marks what ``learn`` over all those days would."""
    facts = {str(r["fact_id"]): r for r in rows}.values()
    known = {c[0] for c in pending}
    out = [list(c) for c in pending]
    for s in facts:
        if s["fact_type"] != "action_sent" or not s.get("strategy") or not s.get("segment"):
            continue
        if str(s["fact_id"]) in known:
            continue
        at = _at(s)
        hour = at.astimezone(_zone(str(s.get("zones") or "UTC").split(",")[0])).hour
        ctx = context(str(s["strategy"]), str(s["segment"]), str(s["step"]))
        out.append([str(s["fact_id"]), str(s["loan_id"]), at.isoformat(), ctx, str(s["channel"]), hour,
                    str(s.get("business_date")), False])  # fmt: skip
    paid: dict[str, list[datetime]] = defaultdict(list)
    for r in facts:
        if r["fact_type"] == "repayment_applied":
            paid[str(r["loan_id"])].append(_at(r))
    for c in out:
        if not c[7] and c[1] in paid:
            at = datetime.fromisoformat(c[2])
            c[7] = any(at <= p < at + WEEK for p in paid[c[1]])
    return out


def take(pending: Pending, until: datetime, day: str | None = None) -> tuple[dict[str, dict[str, list[int]]], Pending]:
    """The counts of the waiting contacts whose 7 days had passed by ``until`` (with ``day``: of that
    business date only), and the contacts still to learn (with ``day``: of later dates)."""
    out: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    rest: Pending = []
    for c in pending:
        if (day is None or c[6] == day) and datetime.fromisoformat(c[2]) + WEEK <= until:
            for key in (f"{c[4]}@{c[5]}", f"{c[4]}@"):  # the hour's arm, and the channel's
                counts = out[c[3]][key]
                counts[0] += int(bool(c[7]))
                counts[1] += 1
        elif day is None or c[6] > day:
            rest.append(c)
    return {ctx: dict(arms) for ctx, arms in out.items()}, rest


def subtract(counts: Counts, gone: Counts) -> dict[str, dict[str, list[int]]]:
    """``counts`` without ``gone`` (a day leaving the window); arms left with no contacts are dropped."""
    out = merge([counts])
    for ctx, arms in gone.items():
        for key, (paid, n) in arms.items():
            if ctx in out and key in out[ctx]:
                left = [out[ctx][key][0] - int(paid), out[ctx][key][1] - int(n)]
                if left[1] > 0:
                    out[ctx][key] = left
                else:
                    del out[ctx][key]
    return {ctx: arms for ctx, arms in out.items() if arms}


def merge(parts: Iterable[Counts]) -> dict[str, dict[str, list[int]]]:
    """The sum of several days' counts."""
    out: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for part in parts:
        for ctx, arms in part.items():
            for key, (paid, n) in arms.items():
                out[ctx][key][0] += int(paid)
                out[ctx][key][1] += int(n)
    return {ctx: dict(arms) for ctx, arms in out.items()}


def chooser(counts: Counts, share: float) -> Any:
    """The planner's ``choose`` (domain/strategies.Chooser) over these counts."""

    def pick(strategy_id: str, step: Any, segment: Any, loan: Any, today: Any) -> tuple[str, str, int | None, str]:
        options = [Option(c, t, h) for c, t, h in step.choices()]
        seed = f"{loan.case_id}|{step.id}|{today}"
        got = choose(options, counts, context(strategy_id, segment.name, step.id), seed, share)
        return got.option.channel, got.option.template, got.option.hour, got.why()

    return pick
