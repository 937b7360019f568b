"""Campaigns (``domain/campaigns.py``): created, dry-run, started, paused, resumed and cancelled by
operations (the operations API, audited; or ``CampaignFunction`` from the Lambda console), and worked
like the strategies' work: targeted from the due index (never a Scan), ranked under the channels'
daily capacity, dispatched as PLAN entries the ledger stream turns into actions, sent through the
compliance guard. Starting or resuming dispatches at once from what is left of the day's capacity
(``dispatch_now``, from the table's stream); the daily run then proposes the campaign's work each day
beside the strategies'; a paused or cancelled campaign's queued messages are dropped by the senders."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from ..adapters import campaign_store, store
from ..adapters.contact_ledger import ledger_of, restrictions_of
from ..adapters.facts_sink import FactSink
from ..adapters.models import ContactLedgerModel, LedgerModel, LoanModel
from ..config import Settings
from ..domain import DATA_ERRORS, access
from ..domain.api import ApiError
from ..domain.buckets import CURRENT
from ..domain.campaigns import (
    COMMANDS,
    DEFERRED_WHY,
    Campaign,
    CampaignError,
    dpd_window,
    matches,
    parse_campaign,
    proposal,
    rank,
)
from ..domain.compliance import ContactRequest, check, rules_for
from ..domain.costs import costs_in
from ..domain.countries import zones_of
from ..domain.delinquency import Assessment, assess
from ..domain.facts import business_date
from ..domain.money import to_minor
from ..domain.planning import PLANNING_HOLDS, Work
from ..domain.strategies import expected_recovery, probability_of_payment
from ..domain.timeutil import iso, zone
from ..observability import logger, metrics
from .daily import candidate
from .dispatch import LoanRef
from .operations import Incoming, OpsSettings, Write, body_of, write_once
from .recording import fact
from .send import holds_of
from .webhook import Answer

SOURCE = "campaigns"
PAGE = 500


# ----------------------------------------------------------------------------------- targeting


def local_dates(jurisdictions: frozenset[str], now: datetime) -> tuple[date, date]:
    """The first and last local dates it is now where the target's borrowers live (a loan's DPD counts
    from its own zone's date): in its jurisdictions' zones (the tz database's zone.tab), or anywhere
    (UTC-12 to UTC+14) for a target without jurisdictions, or one the database does not list. A
    borrower whose zone lies outside their jurisdiction's is found on the days the dates agree."""
    zones = {z for j in jurisdictions for z in zones_of(j.split("-", 1)[0])}
    if not jurisdictions or not zones:
        return (now - timedelta(hours=12)).date(), (now + timedelta(hours=14)).date()
    dates = {now.astimezone(zone(z)).date() for z in zones}
    return min(dates), max(dates)


def targets(settings: Settings, c: Campaign, now: datetime) -> tuple[list[tuple[LoanModel, Assessment]], int]:
    """The campaign's delinquent loans today and how many items were read to find them: its loan ids
    (BatchGet), or the due index's range of earliest-unpaid due dates its DPD window allows, shard
    by shard."""
    read = 0
    found: list[tuple[LoanModel, Assessment]] = []
    if c.target.loan_ids:
        loans = store.loans(sorted(c.target.loan_ids))
        read = len(loans)
        pool: Iterator[LoanModel] = iter(loans.values())
    else:
        lo, hi = dpd_window(c.target, {b.name: (b.min_dpd, b.max_dpd) for b in settings.buckets.buckets})
        first, last = local_dates(c.target.jurisdictions, now)
        newest = last - timedelta(days=lo + settings.grace_days)
        oldest = None if hi is None else first - timedelta(days=hi + settings.grace_days)
        keys = (
            [
                (LoanModel.jurisdiction_due_index, f"{j}#{n:04d}")
                for j in sorted(c.target.jurisdictions)
                for n in range(settings.shard_count)
            ]
            if c.target.jurisdictions
            else [(LoanModel.due_index, f"{n:04d}") for n in range(settings.shard_count)]
        )

        def scan_shards() -> Iterator[LoanModel]:
            nonlocal read
            for index, key in keys:
                cond = (
                    LoanModel.next_due <= newest.isoformat()
                    if oldest is None
                    else LoanModel.next_due.between(oldest.isoformat(), newest.isoformat())
                )
                result = index.query(key, cond, page_size=PAGE)
                yield from result
                read += result.total_count

        pool = scan_shards()
    for loan in pool:
        try:
            a = assess(store.unpaid_of(loan), loan.tz, now, settings.grace_days, settings.buckets)
            if a.bucket == CURRENT or (loan.holds and set(loan.holds) & set(PLANNING_HOLDS)):
                continue
            if matches(c.target, candidate(loan, a).view, loan.segment):
                found.append((loan, a))
        except DATA_ERRORS:
            continue  # the daily run records such a loan as failed
    return found, read


def _expected(loan: LoanModel, a: Assessment) -> Decimal:
    view = candidate(loan, a).view
    return expected_recovery(view, probability_of_payment(view))


# ------------------------------------------------------------------------------------- dry run


def dry_run(settings: Settings, c: Campaign, now: datetime) -> dict[str, Any]:
    """How many loans match now, how many the compliance guard would refuse or put off now (by rule),
    how many the day's capacity and cap would let out, and what that costs; nothing is written."""
    found, read = targets(settings, c, now)
    profiles = store.borrowers(loan.borrower_id for loan, _ in found)
    ledgers = {m.borrower_id: m for m in _contact_ledgers({loan.borrower_id for loan, _ in found})}
    verdicts: Counter[str] = Counter()
    allowed = 0
    allowed_by_currency: Counter[str] = Counter()
    for loan, _ in found:
        profile = profiles.get(loan.borrower_id)
        if profile is None:
            verdicts["no_borrower"] += 1
            continue
        ledger = ledgers.get(loan.borrower_id)
        req = ContactRequest(profile.borrower_id, loan.loan_id, "dry-run", c.channel, now, (profile.timezone,))
        v = check(
            req,
            rules_for(profile.jurisdiction),
            holds_of(profile, loan, restrictions_of(ledger)),
            ledger_of(ledger).events,
        )
        if v.allowed:
            allowed += 1
            allowed_by_currency[loan.currency] += 1
        else:
            verdicts[("later: " if v.retry_at else "") + str(v.rule)] += 1
    day = business_date(now, settings.business_tz).isoformat()
    left = _capacity_left(settings, day).get(c.channel)
    cap_left = c.daily_cap - campaign_store.day_used([c.campaign_id], day)[c.campaign_id]
    today = min(allowed, cap_left, left if left is not None else allowed)
    from ..adapters.settings_store import channel_costs_by_currency

    set_costs = channel_costs_by_currency()
    share = max(0, today) / allowed if allowed else 0.0  # the day's capacity and cap, spread evenly
    by_currency = {
        cur: str(
            (costs_in(cur, set_costs).get(c.channel, Decimal(0)) * Decimal(n) * Decimal(str(share))).quantize(
                Decimal("0.01")
            )
        )
        for cur, n in sorted(allowed_by_currency.items())
    }
    matched = allowed_by_currency or Counter(loan.currency for loan, _ in found)
    main = matched.most_common(1)[0][0] if matched else None
    return {
        "campaign_id": c.campaign_id,
        "matched": len(found),
        "guard_allows_now": allowed,
        "guard_refuses_now": dict(sorted(verdicts.items())),
        "capacity_left_today": left,
        "cap_left_today": cap_left,
        "would_send_today": max(0, today),
        "estimated_cost": by_currency.get(main, "0.00") if main else "0.00",  # in the loans' main currency
        "cost_currency": main,
        "estimated_cost_by_currency": by_currency,
        "items_read": read,
    }


def _contact_ledgers(ids: set[str]) -> Iterator[ContactLedgerModel]:
    ordered = sorted(ids)
    for i in range(0, len(ordered), 100):
        yield from ContactLedgerModel.batch_get(ordered[i : i + 100], consistent_read=True)


def _capacity_left(settings: Settings, day: str) -> dict[str, int]:
    used = campaign_store.usage(day)
    return {ch: max(0, cap - used.get(ch, 0)) for ch, cap in settings.capacity.items()}


# ------------------------------------------------------------------------------------ dispatch


def dispatch_now(settings: Settings, cid: str, now: datetime) -> dict[str, Any]:
    """A started or resumed campaign's work for today, at once: its loans ranked by expected recovery
    within what is left of the channel's capacity and of its cap; a loan already contacted today
    waits (one_contact_a_day). Written as PLAN entries (the ledger stream creates and queues the
    actions); deferrals are facts. Idempotent: the day's step id is the campaign's round's."""
    got = campaign_store.get(cid)
    if got is None or not got[0].live(now):
        return {"campaign_id": cid, "dispatched": 0, "why": "not running"}
    c = got[0]
    found, read = targets(settings, c, now)
    day = business_date(now, settings.business_tz)
    works: dict[str, Work] = {}
    contacted = set()
    for loan, a in found:
        if (
            loan.last_contact_at
            and business_date(datetime.fromisoformat(loan.last_contact_at), loan.tz or settings.business_tz)
            == a.local_day
        ):
            contacted.add(loan.loan_id)
        p = proposal(c, candidate(loan, a).view, a.local_day, _expected(loan, a), daily=False)
        works[loan.loan_id] = Work(p, loan.borrower_id, loan.currency, a.bucket, a.dpd, now, a.overdue)
    left = _capacity_left(settings, day.isoformat())
    cap = {cid: c.daily_cap - campaign_store.day_used([cid], day.isoformat())[cid]}
    ranked = rank([w.proposal for w in works.values()], left, {cid: c.priority}, cap, frozenset(contacted))
    summary = write_work(
        settings, [works[p.loan_id] for p in ranked.work], [(works[p.loan_id], r) for p, r in ranked.deferred], now, day
    )
    campaign_store.set_matched(cid, len(found))
    logger.info("campaign dispatched", extra={"campaign_id": cid, **summary, "items_read": read})
    return {"campaign_id": cid, **summary, "items_read": read, "matched": len(found)}


def write_work(
    settings: Settings, work: list[Work], deferred: list[tuple[Work, str]], now: datetime, day: date
) -> dict[str, Any]:
    """Campaign work out: PLAN entries, the channels' and campaigns' use of the day, deferral facts."""
    store.save_all(
        LedgerModel(
            w.proposal.loan_id, f"PLAN#{w.action_id}", run_at=iso(now), plan=json.dumps(w.row(), sort_keys=True)
        )
        for w in work
    )
    by_channel = Counter(w.proposal.channel or "" for w in work)
    by_campaign = Counter(w.proposal.strategy.split(":", 1)[1] for w in work)
    campaign_store.add_usage(day.isoformat(), dict(by_channel), dict(by_campaign))
    sink = FactSink(settings.outcomes_bucket, SOURCE)
    for w, rule in deferred:
        sink.add(
            fact(
                settings,
                "action_deferred",
                now,
                store_ref(w),
                SOURCE,
                case_id=w.proposal.case_id,
                action_id=w.action_id,
                channel=w.proposal.channel,
                bucket=w.bucket,
                dpd=w.dpd,
                amount_minor=to_minor(w.overdue, w.currency),
                strategy=w.proposal.strategy,
                strategy_version=0,
                variant="campaign",
                step=w.proposal.step_id,
                reason=f"{rule}: " + DEFERRED_WHY[rule],
                key=f"{w.action_id}|{rule}|{iso(now)}",
            )
        )
    sink.flush()
    for cid, n in Counter(w.proposal.strategy.split(":", 1)[1] for w, _ in deferred).items():
        campaign_store.count(cid, "deferred", n)  # one write a campaign
    metrics.add_metric(name="CampaignWorkDispatched", unit="Count", value=len(work))
    return {"dispatched": len(work), "deferred": dict(Counter(r for _, r in deferred))}


def store_ref(w: Work) -> LoanRef:
    return LoanRef(w.proposal.loan_id, w.borrower_id, w.currency)


# ------------------------------------------------------------------------------ the API's side


def create(p: access.Principal, incoming: Incoming, s: OpsSettings, now: datetime) -> Answer:
    def build() -> Write:
        try:
            c = parse_campaign(body_of(incoming.body, _FIELDS), s.buckets, now)
        except CampaignError as e:
            raise ApiError(400, str(e), e.field) from None
        item = campaign_store.item_of(c, now, p.user)
        put = {
            "Put": {
                "TableName": campaign_store.table(),
                "Item": item,
                "ConditionExpression": "attribute_not_exists(sk)",
            }
        }
        return Write(
            {**c.to_json(), "by": p.user},
            [put],
            {"campaign": c.to_json()},
            refused=lambda _i: ApiError(409, f"campaign {c.campaign_id!r} exists: choose another id", "campaign_id"),
            target={"campaign_id": c.campaign_id},
        )

    return write_once(p, incoming, "POST /v1/ops/campaigns", s, now, build)


_FIELDS = ("campaign_id", "name", "target", "channel", "template", "starts_at", "ends_at", "daily_cap", "priority")


def command(p: access.Principal, incoming: Incoming, cid: str, verb: str, s: OpsSettings, now: datetime) -> Answer:
    """start, pause, resume, cancel: the status changes (if it still is what it was) and, for start
    and resume, a job the table's stream gives CampaignFunction to dispatch at once."""

    def build() -> Write:
        body_of(incoming.body, (), empty_ok=True)
        return Write(*_command_writes(cid, verb, now), target={"campaign_id": cid})

    return write_once(p, incoming, f"POST /v1/ops/campaigns/{{campaign_id}}/{verb}", s, now, build)


def _command_writes(
    cid: str, verb: str, now: datetime
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    got = campaign_store.get(cid)
    if got is None:
        raise ApiError(404, f"unknown campaign {cid[:64]!r}")
    c = got[0]
    allowed, after = COMMANDS[verb]
    if c.status not in allowed:
        raise ApiError(409, f"campaign {cid} is {c.status}: it cannot {verb} (only when {' or '.join(allowed)})")
    if verb in ("start", "resume") and now >= c.ends_at:
        raise ApiError(409, f"campaign {cid} ended at {c.ends_at.isoformat()}")
    round_ = c.round + 1 if after == "running" else c.round
    writes = [campaign_store.status_change(cid, c.status, after, round_)]
    if after == "running":
        writes.append(campaign_store.job_put(cid, round_, verb, now))
    return {"campaign_id": cid, "status": after, "was": c.status}, writes, {"status": after}, {"status": c.status}


def run_command(cid: str, verb: str, now: datetime, by: str = "lambda-console") -> dict[str, Any]:
    """The same from CampaignFunction's direct invocation (the Lambda console): no audit user but
    ``by``, written in one transaction; the stream dispatches as for the API."""
    import os
    import uuid

    from ..adapters.clients import client
    from .operations import audit_item

    if verb not in COMMANDS:
        raise ValueError(f"command must be one of {', '.join(COMMANDS)}")
    body, writes, after, before = _command_writes(cid, verb, now)
    table = os.environ.get("AUDIT_TABLE", "")
    if not table:
        raise ValueError("AUDIT_TABLE is not set: a command from the Lambda console is audited like the API's")
    record = audit_item(
        os.environ.get("BUSINESS_TZ", "Asia/Shanghai"), now, f"console#{uuid.uuid4().hex}", by, "aws-console",
        f"campaign_command {verb}", {"campaign_id": cid}, before, after,
    )  # fmt: skip
    writes.append({"Put": {"TableName": table, "Item": record, "ConditionExpression": "attribute_not_exists(at_key)"}})
    client("dynamodb").transact_write_items(TransactItems=writes)
    logger.info("campaign command", extra={"campaign_id": cid, "command": verb, "by": by})
    return body


def progress(c: Campaign, item: Mapping[str, Any]) -> dict[str, Any]:
    """Targeted (the loans it worked), planned, sent, connected, deferred, blocked by rule, and of its
    loans: promises made, loans paid and the amount recovered since they were first worked."""
    members = campaign_store.members(c.campaign_id)
    ids = [m["sk"]["S"].removeprefix("LOAN#") for m in members]
    loans = store.loans(ids)
    paid = promises = 0
    recovered: Counter[str] = Counter()
    for m in members:
        loan = loans.get(m["sk"]["S"].removeprefix("LOAN#"))
        if loan is None:
            continue
        since = loan.paid_total - Decimal(m["paid_total"]["N"])
        if since > 0:
            paid += 1
            recovered[loan.currency] += to_minor(since, loan.currency)
        if loan.promise_id and loan.promise_id != m.get("promise_id", {}).get("S"):
            promises += 1
    from ..domain.money import from_minor

    return {
        **c.to_json(),
        "progress": {
            "targeted": int(item.get("matched", {}).get("N", "0")),
            "worked": len(members),
            **{n: int(item.get(n, {}).get("N", "0")) for n in campaign_store.COUNTERS},
            "blocked_by": {k: int(v["N"]) for k, v in item.get("blocked_by", {}).get("M", {}).items()},
            "promises": promises,
            "paid_since": paid,
            "recovered_since": {cur: str(from_minor(v, cur)) for cur, v in sorted(recovered.items())},
        },
    }


def dry_run_answer(incoming: Incoming, settings: Settings, s: OpsSettings, now: datetime) -> Answer:
    try:
        c = parse_campaign(body_of(incoming.body, _FIELDS), s.buckets, now)
    except CampaignError as e:
        raise ApiError(400, str(e), e.field) from None
    return Answer(200, json.dumps(dry_run(settings, c, now)))


def progress_answer(cid: str) -> Answer:
    got = campaign_store.get(cid)
    if got is None:
        raise ApiError(404, f"unknown campaign {cid[:64]!r}")
    return Answer(200, json.dumps(progress(*got)))


def listing() -> Answer:
    out = []
    for item in campaign_store.listing():
        doc = json.loads(item["document"]["S"])
        doc["status"], doc["round"] = item["status"]["S"], int(item["round"]["N"])
        doc["counters"] = {n: int(item.get(n, {}).get("N", "0")) for n in campaign_store.COUNTERS}
        doc["matched"] = int(item.get("matched", {}).get("N", "0"))
        out.append(doc)
    return Answer(200, json.dumps({"campaigns": sorted(out, key=lambda d: d["campaign_id"])}))
