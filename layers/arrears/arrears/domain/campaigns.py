"""Campaigns: operations' own contact drives over a slice of the book, beside the strategies' work.

A campaign names its target (buckets, a DPD range, an amount range of what is overdue, the strategy
segments the loans matched at their last evaluation, products, jurisdictions, or a list of loan ids),
one channel and template, when it runs, a daily cap and its priority against the strategy's work:
``before_strategy``, ``ranked`` (by expected recovery, with it) or ``after_strategy``. Its contacts are
proposals like the strategy's: they share the channels' daily capacity, pass the same compliance
guard when sent and count on the same contact ledger. A loan gets at most one contact a local day
from the strategies and campaigns together; the work that loses is deferred with the rule
``one_contact_a_day``. Pure: no AWS here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from .strategies import CHANNELS, LoanView, Proposal

STATUSES = ("draft", "running", "paused", "cancelled", "finished")
PRIORITIES = ("before_strategy", "ranked", "after_strategy")
PREFIX = "campaign:"  # a campaign's work names it as its "strategy": campaign:<id>
MAX_LOAN_IDS = 10_000
MAX_DAILY_CAP = 1_000_000
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")

#: a command -> (statuses it applies to, the status it leads to)
COMMANDS = {
    "start": (("draft",), "running"),
    "pause": (("running",), "paused"),
    "resume": (("paused",), "running"),
    "cancel": (("draft", "running", "paused"), "cancelled"),
}


class CampaignError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class Target(NamedTuple):
    buckets: frozenset[str] = frozenset()
    dpd: tuple[int, int | None] | None = None  # inclusive; None above: open-ended
    overdue: tuple[Decimal, Decimal | None] | None = None  # inclusive, in the loan's currency
    segments: frozenset[str] = frozenset()  # strategy segments matched at the last evaluation
    products: frozenset[str] = frozenset()
    jurisdictions: frozenset[str] = frozenset()
    loan_ids: frozenset[str] = frozenset()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in ("buckets", "segments", "products", "jurisdictions", "loan_ids"):
            if getattr(self, name):
                out[name] = sorted(getattr(self, name))
        if self.dpd:
            out["dpd"] = list(self.dpd)
        if self.overdue:
            out["overdue"] = [str(self.overdue[0]), None if self.overdue[1] is None else str(self.overdue[1])]
        return out


class Campaign(NamedTuple):
    campaign_id: str
    name: str
    target: Target
    channel: str
    template: str
    starts_at: datetime
    ends_at: datetime
    daily_cap: int
    priority: str
    status: str = "draft"
    round: int = 0  # how many times it was started or resumed (its work's step ids carry it)

    def step_id(self, day: date, daily: bool) -> str:
        """The step of a loan's contact: one a day, and again after a resume (a paused day's work is
        dropped, the resumed day's is new)."""
        return f"{PREFIX}{self.campaign_id}:{day.isoformat()}:{'d' if daily else self.round}"

    def live(self, now: datetime) -> bool:
        return self.status == "running" and self.starts_at <= now < self.ends_at

    def to_json(self) -> dict[str, Any]:
        return {
            "campaign_id": self.campaign_id,
            "name": self.name,
            "target": self.target.to_json(),
            "channel": self.channel,
            "template": self.template,
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "daily_cap": self.daily_cap,
            "priority": self.priority,
            "status": self.status,
            "round": self.round,
        }


def parse_campaign(raw: Any, buckets: Sequence[str], now: datetime) -> Campaign:
    """A campaign from a request body (its status draft), or CampaignError naming the field."""
    if not isinstance(raw, dict):
        raise CampaignError("body", "the body must be a JSON object")
    allowed = ("campaign_id", "name", "target", "channel", "template", "starts_at", "ends_at", "daily_cap", "priority")
    unknown = [k for k in raw if k not in allowed]
    if unknown:
        raise CampaignError(
            str(unknown[0])[:60], f"unknown field {str(unknown[0])[:60]!r}: a campaign has {', '.join(allowed)}"
        )
    cid = raw.get("campaign_id")
    if not isinstance(cid, str) or not _ID.match(cid):
        raise CampaignError("campaign_id", "campaign_id must be 1-63 lower-case letters, digits or hyphens")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200 or not name.isprintable():
        raise CampaignError("name", "name must be printable text of 1-200 characters")
    channel = raw.get("channel")
    if channel not in CHANNELS:
        raise CampaignError("channel", f"channel must be one of {', '.join(CHANNELS)}")
    template = raw.get("template")
    if not isinstance(template, str) or not template.strip() or len(template) > 200:
        raise CampaignError("template", "template must name a template (or, for voice, a contact flow)")
    starts, ends = _instant(raw, "starts_at", now), _instant(raw, "ends_at", now + timedelta(days=7))
    if ends <= starts:
        raise CampaignError("ends_at", "ends_at must be after starts_at")
    if ends - starts > timedelta(days=366):
        raise CampaignError("ends_at", "a campaign runs at most a year")
    cap = raw.get("daily_cap", 1000)
    if isinstance(cap, bool) or not isinstance(cap, int) or not 1 <= cap <= MAX_DAILY_CAP:
        raise CampaignError("daily_cap", f"daily_cap must be a whole number from 1 to {MAX_DAILY_CAP}")
    priority = raw.get("priority", "ranked")
    if priority not in PRIORITIES:
        raise CampaignError("priority", f"priority must be one of {', '.join(PRIORITIES)}")
    return Campaign(
        cid,
        name.strip(),
        parse_target(raw.get("target"), buckets),
        channel,
        template.strip(),
        starts,
        ends,
        cap,
        priority,
    )


def parse_target(raw: Any, buckets: Sequence[str]) -> Target:
    if not isinstance(raw, dict) or not raw:
        raise CampaignError(
            "target",
            "target must name at least one of buckets, dpd, overdue, segments, products, jurisdictions, loan_ids",
        )
    allowed = ("buckets", "dpd", "overdue", "segments", "products", "jurisdictions", "loan_ids")
    unknown = [k for k in raw if k not in allowed]
    if unknown:
        raise CampaignError(
            f"target.{str(unknown[0])[:60]}", f"unknown target {str(unknown[0])[:60]!r}: one of {', '.join(allowed)}"
        )
    words = {k: _words(raw, k) for k in ("buckets", "segments", "products", "jurisdictions", "loan_ids")}
    wrong = sorted(words["buckets"] - set(buckets))
    if wrong:
        raise CampaignError("target.buckets", f"{wrong[0]!r} is not a configured bucket ({', '.join(buckets)})")
    if len(words["loan_ids"]) > MAX_LOAN_IDS:
        raise CampaignError("target.loan_ids", f"at most {MAX_LOAN_IDS} loan ids (a larger list: a file import)")
    dpd = None
    if "dpd" in raw:
        lo, hi = _pair(raw["dpd"], "target.dpd")
        if (
            not isinstance(lo, int)
            or isinstance(lo, bool)
            or lo < 1
            or (hi is not None and (not isinstance(hi, int) or hi < lo))
        ):
            raise CampaignError(
                "target.dpd", "dpd must be [min, max] days past due, whole numbers from 1 (max may be null)"
            )
        dpd = (lo, hi)
    overdue = None
    if "overdue" in raw:
        lo, hi = _pair(raw["overdue"], "target.overdue")
        try:
            low, high = Decimal(str(lo)), (None if hi is None else Decimal(str(hi)))
        except InvalidOperation:
            raise CampaignError("target.overdue", "overdue must be [min, max] amounts (max may be null)") from None
        if low < 0 or (high is not None and high < low):
            raise CampaignError("target.overdue", "overdue must be [min, max] with 0 <= min <= max")
        overdue = (low, high)
    target = Target(
        words["buckets"], dpd, overdue, words["segments"], words["products"], words["jurisdictions"], words["loan_ids"]
    )
    if target == Target():
        raise CampaignError("target", "target must name at least one criterion with a value (an empty list names nothing)")
    return target


def _words(raw: Mapping[str, Any], key: str) -> frozenset[str]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v and len(v) <= 128 for v in value):
        raise CampaignError(f"target.{key}", f"{key} must be a list of names")
    return frozenset(value)


def _pair(raw: Any, field: str) -> tuple[Any, Any]:
    if not isinstance(raw, list) or len(raw) != 2:
        raise CampaignError(field, f"{field.split('.')[-1]} must be [min, max]")
    return raw[0], raw[1]


def _instant(raw: Mapping[str, Any], key: str, default: datetime) -> datetime:
    value = raw.get(key)
    if value is None:
        return default
    try:
        at = datetime.fromisoformat(str(value))
    except ValueError:
        raise CampaignError(key, f"{key} must be an ISO 8601 time with its offset") from None
    if at.tzinfo is None:
        raise CampaignError(key, f"{key} must carry its offset (e.g. +08:00 or Z)")
    return at


def from_json(d: Mapping[str, Any]) -> Campaign:
    t = d.get("target", {})
    target = Target(
        frozenset(t.get("buckets", [])),
        (int(t["dpd"][0]), None if t["dpd"][1] is None else int(t["dpd"][1])) if t.get("dpd") else None,
        (Decimal(t["overdue"][0]), None if t["overdue"][1] is None else Decimal(t["overdue"][1]))
        if t.get("overdue")
        else None,
        frozenset(t.get("segments", [])),
        frozenset(t.get("products", [])),
        frozenset(t.get("jurisdictions", [])),
        frozenset(t.get("loan_ids", [])),
    )
    return Campaign(
        str(d["campaign_id"]),
        str(d["name"]),
        target,
        str(d["channel"]),
        str(d["template"]),
        datetime.fromisoformat(d["starts_at"]),
        datetime.fromisoformat(d["ends_at"]),
        int(d["daily_cap"]),
        str(d["priority"]),
        str(d.get("status", "draft")),
        int(d.get("round", 0)),
    )


# ------------------------------------------------------------------------------------ targeting


def dpd_window(target: Target, bucket_ranges: Mapping[str, tuple[int, int | None]]) -> tuple[int, int | None]:
    """The DPD range a target can match (its dpd range within its buckets' ranges): what the due
    index is read for, as a range of earliest-unpaid due dates."""
    lo, hi = (1, None) if target.dpd is None else target.dpd
    if target.buckets:
        ranges = [bucket_ranges[b] for b in target.buckets if b in bucket_ranges]
        if ranges:
            lo = max(lo, min(r[0] for r in ranges))
            highs = [r[1] for r in ranges]
            top = None if any(h is None for h in highs) else max(h for h in highs if h is not None)
            hi = top if hi is None else (hi if top is None else min(hi, top))
    return lo, hi


def matches(target: Target, view: LoanView, segment: str | None) -> bool:
    """Whether a delinquent loan, as evaluated today, is in the campaign's target."""
    if target.loan_ids and view.loan_id not in target.loan_ids:
        return False
    if target.buckets and view.bucket not in target.buckets:
        return False
    if target.dpd and not (view.dpd >= target.dpd[0] and (target.dpd[1] is None or view.dpd <= target.dpd[1])):
        return False
    if target.overdue and not (
        view.overdue >= target.overdue[0] and (target.overdue[1] is None or view.overdue <= target.overdue[1])
    ):
        return False
    if target.segments and segment not in target.segments:
        return False
    if target.products and view.product not in target.products:
        return False
    return not (target.jurisdictions and view.jurisdiction not in target.jurisdictions)


def proposal(c: Campaign, view: LoanView, day: date, expected: Decimal, daily: bool) -> Proposal:
    return Proposal(
        loan_id=view.loan_id,
        case_id=view.case_id,
        strategy=f"{PREFIX}{c.campaign_id}",
        version=0,
        variant="campaign",
        segment=c.name[:64],
        kind="contact",
        step_id=c.step_id(day, daily),
        channel=c.channel,
        template=c.template,
        expected_recovery=expected,
        why=f"campaign {c.campaign_id} ({c.priority.replace('_', ' ')})",
    )


def campaign_of(p: Proposal) -> str | None:
    return campaign_id_of(p.strategy)


def campaign_id_of(strategy: str | None) -> str | None:
    """The campaign a piece of work belongs to (its strategy is ``campaign:<id>``), or None."""
    return strategy[len(PREFIX) :] if strategy and strategy.startswith(PREFIX) else None


# -------------------------------------------------------------------------------------- ranking


#: why work was deferred, by rule (the deferral facts' reason)
DEFERRED_WHY = {
    "one_contact_a_day": "the loan has a contact today already (strategies and campaigns together: one a local day)",
    "campaign_cap": "the campaign's daily cap is reached",
    "capacity": "the channel's capacity for today is taken",
}


class Ranked(NamedTuple):
    work: list[Proposal]
    deferred: list[tuple[Proposal, str]]  # with the rule: capacity, one_contact_a_day, campaign_cap


def rank(
    proposals: Sequence[Proposal],
    capacity: Mapping[str, int],
    priorities: Mapping[str, str],
    caps: Mapping[str, int],
    contacted_today: frozenset[str] = frozenset(),
) -> Ranked:
    """The day's work under each channel's capacity: campaigns ``before_strategy`` first, then the
    strategies' work and ``ranked`` campaigns by expected recovery, then ``after_strategy`` ones
    (ties: loan id, step id). A loan gets one contact a day (``contacted_today``: loans already
    contacted today); a campaign at most its daily cap (``caps``: what is left of it today).
    Escalations need no channel and count as no contact."""

    def order(p: Proposal) -> tuple[int, Decimal, str, str]:
        cid = campaign_of(p)
        klass = {"before_strategy": 0, "after_strategy": 2}.get(priorities.get(cid, "ranked"), 1) if cid else 1
        return (klass, -p.expected_recovery, p.loan_id, p.step_id)

    used: dict[str, int] = {}
    taken: dict[str, int] = {}
    contacted = set(contacted_today)
    work: list[Proposal] = []
    deferred: list[tuple[Proposal, str]] = []
    for p in sorted(proposals, key=order):
        if p.channel is None:
            work.append(p)
            continue
        cid = campaign_of(p)
        if p.loan_id in contacted:
            deferred.append((p, "one_contact_a_day"))
            continue
        if cid is not None and taken.get(cid, 0) >= caps.get(cid, 0):
            deferred.append((p, "campaign_cap"))
            continue
        if p.channel in capacity and used.get(p.channel, 0) >= capacity[p.channel]:
            deferred.append((p, "capacity"))
            continue
        used[p.channel] = used.get(p.channel, 0) + 1
        if cid is not None:
            taken[cid] = taken.get(cid, 0) + 1
        contacted.add(p.loan_id)
        work.append(p)
    return Ranked(work, deferred)
