"""The operations API (``/v1/ops/...`` in ``functions/api/app.py``): operations staff, signed in with
a bearer token, read a loan's case and timeline and record what they do on it.

Every request is checked in this order: size (413), the bearer token (401: missing, forged, expired,
another pool or client; a webhook signature is not a credential here), the role (403), the body (400,
naming the field), the loan (404), then the write (202, or the first answer again for a repeated
``Idempotency-Key``, 409 when that key came with another route).

Every write is audited twice, in the write's own transaction (all or nothing):
- in the AuditTable (append-only: who, role, what, when, the values before and after, in full; only
  admins read it, through ``GET /v1/ops/audit``);
- as an ``operator_write`` fact in the lake (source ``operator/<role>``; ``reason`` a JSON object with
  the user, the route, the idempotency key and each written field's name with a SHA-256 hash of its
  value, never the value), written from the idempotency table's stream as the platform's facts are.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from ..adapters import api_store, facts_sink, jwks, store
from ..adapters.clients import client
from ..adapters.models import CollectionModel, ContactModel, LedgerModel, LoanModel
from ..config import ConfigError, business_tz_of
from ..domain import access
from ..domain.api import ApiError
from ..domain.buckets import DEFAULT_SPEC, BucketScheme
from ..domain.facts import Fact, business_date
from ..domain.importing import LOAN_HOLDS
from ..domain.money import from_minor, minor_units, parse_money, to_minor
from ..domain.promises import Promise
from ..domain.restrictions import Restrictions
from ..domain.timeutil import iso, zone
from ..observability import logger, mask_email, mask_phone, metrics
from .dashboard import queues_of
from .webhook import AWS_ERRORS, RETRY_AFTER_SECONDS, Answer, Incoming, again

_NEEDED = (
    "OPS_JWKS_URL",
    "OPS_ISSUER",
    "OPS_CLIENT_ID",
    "AUDIT_TABLE",
    "LOANS_TABLE",
    "COLLECTIONS_TABLE",
    "LEDGER_TABLE",
    "IDEMPOTENCY_TABLE",
    "STRATEGIES_TABLE",
    "OUTCOMES_BUCKET",
    "OFFER_LINK_SECRET_ID",
)
_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
MAX_NOTE_CHARS = 2000
MAX_PROMISE_DAYS = 30  # a promise further out is a payment plan (DOMAIN.md: promises are short-dated)


class OpsSettings(NamedTuple):
    jwks_url: str
    issuer: str
    client_id: str
    audit_table: str
    loans_table: str
    collections_table: str
    ledger_table: str
    idempotency_table: str
    contacts_table: str
    strategies_table: str
    outcomes_bucket: str
    queues: dict[str, str]  # name -> URL: what the dashboard shows the depth of
    buckets: tuple[str, ...]  # the configured bucket names (a strategy naming another is refused)
    business_tz: str = "Asia/Shanghai"
    offer_link_secret_id: str = ""  # signs the borrowers' self-service links (usecases/offers.py)
    send_queues: dict[str, str] = {}  # channel -> its sender's queue (an offer's link goes through it)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OpsSettings:
        env = os.environ if env is None else env
        problems = [f"{n} is not set" for n in _NEEDED if not env.get(n)]
        url = env.get("OPS_JWKS_URL", "")
        if url and not url.startswith(("https://", "file://")):
            problems.append(f"OPS_JWKS_URL={url[:80]!r} must be an https:// (or, locally, file://) URL")
        business_tz = business_tz_of(env, problems)
        buckets: tuple[str, ...] = ()
        try:
            buckets = tuple(BucketScheme.parse(env.get("BUCKETS", DEFAULT_SPEC)).names)
        except ValueError as e:
            problems.append(f"BUCKETS: {e}")
        if problems:
            raise ConfigError("bad configuration: " + "; ".join(problems))
        return cls(
            url,
            env["OPS_ISSUER"],
            env["OPS_CLIENT_ID"],
            env["AUDIT_TABLE"],
            env["LOANS_TABLE"],
            env["COLLECTIONS_TABLE"],
            env["LEDGER_TABLE"],
            env["IDEMPOTENCY_TABLE"],
            env.get("CONTACTS_TABLE", ""),
            env["STRATEGIES_TABLE"],
            env["OUTCOMES_BUCKET"],
            queues_of(env.get("OPS_QUEUES", "")),
            buckets,
            business_tz,
            env["OFFER_LINK_SECRET_ID"],
            {c: env[f"{c.upper()}_QUEUE_URL"] for c in ("sms", "email", "wechat") if env.get(f"{c.upper()}_QUEUE_URL")},
        )


# ------------------------------------------------------------------------------- the request


def serve(
    incoming: Incoming,
    s: OpsSettings,
    max_body_bytes: int,
    now: datetime,
    permission: str,
    route: Callable[[access.Principal], Answer],
) -> Answer:
    """Size, token, role, then the route; every outcome an answer, and one log line (status, user,
    role; never a body)."""
    principal: access.Principal | None = None
    try:
        if len(incoming.body) > max_body_bytes:
            raise ApiError(413, f"the body is {len(incoming.body)} bytes; at most {max_body_bytes}")
        principal = authenticate(incoming.headers, s)
        principal.require(permission)
        answer = route(principal)
    except access.AccessError as e:
        answer = _error(ApiError(e.status, e.message))
    except ApiError as e:
        answer = _error(e)
    except jwks.KeysUnavailable as e:
        logger.error("operations request not served: the sign-in keys are unavailable", extra={"why": str(e)})
        answer = _error(ApiError(503, "sign-in is unavailable for now: retry later", headers=_RETRY))
    except AWS_ERRORS:
        logger.exception("operations request not served: an AWS dependency failed")
        answer = _error(
            ApiError(
                503, f"a dependency failed; nothing was recorded: retry after {RETRY_AFTER_SECONDS} s", headers=_RETRY
            )
        )
    logger.info(
        "operations answered",
        extra={
            "status": answer.status,
            "user": principal.user if principal else None,
            "role": principal.role if principal else None,
        },
    )
    return answer


_RETRY = {"Retry-After": RETRY_AFTER_SECONDS}


def _error(e: ApiError) -> Answer:
    metrics.add_metric(name=f"Ops{e.status}", unit="Count", value=1)
    return Answer(e.status, e.body(), e.headers)


def authenticate(headers: Mapping[str, str], s: OpsSettings) -> access.Principal:
    """The signed-in user: a bearer token of the stack's pool and client (the key set fetched again
    once when the token names a key it lacks: a rotation). Tokens are checked against the wall clock,
    whatever the stack's simulated clock says."""
    authorization = headers.get("authorization")
    if not authorization and headers.get("webhook-signature"):
        raise access.AccessError(401, "operations routes take a bearer token, not a webhook signature")
    token = access.bearer(authorization)
    wall = int(time.time())
    try:
        return access.verify(token, jwks.key_set(s.jwks_url), s.issuer, s.client_id, wall)
    except access.UnknownKey as e:
        return access.verify(token, jwks.key_set(s.jwks_url, missing_kid=e.kid), s.issuer, s.client_id, wall)


def whoami(p: access.Principal) -> Answer:
    return Answer(200, json.dumps({"user": p.user, "role": p.role, "permissions": p.permissions()}))


# --------------------------------------------------------------------------------- the case


def case_view(p: access.Principal, loan_id: str, s: OpsSettings, now: datetime) -> Answer:
    """A loan's state and its timeline, newest first: bucket history, cases, planned and sent contacts
    (with the guard's verdict and the strategy's reason), call outcomes, promises, payments and
    reversals, holds with their sources, notes. The borrower's contact points are masked."""
    try:
        loan = LoanModel.get(loan_id, consistent_read=True)
    except LoanModel.DoesNotExist:
        raise ApiError(404, f"unknown loan {loan_id[:128]!r}") from None
    events: list[dict[str, Any]] = []
    for item in CollectionModel.query(loan_id):
        events += _collection_events(item)
    for entry in LedgerModel.query(loan_id):
        events += _ledger_events(entry, loan.currency)
    events.sort(key=lambda e: str(e.get("at") or ""), reverse=True)
    today = now.astimezone(zone(loan.tz)).date()
    holds = Restrictions.from_json(loan.hold_sources)
    body = {
        "loan_id": loan.loan_id,
        "borrower_id": loan.borrower_id,
        "product": loan.product,
        "currency": loan.currency,
        "time_zone": loan.tz,
        "bucket": loan.bucket,
        "bucket_since": loan.bucket_since,
        "outstanding": str(loan.outstanding),
        "overdue": str(sum((u.remaining for u in store.unpaid_of(loan) if u.due_date < today), Decimal(0))),
        "days_past_due": max(0, (today - min(u.due_date for u in store.unpaid_of(loan))).days) if loan.unpaid else 0,
        "case_id": loan.case_id,
        "case_opened_on": loan.opened_on,
        "strategy": loan.strategy,
        "strategy_version": loan.strategy_version,
        "variant": loan.variant,
        "escalation": loan.escalation,
        "promise": {"until": loan.promise_until, "amount": str(loan.promise_amount)} if loan.promise_until else None,
        "holds": {h: sorted(holds.sources("holds", h)) for h in sorted(loan.holds or ())},
        "stage": loan.stage,
        "assigned_to": _assignee(loan_id),
        "arrangement": _arrangement_view(loan, today),
        "forgiven": str(loan.forgiven) if loan.forgiven is not None else None,
        "contact": _masked_contact(loan.borrower_id, s),
        "timeline": events,
    }
    arranged = _arrangement_view(loan, today)
    if arranged and arranged["status"] == "active":  # DPD and what is overdue follow the arrangement
        body["days_past_due"], body["overdue"] = arranged["dpd"], arranged["overdue"]
    return Answer(200, json.dumps(body, ensure_ascii=False, default=str))


def _assignee(loan_id: str) -> str | None:
    try:
        return CollectionModel.get(loan_id, "ASSIGNED", consistent_read=True).by
    except CollectionModel.DoesNotExist:
        return None


def _arrangement_view(loan: LoanModel, today: date) -> dict[str, Any] | None:
    """The loan's arrangement and where it stands today (DPD and what is overdue follow it)."""
    if not loan.arrangement:
        return None
    from ..domain.arrangements import Arrangement, standing

    arr = Arrangement.from_json(loan.arrangement)
    st = standing(arr, loan.paid_total or Decimal(0), today, 0)
    return {
        "offer_id": arr.offer_id,
        "kind": arr.terms.kind,
        "status": arr.status,
        "accepted_on": arr.accepted_on.isoformat(),
        "schedule": [{"due_on": d.due_on.isoformat(), "amount": str(d.amount)} for d in arr.terms.schedule],
        "paid_since": str(st.paid),
        "dpd": st.dpd if arr.status == "active" else None,
        "overdue": str(st.overdue) if arr.status == "active" else None,
        "next_due": st.next_due.isoformat() if arr.status == "active" and st.next_due else None,
    }


def _masked_contact(borrower_id: str, s: OpsSettings) -> dict[str, str] | None:
    if not s.contacts_table:
        return None
    try:
        c = ContactModel.get(borrower_id, attributes_to_get=["phone", "email"])
    except ContactModel.DoesNotExist:
        return None
    return {"phone": mask_phone(c.phone), "email": mask_email(c.email)}


def _collection_events(i: CollectionModel) -> list[dict[str, Any]]:
    if i.kind == "bucket":
        out = [{"at": i.entered_on, "kind": "bucket_entered", "bucket": i.bucket}]
        if i.left_on:
            out.append({"at": i.left_on, "kind": "bucket_left", "bucket": i.bucket})
        return out
    if i.kind == "case":
        out = [{"at": i.opened_on, "kind": "case_opened", "case_id": i.case_id}]
        if i.reopened_on:
            out.append({"at": i.reopened_on, "kind": "case_reopened", "case_id": i.case_id})
        if i.closed_on:
            out.append({"at": i.closed_on, "kind": "case_closed", "case_id": i.case_id, "reason": i.reason})
        return out
    if i.kind == "note":
        return [{"at": i.entered_on, "kind": "note", "by": i.by, "text": i.note}]
    if i.kind == "assignment":
        return [{"at": i.entered_on, "kind": "assigned", "to": i.by}]
    if i.kind == "offer":
        terms = json.loads(i.terms or "{}")
        return [
            {
                "at": i.entered_on,
                "kind": "offer",
                "offer_id": i.sk.split("#", 1)[1],
                "offer_kind": terms.get("kind"),
                "status": i.status,
                "by": i.by,
                "approved_by": i.approved_by,
                "expires_at": i.expires_at,
                "schedule": terms.get("schedule"),
                "forgiven": terms.get("forgiven"),
            }
        ]
    if i.kind in ("action", "escalation"):
        return [
            {
                "at": i.sent_at or i.planned_for,
                "kind": i.kind,
                "action_id": i.action_id,
                "channel": i.channel,
                "step": i.step,
                "template": i.template,
                "status": i.status,
                "verdict": i.reason,
                "outcome": i.outcome,
                "why": i.why,
                "strategy": i.strategy,
                "variant": i.variant,
                "escalation": i.escalation,
            }
        ]
    return []


def _ledger_events(e: LedgerModel, currency: str) -> list[dict[str, Any]]:
    if e.entry.startswith("PAY#"):
        return [
            {
                "at": e.paid_at,
                "kind": "payment",
                "payment_id": e.payment_id,
                "amount": str(e.amount),
                "method": e.method,
            }
        ]
    if e.entry.startswith("REV#"):
        return [{"at": e.reversed_at, "kind": "reversal", "payment_id": e.entry[4:], "reason": e.reason}]
    if e.entry.startswith("PTP#") and e.promise:
        p = Promise.from_json(e.promise)
        return [
            {
                "at": iso(p.made_at),
                "kind": "promise",
                "until": p.until.isoformat(),
                "amount": str(p.amount),
                "by": e.source,
            }
        ]
    if e.entry.startswith("HOLD#"):
        return [{"at": e.run_at, "kind": "hold", "hold": e.hold, "source": e.source}]
    if e.entry.startswith("ARR#") and e.arrangement:
        terms = json.loads(e.arrangement)["terms"]
        return [{"at": e.run_at, "kind": "arrangement_accepted", "offer_id": e.entry[4:], "offer_kind": terms["kind"]}]
    return []


# -------------------------------------------------------------------------------- the writes


@dataclass
class Write:
    """What an operator's request writes: the items (TransactWriteItems entries), the answer, the
    values before and after (for the audit), and what a failed condition of the n-th item means."""

    body: dict[str, Any]
    writes: list[dict[str, Any]]
    after: dict[str, Any]
    before: dict[str, Any] | None = None
    refused: Callable[[int], ApiError] = field(default=lambda _i: ApiError(409, "the loan changed meanwhile: retry"))
    loan: LoanModel | None = None
    target: dict[str, str] = field(default_factory=dict)  # what it is about, when not a loan
    facts: list[Fact] = field(default_factory=list)  # more facts than the write's own (a call's outcome)


def add_note(p: access.Principal, incoming: Incoming, loan_id: str, s: OpsSettings, now: datetime) -> Answer:
    """A note on the loan's case (free text, at most MAX_NOTE_CHARS)."""

    def build() -> Write:
        row = body_of(incoming.body, ("text",))
        text = row.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, "text must be a non-empty string", "text")
        if len(text) > MAX_NOTE_CHARS or not text.isprintable() and any(ord(c) < 32 and c not in "\n\t" for c in text):
            raise ApiError(400, f"text must be printable, at most {MAX_NOTE_CHARS} characters", "text")
        loan = _loan(loan_id)
        sk = f"NOTE#{iso(now)}#{_key(incoming)}"
        item = {
            "loan_id": {"S": loan_id},
            "sk": {"S": sk},
            "kind": {"S": "note"},
            "case_id": {"S": loan.case_id or ""},
            "entered_on": {"S": iso(now)},
            "by": {"S": p.user},
            "note": {"S": text},
        }
        body = {"loan_id": loan_id, "note": sk, "by": p.user, "at": iso(now)}
        return Write(
            body, [api_store.put(s.collections_table, item, "attribute_not_exists(sk)")], {"text": text}, loan=loan
        )

    return write_once(p, incoming, "POST /v1/ops/loans/{loan_id}/notes", s, now, build)


def change_hold(
    p: access.Principal, incoming: Incoming, loan_id: str, hold: str | None, s: OpsSettings, now: datetime
) -> Answer:
    """Place (``hold`` None: named in the body) or lift the operators' hold on a loan (dispute,
    hardship, paused): a ``HOLD#<hold>#operator`` ledger entry the ledger stream applies. The
    platform's holds, and a borrower's, stay as they are."""
    placing = hold is None

    def build() -> Write:
        name, why = hold, None
        if placing:
            row = body_of(incoming.body, ("hold", "reason"))
            name, why = row.get("hold"), row.get("reason")
            if not isinstance(name, str) or name not in LOAN_HOLDS:
                raise ApiError(400, f"hold must be one of {', '.join(LOAN_HOLDS)}", "hold")
            if why is not None and (not isinstance(why, str) or len(why) > 500):
                raise ApiError(400, "reason must be text of at most 500 characters", "reason")
        elif name not in LOAN_HOLDS:
            raise ApiError(404, f"no hold {str(name)[:40]!r} on a loan (holds: {', '.join(LOAN_HOLDS)})")
        assert name is not None
        loan = _loan(loan_id)
        key = {"loan_id": {"S": loan_id}, "entry": {"S": f"HOLD#{name}#operator"}}
        had = "operator" in Restrictions.from_json(loan.hold_sources).sources("holds", name)
        if placing:
            item = {**key, "hold": {"S": name}, "source": {"S": "operator"}, "run_at": {"S": iso(now)}}
            writes = [api_store.put(s.ledger_table, item)]
        else:
            writes = [{"Delete": {"TableName": s.ledger_table, "Key": key}}]
        body = {"loan_id": loan_id, "hold": name, "placed": placing, "source": "operator", "by": p.user, "at": iso(now)}
        after = {"hold": name, "placed": placing, **({"reason": why} if why else {})}
        return Write(body, writes, after, {"hold": name, "placed": had}, loan=loan)

    path = "/v1/ops/loans/{loan_id}/holds" + ("" if placing else "/{hold}")
    return write_once(p, incoming, ("POST " if placing else "DELETE ") + path, s, now, build)


def record_promise(p: access.Principal, incoming: Incoming, loan_id: str, s: OpsSettings, now: datetime) -> Answer:
    """A promise to pay the borrower made to an agent: ``until`` (the borrower's local date, today to
    MAX_PROMISE_DAYS ahead) and ``amount`` (in the loan's currency, above zero, at most what is
    outstanding). A ``PTP#`` ledger entry the ledger stream opens on the loan, as a call's promise is:
    dunning then waits for its date, and it is kept or broken as the payments say."""

    def build() -> Write:
        row = body_of(incoming.body, ("until", "amount"))
        loan = _loan(loan_id)
        if not loan.case_id:
            raise ApiError(409, f"loan {loan_id[:128]!r} has no open case: nothing is owed to promise")
        put, body, after = promise_write(p, loan, row, f"op-{_digest(_key(incoming))}", s, now)
        before = {"until": loan.promise_until, "amount": str(loan.promise_amount)} if loan.promise_until else None
        return Write(body, [put], after, before, loan=loan)

    return write_once(p, incoming, "POST /v1/ops/loans/{loan_id}/promises", s, now, build)


def promise_write(
    p: access.Principal, loan: LoanModel, row: Mapping[str, Any], promise_id: str, s: OpsSettings, now: datetime
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A promise's ``PTP#`` ledger entry (a TransactWriteItems put, once), the answer and the audit's
    after, from ``until`` and ``amount`` checked against the loan."""
    today = now.astimezone(zone(loan.tz)).date()
    try:
        until = date.fromisoformat(str(row.get("until")))
    except ValueError:
        raise ApiError(400, "until must be a date (YYYY-MM-DD), the borrower's local date", "until") from None
    if not today <= until <= today + timedelta(days=MAX_PROMISE_DAYS):
        raise ApiError(
            400, f"until {until} must be from {today} to {today + timedelta(days=MAX_PROMISE_DAYS)}", "until"
        )
    try:
        amount = parse_money(row.get("amount"), places=minor_units(loan.currency), allow_zero=False)
    except ValueError as e:
        raise ApiError(400, str(e), "amount") from None
    if amount > loan.outstanding:
        raise ApiError(400, f"amount {amount} is above what the loan owes ({loan.outstanding})", "amount")
    promise = Promise(promise_id, str(loan.case_id), now, until, amount)
    item = {
        "loan_id": {"S": loan.loan_id},
        "entry": {"S": f"PTP#{promise.promise_id}"},
        "run_at": {"S": iso(now)},
        "promise": {"S": promise.to_json()},
        "source": {"S": f"operator/{p.user}"[:200]},
    }
    shown = str(from_minor(to_minor(amount, loan.currency), loan.currency))
    body = {
        "loan_id": loan.loan_id,
        "promise_id": promise.promise_id,
        "until": until.isoformat(),
        "amount": str(amount),
    }
    return (
        api_store.put(s.ledger_table, item, "attribute_not_exists(entry)"),
        body,
        {"until": until.isoformat(), "amount": shown},
    )


def work_queue(p: access.Principal, query: Mapping[str, str], s: OpsSettings, now: datetime) -> Answer:
    """The day's highest-value cases (the daily run's dispatched work, by expected recovery), filtered
    by ``bucket`` and ``segment``, ``limit`` at a time (default 50) after ``offset``; a case cured or
    held since the run is left out (its loan read now)."""
    from ..adapters.clients import client
    from .dispatch import queue_key

    limit, offset = query.get("limit", "50"), query.get("offset", "0")
    if not limit.isdigit() or not 1 <= int(limit) <= 200:
        raise ApiError(400, "limit must be a whole number from 1 to 200", "limit")
    if not offset.isdigit():
        raise ApiError(400, "offset must be a whole number", "offset")
    s3, day = client("s3"), business_date(now, s.business_tz)
    cases: list[dict[str, Any]] = []
    run_at = None
    for back in (0, 1):  # today's run, or yesterday's before today's has run
        try:
            got = json.loads(
                s3.get_object(Bucket=s.outcomes_bucket, Key=queue_key((day - timedelta(days=back)).isoformat()))[
                    "Body"
                ].read()
            )
        except s3.exceptions.NoSuchKey:
            continue
        cases, run_at = got["cases"], got["run_at"]
        break
    wanted = [
        c
        for c in cases
        if (not query.get("bucket") or c["bucket"] == query["bucket"])
        and (not query.get("segment") or c["segment"] == query["segment"])
    ]
    page = wanted[int(offset) : int(offset) + int(limit)]
    now_state = store.loans([c["loan_id"] for c in page])
    shown = []
    for c in page:
        loan = now_state.get(c["loan_id"])
        if loan is None or loan.case_id != c["case_id"] or set(loan.holds or ()) & {"dispute", "hardship", "paused"}:
            continue  # cured, or on hold, since the run
        shown.append({**c, "bucket_now": loan.bucket, "promise_until": loan.promise_until})
    return Answer(200, json.dumps({"run_at": run_at, "total": len(wanted), "offset": int(offset), "cases": shown}))


def audit_log(p: access.Principal, day: str | None, s: OpsSettings, now: datetime) -> Answer:
    """The audit records of one business day (today by default), oldest first: admins only."""
    try:
        on = date.fromisoformat(day) if day else business_date(now, s.business_tz)
    except ValueError:
        raise ApiError(400, "day must be a date (YYYY-MM-DD)", "day") from None
    ddb = client("dynamodb")
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": s.audit_table,
        "KeyConditionExpression": "#d = :d",
        "ExpressionAttributeNames": {"#d": "day"},
        "ExpressionAttributeValues": {":d": {"S": on.isoformat()}},
    }
    while True:
        page = ddb.query(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page or len(items) >= 1000:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    records = [
        {k: (json.loads(v["S"]) if k in ("before", "after", "target") else v["S"]) for k, v in i.items() if "S" in v}
        for i in items
    ]
    return Answer(
        200, json.dumps({"day": on.isoformat(), "records": records, "more": len(items) >= 1000}, ensure_ascii=False)
    )


# ------------------------------------------------------------------------------------ helpers


def write_once(
    p: access.Principal, incoming: Incoming, route: str, s: OpsSettings, now: datetime, build: Callable[[], Write]
) -> Answer:
    """The write, its audit record and its fact stored together once per (user, Idempotency-Key); a
    repeat gets the first answer, whatever its body now."""
    key = f"ops#{p.user}#{_key(incoming)}"
    first = api_store.stored_answer(key)
    if first is not None:
        return again(first, route, _key(incoming), "Idempotency-Key")
    w = build()
    body = json.dumps(w.body, ensure_ascii=False)
    target = {"loan_id": w.loan.loan_id} if w.loan else w.target
    audit = audit_item(s.business_tz, now, key, p.user, p.role, route, target, w.before, w.after)
    fact = Fact(
        "operator_write",
        now,
        business_date(now, s.business_tz),
        w.loan.loan_id if w.loan else None,
        f"operator/{p.role}",
        borrower_id=w.loan.borrower_id if w.loan else None,
        currency=w.loan.currency if w.loan else None,
        product=w.loan.product if w.loan else None,
        segment=w.loan.segment if w.loan else None,
        jurisdiction=w.loan.jurisdiction if w.loan else None,
        agent=p.user,
        action_id=key[:200],
        reason=json.dumps(
            {"user": p.user, "route": route, "fields": {k: _digest(v) for k, v in sorted(w.after.items())}},
            ensure_ascii=False,
            sort_keys=True,
        ),
        key=key,
    )
    writes = [*w.writes, api_store.put(s.audit_table, audit, "attribute_not_exists(at_key)")]
    try:
        stored = api_store.answer_once(
            "", route, 202, body, iso(now), writes, facts_sink.lines([fact, *w.facts]), key=key
        )
    except api_store.Refused as e:
        raise w.refused(e.index) from None
    if stored is not None:
        return again(stored, route, _key(incoming), "Idempotency-Key")
    metrics.add_metric(name="OpsWrites", unit="Count", value=1)
    logger.info("operator write recorded", extra={"route": route, "user": p.user, "role": p.role})
    return Answer(202, body)


def audit_item(
    business_tz: str,
    now: datetime,
    key: str,
    user: str,
    role: str,
    route: str,
    target: Mapping[str, str],
    before: Any,
    after: Any,
) -> dict[str, Any]:
    """An AuditTable record: who, role, what, when, the values before and after (in full)."""
    return {
        "day": {"S": business_date(now, business_tz).isoformat()},
        "at_key": {"S": f"{iso(now)}#{key}"},
        "at": {"S": iso(now)},
        "user": {"S": user},
        "role": {"S": role},
        "route": {"S": route},
        "target": {"S": json.dumps(dict(target))},
        "before": {"S": json.dumps(before, ensure_ascii=False, default=str)},
        "after": {"S": json.dumps(after, ensure_ascii=False, default=str)},
    }


def _key(incoming: Incoming) -> str:
    key = str(incoming.headers.get("idempotency-key") or "")
    if not _KEY.match(key):
        raise ApiError(
            400,
            "an Idempotency-Key header (1-200 printable ASCII characters, e.g. a UUID) is required on every write",
            "Idempotency-Key",
        )
    return key


def body_of(raw: bytes, allowed: tuple[str, ...], empty_ok: bool = False) -> dict[str, Any]:
    """The body's JSON object with only ``allowed`` fields (``empty_ok``: no body is ``{}``)."""
    if empty_ok and not raw.strip():
        return {}
    try:
        row = json.loads(raw.decode("utf-8")) if raw.strip() else None
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "the body is not JSON") from None
    if not isinstance(row, dict):
        raise ApiError(400, f"the body must be a JSON object with {', '.join(allowed)}")
    unknown = [k for k in row if k not in allowed]
    if unknown:
        raise ApiError(
            400,
            f"unknown field(s) {', '.join(repr(k[:60]) for k in unknown[:5])}: expected {', '.join(allowed)}",
            unknown[0][:60],
        )
    return row


def _loan(loan_id: str) -> LoanModel:
    try:
        return LoanModel.get(loan_id, consistent_read=True)
    except LoanModel.DoesNotExist:
        raise ApiError(404, f"unknown loan {loan_id[:128]!r}") from None


def _digest(value: Any) -> str:
    """A value's SHA-256 (of its canonical JSON), shortened: shows a value changed, or matches a known
    one, without carrying it into the lake."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


# ------------------------------------------------------------------------------ assignment

ASSIGNED_PK = "#assigned#"  # CollectionsTable partition of one user's assigned cases (sk: the loan id)
MAX_USER = 128


def assign(
    p: access.Principal, incoming: Incoming, loan_id: str, s: OpsSettings, now: datetime, giving: bool = True
) -> Answer:
    """Give a loan's case to a user (``{"user": "ann"}``), or take it back (``giving`` False): the
    loan's ``ASSIGNED`` item and the user's list (partition ``#assigned#<user>``), in one transaction."""

    def build() -> Write:
        user = body_of(incoming.body, ("user",), empty_ok=not giving).get("user") if giving else None
        if giving and (not isinstance(user, str) or not 1 <= len(user) <= MAX_USER or not user.isprintable()):
            raise ApiError(400, f"user must be a user name (1-{MAX_USER} printable characters)", "user")
        if not giving:
            body_of(incoming.body, (), empty_ok=True)
        loan = _loan(loan_id)
        if user is not None and not loan.case_id:
            raise ApiError(409, f"loan {loan_id[:128]!r} has no open case to assign")
        try:
            before: str | None = CollectionModel.get(loan_id, "ASSIGNED", consistent_read=True).by
        except CollectionModel.DoesNotExist:
            before = None
        writes: list[dict[str, Any]] = []
        if before and before != user:
            writes.append(
                {
                    "Delete": {
                        "TableName": s.collections_table,
                        "Key": {"loan_id": {"S": ASSIGNED_PK + before}, "sk": {"S": loan_id}},
                    }
                }
            )
        if user is None:
            writes.append(
                {
                    "Delete": {
                        "TableName": s.collections_table,
                        "Key": {"loan_id": {"S": loan_id}, "sk": {"S": "ASSIGNED"}},
                    }
                }
            )
        else:
            mine = {
                "kind": {"S": "assignment"},
                "by": {"S": user},
                "entered_on": {"S": iso(now)},
                "case_id": {"S": loan.case_id or ""},
            }
            writes.append(
                api_store.put(s.collections_table, {"loan_id": {"S": loan_id}, "sk": {"S": "ASSIGNED"}, **mine})
            )
            writes.append(
                api_store.put(s.collections_table, {"loan_id": {"S": ASSIGNED_PK + user}, "sk": {"S": loan_id}, **mine})
            )
        body = {"loan_id": loan_id, "assigned_to": user, "by": p.user, "at": iso(now)}
        return Write(body, writes, {"assigned_to": user}, {"assigned_to": before}, loan=loan)

    return write_once(
        p, incoming, ("POST" if giving else "DELETE") + " /v1/ops/loans/{loan_id}/assignment", s, now, build
    )


def assigned_queue(p: access.Principal, query: Mapping[str, str], s: OpsSettings) -> Answer:
    """The signed-in user's assigned cases still open (and not on hold), filtered by ``bucket`` and
    ``segment``, oldest assignment first."""
    items = sorted(CollectionModel.query(ASSIGNED_PK + p.user), key=lambda i: str(i.entered_on))
    state = store.loans([i.sk for i in items])
    cases = []
    for i in items:
        loan = state.get(i.sk)
        if loan is None or loan.case_id != i.case_id or set(loan.holds or ()) & {"dispute", "hardship", "paused"}:
            continue  # cured, closed, or held since it was assigned
        if query.get("bucket") and loan.bucket != query["bucket"]:
            continue
        if query.get("segment") and loan.segment != query["segment"]:
            continue
        cases.append(
            {
                "loan_id": loan.loan_id,
                "case_id": loan.case_id,
                "bucket_now": loan.bucket,
                "segment": loan.segment,
                "outstanding": str(loan.outstanding),
                "currency": loan.currency,
                "promise_until": loan.promise_until,
                "assigned_at": i.entered_on,
            }
        )
    return Answer(200, json.dumps({"user": p.user, "total": len(cases), "cases": cases}))
