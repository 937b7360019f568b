"""Payment plans and settlements through the operations API, and the borrower's self-service page.

Operators (``/v1/ops/...``, audited like every operator write):
- an admin sets the limits per product (``PUT /v1/ops/settings/plan-limits/{product}``) and the
  channel costs (``PUT /v1/ops/settings/channel-costs``); everyone signed in reads them;
- an agent, supervisor or admin offers a plan or a settlement on a loan with an open case
  (``POST /v1/ops/loans/{loan_id}/offers``): within the role's limits the offer goes out at once,
  an agent's beyond the agent's limits waits for a supervisor (``.../offers/{offer_id}/approve``),
  beyond a supervisor's it is refused; ``.../withdraw`` takes an offer back before it is accepted.
- An offer that goes out is an action on the borrower's channel (SMS by default): the sender renders
  the ``offer_link`` template with the signed, expiring link and sends it through the compliance
  guard like any contact (quiet hours, caps, opt-outs, holds); it is never sent past the guard.

The borrower (``/pay/{token}``, no sign-in: the link's signature is the credential):
- the page shows nothing about the debt until the visitor gives a fact only the borrower knows (the
  last four characters of the ID number on file, or the birth date a PRC ID number carries), so a
  recycled phone number discloses nothing; MAX_ATTEMPTS wrong answers lock the offer;
- then it shows the offer in the borrower's language and accepts it once: an ``ARR#<offer_id>``
  ledger entry the ledger stream applies (``usecases/arranging.py``).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from ..adapters import api_store, facts_sink, store
from ..adapters.clients import client
from ..adapters.models import CollectionModel, ContactModel, LoanModel
from ..adapters.settings_store import SETTINGS_PK
from ..adapters.webhook_secrets import secrets
from ..domain import access
from ..domain.api import ApiError
from ..domain.arrangements import (
    DEFAULT_LIMITS,
    MAX_ATTEMPTS,
    Arrangement,
    Due,
    LinkError,
    OfferError,
    ProductLimits,
    Terms,
    approval,
    identity_matches,
    open_link,
    sign_link,
    terms_of,
)
from ..domain.delinquency import assess
from ..domain.facts import Fact
from ..domain.importing import CHANNELS
from ..domain.money import minor_units
from ..domain.strategy import PlannedAction
from ..domain.timeutil import iso, parse_instant, zone
from ..observability import logger, metrics
from .operations import Incoming, OpsSettings, Write, _digest, _key, _loan, body_of, write_once
from .recording import fact as loan_fact
from .webhook import Answer

PENDING_PK = "#offers#pending"  # CollectionsTable partition of the offers awaiting approval (sk: loan#offer)
OFFER_CHANNELS = ("sms", "email", "wechat")
MAX_LINK_DAYS = 30
SELF_SERVICE = "borrower/self-service"


def _limits_item(product: str) -> CollectionModel | None:
    try:
        return CollectionModel.get(SETTINGS_PK, f"plan-limits#{product}", consistent_read=True)
    except CollectionModel.DoesNotExist:
        return None


def limits_for(product: str) -> ProductLimits:
    item = _limits_item(product)
    return ProductLimits.parse(json.loads(item.terms)) if item is not None and item.terms else DEFAULT_LIMITS


# ---------------------------------------------------------------------------------- settings


def read_settings() -> Answer:
    limits: dict[str, Any] = {}
    costs: dict[str, Any] = {}
    by_currency: dict[str, Any] = {}
    for item in CollectionModel.query(SETTINGS_PK):
        if item.sk.startswith("plan-limits#") and item.terms:
            limits[item.sk.split("#", 1)[1]] = json.loads(item.terms)
        elif item.sk == "channel-costs" and item.terms:
            costs = json.loads(item.terms)
        elif item.sk.startswith("channel-costs#") and item.terms:
            by_currency[item.sk.split("#", 1)[1]] = json.loads(item.terms)["costs"]
    if costs and costs.get("currency") not in by_currency:  # set before costs were kept per currency
        by_currency[costs["currency"]] = costs.get("costs", {})
    body = {
        "plan_limits": limits,
        "default_plan_limits": DEFAULT_LIMITS.to_json(),
        "channel_costs": costs,  # the last set
        "channel_costs_by_currency": by_currency,
    }
    return Answer(200, json.dumps(body))


def _settings_write(
    p: access.Principal,
    incoming: Incoming,
    sk: str,
    value: dict[str, Any],
    route: str,
    s: OpsSettings,
    now: datetime,
    also: tuple[str, ...] = (),
) -> Answer:
    """The setting written (and the same value under the keys ``also`` names), audited with its
    value before and after."""

    def build() -> Write:
        try:
            before_item = CollectionModel.get(SETTINGS_PK, sk, consistent_read=True)
            before = json.loads(before_item.terms or "null")
        except CollectionModel.DoesNotExist:
            before = None
        item = {
            "loan_id": {"S": SETTINGS_PK},
            "sk": {"S": sk},
            "kind": {"S": "setting"},
            "terms": {"S": json.dumps(value, sort_keys=True)},
            "by": {"S": p.user},
            "entered_on": {"S": iso(now)},
        }
        body = {"setting": sk, "value": value, "by": p.user, "at": iso(now)}
        puts = [api_store.put(s.collections_table, {**item, "sk": {"S": key}}) for key in (sk, *also)]
        return Write(body, puts, value, before, target={"setting": sk})

    return write_once(p, incoming, route, s, now, build)


def put_plan_limits(p: access.Principal, incoming: Incoming, product: str, s: OpsSettings, now: datetime) -> Answer:
    """An admin's limits for one product: ``{"agent": {...}, "supervisor": {...}}`` (see
    ``domain/arrangements.Limits``)."""
    if not product or len(product) > 64 or not product.replace("-", "").replace("_", "").isalnum():
        raise ApiError(400, "product must be 1-64 letters, digits, - or _", "product")
    try:
        limits = ProductLimits.parse(body_of(incoming.body, ("agent", "supervisor")))
    except OfferError as e:
        raise ApiError(400, str(e), e.field) from None
    route = "PUT /v1/ops/settings/plan-limits/{product}"
    return _settings_write(p, incoming, f"plan-limits#{product}", limits.to_json(), route, s, now)


def put_channel_costs(p: access.Principal, incoming: Incoming, s: OpsSettings, now: datetime) -> Answer:
    """An admin's cost of one contact per channel, in the business currency: ``{"currency": "CNY",
    "costs": {"sms": "0.05", ...}}``."""
    row = body_of(incoming.body, ("currency", "costs"))
    currency = row.get("currency")
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
        raise ApiError(400, "currency must be an ISO 4217 code such as CNY", "currency")
    costs = row.get("costs")
    if not isinstance(costs, dict) or not costs:
        raise ApiError(400, f"costs must be an object of channel -> cost ({', '.join(CHANNELS)})", "costs")
    clean: dict[str, str] = {}
    for channel, raw in costs.items():
        if channel not in CHANNELS:
            raise ApiError(400, f"costs: unknown channel {str(channel)[:20]!r} ({', '.join(CHANNELS)})", "costs")
        try:
            v = Decimal(str(raw))
        except ArithmeticError:
            v = Decimal(-1)
        if isinstance(raw, bool) or not v.is_finite() or not Decimal(0) <= v <= Decimal(1000):
            raise ApiError(400, f"costs.{channel} must be an amount from 0 to 1000", f"costs.{channel}")
        clean[channel] = str(v)
    value = {"currency": currency.upper(), "costs": clean}
    route = "PUT /v1/ops/settings/channel-costs"
    return _settings_write(
        p, incoming, "channel-costs", value, route, s, now, also=(f"channel-costs#{currency.upper()}",)
    )


# ------------------------------------------------------------------------------------ offers


def _language(loan: LoanModel) -> str:
    return "zh-CN" if (loan.language or "").lower().startswith("zh") else "en"


def link_base(headers: Mapping[str, str], stage: str | None) -> str:
    """Where the borrower's page is served: this API's own address (its stage on API Gateway's
    domain), or ``PUBLIC_API_URL`` when set (a custom domain)."""
    configured = os.environ.get("PUBLIC_API_URL", "").strip().rstrip("/")
    if configured:
        return configured
    host = str(headers.get("host") or "localhost")
    local = host.startswith(("127.0.0.1", "localhost"))
    proto = str(headers.get("x-forwarded-proto") or ("http" if local else "https"))
    prefix = f"/{stage}" if stage and host.endswith(".amazonaws.com") else ""
    return f"{proto}://{host}{prefix}"


def _offer_item(loan_id: str, offer_id: str) -> CollectionModel:
    try:
        return CollectionModel.get(loan_id, f"OFFER#{offer_id}", consistent_read=True)
    except CollectionModel.DoesNotExist:
        raise ApiError(404, f"no offer {offer_id[:64]!r} on loan {loan_id[:128]!r}") from None


def _today(loan: LoanModel, now: datetime) -> Any:
    return now.astimezone(zone(loan.tz)).date()


def _link_action(loan: LoanModel, offer_id: str, channel: str, by: str, terms: Terms, now: datetime) -> PlannedAction:
    action_id = f"offer-{_digest(offer_id)}"
    return PlannedAction(
        action_id=action_id,
        loan_id=loan.loan_id,
        borrower_id=loan.borrower_id,
        case_id=loan.case_id or "",
        channel=channel,
        template=f"{_language(loan)}/offer_link",
        step=f"offer:{offer_id}",
        bucket=loan.bucket,
        planned_for=_today(loan, now),
        strategy="offer",
        strategy_version=0,
        variant="operator",
        segment="offer",
        why=f"{terms.kind} offered by {by}",
        expected_recovery=terms.total,
    )


def _link_writes(
    s: OpsSettings,
    loan: LoanModel,
    offer_id: str,
    channel: str,
    by: str,
    terms: Terms,
    expires: datetime,
    base: str,
    now: datetime,
) -> tuple[list[dict[str, Any]], PlannedAction]:
    """The offer's action (its message carries the signed link) as a transaction put."""
    token = sign_link(secrets(s.offer_link_secret_id)[0], loan.loan_id, offer_id, int(expires.timestamp()))
    action = _link_action(loan, offer_id, channel, by, terms, now)
    item = store.action_item(action)
    item.link = f"{base}/pay/{token}?lang={_language(loan)}"
    return [api_store.put(s.collections_table, item.serialize(), "attribute_not_exists(sk)")], action


def send_link(s: OpsSettings, action: PlannedAction) -> None:
    """The offer's action onto its channel's queue: the sender sends it through the guard, once."""
    body = {k: getattr(action, k) for k in ("action_id", "loan_id", "case_id", "channel", "template", "borrower_id")}
    client("sqs").send_message(QueueUrl=s.send_queues[str(action.channel)], MessageBody=json.dumps(body))


def make_offer(
    p: access.Principal, incoming: Incoming, loan_id: str, s: OpsSettings, now: datetime, base: str
) -> Answer:
    """Offer a plan or a settlement (see module doc); the answer says whether it went out or waits for
    a supervisor's approval, and why."""
    sent: list[PlannedAction] = []

    def build() -> Write:
        row = body_of(
            incoming.body,
            (
                "kind",
                "basis",
                "installments",
                "first_payment",
                "first_due",
                "every_days",
                "discount_pct",
                "pay_by",
                "channel",
                "link_days",
            ),
        )
        loan = _loan(loan_id)
        if not loan.case_id:
            raise ApiError(409, f"loan {loan_id[:128]!r} has no open case: nothing is owed to arrange")
        if loan.stage == "plan":
            raise ApiError(409, f"loan {loan_id[:128]!r} is under an active arrangement already")
        channel = row.pop("channel", "sms")
        if channel not in OFFER_CHANNELS:
            raise ApiError(400, f"channel must be one of {', '.join(OFFER_CHANNELS)}", "channel")
        link_days = row.pop("link_days", 7)
        if isinstance(link_days, bool) or not isinstance(link_days, int) or not 1 <= link_days <= MAX_LINK_DAYS:
            raise ApiError(400, f"link_days must be a whole number from 1 to {MAX_LINK_DAYS}", "link_days")
        _identity_on_file(loan.borrower_id)
        today = _today(loan, now)
        a = assess(store.unpaid_of(loan), loan.tz, now, 0, _scheme())
        try:
            terms = terms_of(row, a.overdue, a.outstanding, today, minor_units(loan.currency))
            status = approval(terms, limits_for(loan.product), p.role, today)
        except OfferError as e:
            raise ApiError(422 if e.field == "limits" else 400, str(e), e.field) from None
        offer_id = f"of-{_digest(p.user + '|' + _key(incoming))}"
        expires = now + timedelta(days=link_days)
        item = {
            "loan_id": {"S": loan_id},
            "sk": {"S": f"OFFER#{offer_id}"},
            "kind": {"S": "offer"},
            "case_id": {"S": loan.case_id},
            "status": {"S": status},
            "channel": {"S": channel},
            "terms": {"S": json.dumps(terms.to_json())},
            "expires_at": {"S": iso(expires)},
            "entered_on": {"S": iso(now)},
            "by": {"S": p.user},
            "attempts": {"N": "0"},
        }
        writes = [api_store.put(s.collections_table, item, "attribute_not_exists(sk)")]
        if status == "pending_approval":  # the supervisors' list of what waits for them
            pointer = {**item, "loan_id": {"S": PENDING_PK}, "sk": {"S": f"{loan_id}#{offer_id}"}}
            writes.append(api_store.put(s.collections_table, pointer))
        if status == "offered":
            more, action = _link_writes(s, loan, offer_id, channel, p.user, terms, expires, base, now)
            writes += more
            sent.append(action)
        body = {
            "loan_id": loan_id,
            "offer_id": offer_id,
            "status": status,
            "terms": terms.to_json(),
            "currency": loan.currency,
            "channel": channel,
            "expires_at": iso(expires),
            "by": p.user,
        }
        after = {"offer_id": offer_id, "status": status, "terms": terms.to_json(), "channel": channel}
        return Write(body, writes, after, loan=loan)

    answer = write_once(p, incoming, "POST /v1/ops/loans/{loan_id}/offers", s, now, build)
    _send_after(s, answer, loan_id, sent)
    return answer


def _send_after(s: OpsSettings, answer: Answer, loan_id: str, sent: list[PlannedAction]) -> None:
    """Enqueue the link's message once the offer is stored; on a repeated request enqueue it again (a
    crash may have come between the two), which the sender's claim makes harmless."""
    if answer.status != 202:
        return
    if not sent:  # a repeat: the first answer says whether it went out
        body = json.loads(answer.body)
        offer = _offer_item(loan_id, body["offer_id"]) if body.get("status") == "offered" else None
        if offer is None or offer.status != "offered":
            return
        terms = Terms.from_json(json.loads(offer.terms or "{}"))
        sent.append(
            _link_action(_loan(loan_id), body["offer_id"], str(offer.channel), "", terms, _instant(offer.entered_on))
        )
    for action in sent:
        send_link(s, action)


def _instant(text: str | None) -> datetime:
    return parse_instant(str(text))


def approve_offer(
    p: access.Principal, incoming: Incoming, loan_id: str, offer_id: str, s: OpsSettings, now: datetime, base: str
) -> Answer:
    """A supervisor's (or admin's) approval of an agent's offer beyond the agent's limits: it goes out."""
    sent: list[PlannedAction] = []

    def build() -> Write:
        body_of(incoming.body, (), empty_ok=True)
        loan = _loan(loan_id)
        offer = _offer_item(loan_id, offer_id)
        if offer.status != "pending_approval":
            raise ApiError(409, f"offer {offer_id[:64]!r} is {offer.status}: only a pending offer is approved")
        terms = Terms.from_json(json.loads(offer.terms or "{}"))
        try:
            approval(terms, limits_for(loan.product), p.role, _today(loan, now))
        except OfferError as e:
            raise ApiError(422, str(e), e.field) from None
        expires = max(now + timedelta(days=1), _instant(offer.expires_at))
        update = _status_update(
            s, loan_id, offer_id, "pending_approval", "offered", approved_by=p.user, expires_at=iso(expires)
        )
        more, action = _link_writes(s, loan, offer_id, str(offer.channel), str(offer.by), terms, expires, base, now)
        sent.append(action)
        body = {"loan_id": loan_id, "offer_id": offer_id, "status": "offered", "approved_by": p.user}
        writes = [update, *more, _unlist(s, loan_id, offer_id)]
        return Write(body, writes, {"status": "offered"}, {"status": "pending_approval"}, loan=loan)

    answer = write_once(p, incoming, "POST /v1/ops/loans/{loan_id}/offers/{offer_id}/approve", s, now, build)
    _send_after(s, answer, loan_id, sent)
    return answer


def withdraw_offer(
    p: access.Principal, incoming: Incoming, loan_id: str, offer_id: str, s: OpsSettings, now: datetime
) -> Answer:
    """Take back an offer not yet accepted: its link no longer works."""

    def build() -> Write:
        body_of(incoming.body, (), empty_ok=True)
        loan = _loan(loan_id)
        offer = _offer_item(loan_id, offer_id)
        if offer.status not in ("pending_approval", "offered"):
            raise ApiError(409, f"offer {offer_id[:64]!r} is {offer.status}: it cannot be withdrawn")
        writes = [_status_update(s, loan_id, offer_id, str(offer.status), "withdrawn")]
        if offer.status == "pending_approval":
            writes.append(_unlist(s, loan_id, offer_id))
        body = {"loan_id": loan_id, "offer_id": offer_id, "status": "withdrawn", "by": p.user}
        return Write(body, writes, {"status": "withdrawn"}, {"status": offer.status}, loan=loan)

    return write_once(p, incoming, "POST /v1/ops/loans/{loan_id}/offers/{offer_id}/withdraw", s, now, build)


def _unlist(s: OpsSettings, loan_id: str, offer_id: str) -> dict[str, Any]:
    key = {"loan_id": {"S": PENDING_PK}, "sk": {"S": f"{loan_id}#{offer_id}"}}
    return {"Delete": {"TableName": s.collections_table, "Key": key}}


def pending() -> Answer:
    """The offers awaiting a supervisor's approval, oldest first (for supervisors and admins)."""
    out = []
    for i in CollectionModel.query(PENDING_PK):
        loan_id, offer_id = i.sk.rsplit("#", 1)
        terms = json.loads(i.terms or "{}")
        out.append(
            {
                "loan_id": loan_id,
                "offer_id": offer_id,
                "kind": terms.get("kind"),
                "schedule": terms.get("schedule"),
                "forgiven": terms.get("forgiven"),
                "by": i.by,
                "at": i.entered_on,
            }
        )
    out.sort(key=lambda o: str(o["at"]))
    return Answer(200, json.dumps({"offers": out}))


def _status_update(s: OpsSettings, loan_id: str, offer_id: str, frm: str, to: str, **more: str) -> dict[str, Any]:
    """An offer's move from one status to another (a TransactWriteItems update, conditional on ``frm``),
    with ``more`` attributes set."""
    sets = ", ".join(["#s = :t", *(f"{k} = :{k}" for k in more)])
    return {
        "Update": {
            "TableName": s.collections_table,
            "Key": {"loan_id": {"S": loan_id}, "sk": {"S": f"OFFER#{offer_id}"}},
            "UpdateExpression": f"SET {sets}",
            "ConditionExpression": "#s = :f",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {
                ":t": {"S": to},
                ":f": {"S": frm},
                **{f":{k}": {"S": v} for k, v in more.items()},
            },
        }
    }


def _identity_on_file(borrower_id: str) -> ContactModel:
    try:
        c = ContactModel.get(borrower_id, consistent_read=True)
    except ContactModel.DoesNotExist:
        c = None
    if c is None or not c.id_number:
        raise ApiError(
            409, "the borrower has no ID number on file: the self-service page could not check who opens the link"
        )
    return c


def _scheme() -> Any:
    from ..domain.buckets import DEFAULT_SPEC, BucketScheme

    return BucketScheme.parse(os.environ.get("BUCKETS", DEFAULT_SPEC))


# ------------------------------------------------------------------------- the borrower's page


def _opened(token: str, s: OpsSettings, now: datetime) -> tuple[LoanModel, CollectionModel]:
    """The loan and offer a valid link names, still open to the borrower; else the page's error."""
    try:
        loan_id, offer_id, _exp = open_link(token, secrets(s.offer_link_secret_id, stale_ok=True), int(now.timestamp()))
    except LinkError as e:
        if "expired" in str(e):
            raise ApiError(410, str(e)) from None
        raise ApiError(404, str(e)) from None
    try:
        offer = CollectionModel.get(loan_id, f"OFFER#{offer_id}", consistent_read=True)
        loan = LoanModel.get(loan_id, consistent_read=True)
    except (CollectionModel.DoesNotExist, LoanModel.DoesNotExist):
        raise ApiError(404, "this link is not valid") from None
    if offer.status == "locked":
        raise ApiError(423, "this link is locked after too many wrong answers: contact us")
    if offer.status in ("withdrawn", "pending_approval"):
        raise ApiError(410, "this offer is no longer available: contact us")
    if now >= _instant(offer.expires_at):
        raise ApiError(410, "this link has expired")
    return loan, offer


def _checked(loan: LoanModel, offer: CollectionModel, answer: object, s: OpsSettings, now: datetime) -> None:
    """The visitor's answer against the borrower's: a wrong one counts (the offer locks at
    MAX_ATTEMPTS); nothing about the debt is said either way."""
    try:
        id_number = ContactModel.get(loan.borrower_id, consistent_read=True).id_number
    except ContactModel.DoesNotExist:
        id_number = None
    if isinstance(answer, str) and len(answer) <= 20 and identity_matches(answer, id_number):
        return
    ddb = client("dynamodb")
    key = {"loan_id": {"S": loan.loan_id}, "sk": {"S": offer.sk}}
    got = ddb.update_item(
        TableName=s.collections_table,
        Key=key,
        UpdateExpression="ADD attempts :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
        ReturnValues="UPDATED_NEW",
    )
    tries = int(got["Attributes"]["attempts"]["N"])
    _identity_failed_fact(loan, offer, tries, s, now)
    metrics.add_metric(name="OfferIdentityFailed", unit="Count", value=1)
    logger.warning("self-service identity check failed", extra={"loan_id": loan.loan_id, "attempts": tries})
    if tries >= MAX_ATTEMPTS:
        with contextlib.suppress(ddb.exceptions.ConditionalCheckFailedException):
            ddb.update_item(
                TableName=s.collections_table,
                Key=key,
                UpdateExpression="SET #s = :l",
                ConditionExpression="#s = :o",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":l": {"S": "locked"}, ":o": {"S": "offered"}},
            )
        raise ApiError(423, "this link is locked after too many wrong answers: contact us")
    raise ApiError(403, f"that does not match our records: {MAX_ATTEMPTS - tries} tries left", "answer")


def _borrower_fact(
    kind: str, loan: LoanModel, offer_id: str, reason: str, key: str, s: OpsSettings, now: datetime
) -> Fact:
    """What the borrower did on the self-service page, about an offer on a loan."""
    return loan_fact(s, kind, now, loan, SELF_SERVICE, case_id=loan.case_id, action_id=offer_id, reason=reason, key=key)


def _identity_failed_fact(loan: LoanModel, offer: CollectionModel, tries: int, s: OpsSettings, now: datetime) -> None:
    """A wrong answer is a fact (``offer_identity_failed``, reason: the attempt; at MAX_ATTEMPTS the
    offer locks), written as the API's other facts are: with an idempotency item its stream carries."""
    offer_id = offer.sk.split("#", 1)[1]
    key = f"offer#{offer_id}#failed#{tries}"
    reason = f"attempt {tries} of {MAX_ATTEMPTS}" + ("; locked" if tries >= MAX_ATTEMPTS else "")
    fact = _borrower_fact("offer_identity_failed", loan, offer_id, reason, key, s, now)
    api_store.answer_once("", "POST /pay/{token}", 403, "{}", iso(now), [], facts_sink.lines([fact]), key=key)


def _shown(loan: LoanModel, offer: CollectionModel) -> dict[str, Any]:
    terms = json.loads(offer.terms or "{}")
    return {
        "offer_id": offer.sk.split("#", 1)[1],
        "status": offer.status,
        "language": _language(loan),
        "currency": loan.currency,
        "kind": terms.get("kind"),
        "basis": terms.get("basis"),
        "owed": terms.get("owed"),
        "forgiven": terms.get("forgiven"),
        "schedule": [{"due_on": d, "amount": a} for d, a in terms.get("schedule", [])],
        "expires_at": offer.expires_at,
    }


def verify(token: str, incoming: Incoming, s: OpsSettings, now: datetime) -> Answer:
    """The offer, once the visitor has answered the identity question."""
    loan, offer = _opened(token, s, now)
    _checked(loan, offer, body_of(incoming.body, ("answer",)).get("answer"), s, now)
    if offer.status == "accepted":
        return Answer(200, json.dumps({**_shown(loan, offer), "accepted": True}))
    return Answer(200, json.dumps(_shown(loan, offer)))


def accept(token: str, incoming: Incoming, s: OpsSettings, now: datetime) -> Answer:
    """Accept the offer (once): the arrangement's ledger entry and the offer's status, together."""
    loan, offer = _opened(token, s, now)
    _checked(loan, offer, body_of(incoming.body, ("answer",)).get("answer"), s, now)
    offer_id = offer.sk.split("#", 1)[1]
    key = f"offer#{offer_id}#accepted"
    first = api_store.stored_answer(key)
    if first is not None:
        return Answer(first.status, first.body)
    if offer.status != "offered":
        raise ApiError(409, f"this offer is {offer.status}")
    if not loan.case_id:
        raise ApiError(409, "nothing is owed on this loan now: the offer is not needed")
    if loan.stage == "plan":
        raise ApiError(409, "another arrangement is active on this loan")
    today = _today(loan, now)
    try:
        terms = Terms.from_json(json.loads(offer.terms or "{}")).accepted_on(today)
    except OfferError as e:
        raise ApiError(410, f"this offer has lapsed: {e}") from None
    if terms.kind == "plan" and loan.outstanding < terms.total:
        raise ApiError(409, "the loan changed since the offer (less is owed now): ask us for a new offer")
    regular = (
        tuple(Due(u.due_date, u.remaining) for u in store.unpaid_of(loan) if u.due_date >= today)
        if terms.basis == "overdue"
        else ()
    )
    arr = Arrangement(offer_id, terms, today, loan.paid_total or Decimal(0), regular)
    entry = {
        "loan_id": {"S": loan.loan_id},
        "entry": {"S": f"ARR#{offer_id}"},
        "arrangement": {"S": arr.to_json()},
        "source": {"S": SELF_SERVICE},
        "run_at": {"S": iso(now)},
    }
    schedule = [{"due_on": d.due_on.isoformat(), "amount": str(d.amount)} for d in terms.schedule]
    body = json.dumps({**_shown(loan, offer), "schedule": schedule, "status": "accepted", "accepted": True})
    fact = _borrower_fact("offer_accepted", loan, offer_id, terms.kind, key, s, now)
    writes = [
        _status_update(s, loan.loan_id, offer_id, "offered", "accepted"),
        api_store.put(s.ledger_table, entry, "attribute_not_exists(entry)"),
    ]
    try:
        stored = api_store.answer_once(
            "", "POST /pay/{token}/accept", 200, body, iso(now), writes, facts_sink.lines([fact]), key=key
        )
    except api_store.Refused:
        raise ApiError(409, "this offer changed meanwhile: reload the page") from None
    if stored is not None:
        return Answer(stored.status, stored.body)
    metrics.add_metric(name="OffersAccepted", unit="Count", value=1)
    logger.info("offer accepted", extra={"loan_id": loan.loan_id, "offer_id": offer_id})
    return Answer(200, body)


def offers_of(loan_id: str) -> list[dict[str, Any]]:
    """A loan's offers for the case view (newest first)."""
    out = []
    for i in CollectionModel.query(loan_id, CollectionModel.sk.startswith("OFFER#")):
        out.append(
            {
                "offer_id": i.sk.split("#", 1)[1],
                "status": i.status,
                "channel": i.channel,
                "terms": json.loads(i.terms or "{}"),
                "expires_at": i.expires_at,
                "by": i.by,
                "approved_by": i.approved_by,
                "at": i.entered_on,
            }
        )
    return sorted(out, key=lambda o: str(o["at"]), reverse=True)


def serve_public(incoming: Incoming, max_body_bytes: int, route: Any) -> Answer:
    """The borrower's routes: size, then the route; every outcome an answer (never a traceback), one
    log line with the status only (never the token or the answer)."""
    from .operations import _RETRY, _error
    from .webhook import AWS_ERRORS, RETRY_AFTER_SECONDS

    try:
        if len(incoming.body) > max_body_bytes:
            raise ApiError(413, f"the body is {len(incoming.body)} bytes; at most {max_body_bytes}")
        answer: Answer = route()
    except ApiError as e:
        answer = _error(e)
    except AWS_ERRORS:
        logger.exception("self-service request not served: an AWS dependency failed")
        answer = _error(ApiError(503, f"please try again in {RETRY_AFTER_SECONDS} seconds", headers=_RETRY))
    logger.info("self-service answered", extra={"status": answer.status})
    return answer
