"""Campaigns in DynamoDB (``CampaignsTable``, keyed by campaign_id and sk):

- ``CAMPAIGN``: the campaign (its document as JSON), its ``status`` and ``round``, its counters
  (planned, sent, connected, deferred, blocked, and blocked_by rule) and ``live``: the status again,
  on running campaigns only, for the ``live-index`` the daily run reads them by (never a Scan);
- ``JOB#<round>``: a start or resume, written with the status change in one transaction; the table's
  stream hands it to ``CampaignFunction``, which dispatches the campaign's work at once;
- ``LOAN#<loan_id>``: a loan the campaign worked, with what it had paid and promised then (the
  progress's baseline);
- ``DAY#<date>``: contacts the campaign dispatched that business day (its daily cap);
- campaign_id ``#usage``, sk ``DAY#<date>``: contacts dispatched that day per channel, by the daily run
  and every campaign: what is left of a channel's capacity when a campaign starts mid-day.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from ..domain.campaigns import Campaign, from_json
from ..domain.timeutil import iso
from .clients import client

CAMPAIGN = "CAMPAIGN"
USAGE = "#usage"
COUNTERS = ("planned", "sent", "connected", "deferred", "blocked")

_table = {"name": ""}


def bind(table: str) -> None:
    _table["name"] = table


def table() -> str:
    name = _table["name"] or os.environ.get("CAMPAIGNS_TABLE", "")
    if not name:
        raise RuntimeError("the campaigns table is not bound (CAMPAIGNS_TABLE)")
    return name


def _key(cid: str, sk: str) -> dict[str, Any]:
    return {"campaign_id": {"S": cid}, "sk": {"S": sk}}


def item_of(c: Campaign, now: datetime, by: str) -> dict[str, Any]:
    item = {
        **_key(c.campaign_id, CAMPAIGN),
        "document": {"S": json.dumps(c.to_json(), sort_keys=True)},
        "status": {"S": c.status},
        "round": {"N": str(c.round)},
        "created_at": {"S": iso(now)},
        "created_by": {"S": by},
        "blocked_by": {"M": {}},
        "kind": {"S": "campaign"},  # the kind-index: every campaign, without the loans it worked
        **{n: {"N": "0"} for n in COUNTERS},
    }
    return item


def get(cid: str) -> tuple[Campaign, dict[str, Any]] | None:
    """The campaign (with its current status and round) and its raw item (counters), or None."""
    item = client("dynamodb").get_item(TableName=table(), Key=_key(cid, CAMPAIGN), ConsistentRead=True).get("Item")
    if item is None:
        return None
    doc = json.loads(item["document"]["S"])
    doc["status"], doc["round"] = item["status"]["S"], int(item["round"]["N"])
    return from_json(doc), item


def listing() -> list[dict[str, Any]]:
    """Every campaign's item, from the kind-index (never the loans they worked)."""
    out = []
    kwargs: dict[str, Any] = {
        "TableName": table(),
        "IndexName": "kind-index",
        "KeyConditionExpression": "kind = :c",
        "ExpressionAttributeValues": {":c": {"S": "campaign"}},
    }
    while True:
        page = client("dynamodb").query(**kwargs)
        out += page["Items"]
        if "LastEvaluatedKey" not in page:
            return out
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def running() -> list[Campaign]:
    """The running campaigns, from the sparse live-index."""
    ddb = client("dynamodb")
    found = ddb.query(
        TableName=table(),
        IndexName="live-index",
        KeyConditionExpression="live = :r",
        ExpressionAttributeValues={":r": {"S": "running"}},
    )["Items"]
    out = []
    for i in found:
        doc = json.loads(i["document"]["S"])
        doc["status"], doc["round"] = i["status"]["S"], int(i["round"]["N"])
        out.append(from_json(doc))
    return out


def status_change(cid: str, before: str, after: str, round_: int) -> dict[str, Any]:
    """The CAMPAIGN item's status (and round) changed, if it is still ``before`` (TransactWriteItems)."""
    sets = "#s = :a, #r = :n"
    values: dict[str, Any] = {":a": {"S": after}, ":b": {"S": before}, ":n": {"N": str(round_)}}
    update: dict[str, Any] = {
        "TableName": table(),
        "Key": _key(cid, CAMPAIGN),
        "ConditionExpression": "#s = :b",
        "ExpressionAttributeNames": {"#s": "status", "#r": "round", "#l": "live"},
        "ExpressionAttributeValues": values,
    }
    if after == "running":
        update["UpdateExpression"] = f"SET {sets}, #l = :a"
    else:
        update["UpdateExpression"] = f"SET {sets} REMOVE #l"
    return {"Update": update}


def job_put(cid: str, round_: int, command: str, now: datetime) -> dict[str, Any]:
    item = {**_key(cid, f"JOB#{round_:06d}"), "command": {"S": command}, "at": {"S": iso(now)}}
    return {"Put": {"TableName": table(), "Item": item}}


def count(cid: str, counter: str, n: int = 1, rule: str | None = None) -> None:
    """Add ``n`` to a counter of the campaign (and to its rule's, for ``blocked``)."""
    names = {"#c": counter}
    values: dict[str, Any] = {":n": {"N": str(n)}}
    expr = "ADD #c :n"
    if rule:
        names |= {"#b": "blocked_by", "#k": rule[:64]}
        values[":z"] = {"N": "0"}
        expr = "SET #b.#k = if_not_exists(#b.#k, :z) + :n ADD #c :n"
    client("dynamodb").update_item(
        TableName=table(),
        Key=_key(cid, CAMPAIGN),
        UpdateExpression=expr,
        ConditionExpression="attribute_exists(sk)",
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )


def set_matched(cid: str, n: int) -> None:
    """How many loans the campaign's target matched at its latest dispatch."""
    client("dynamodb").update_item(
        TableName=table(),
        Key=_key(cid, CAMPAIGN),
        UpdateExpression="SET matched = :n",
        ConditionExpression="attribute_exists(sk)",
        ExpressionAttributeValues={":n": {"N": str(n)}},
    )


def day_used(cids: Iterable[str], day: str) -> dict[str, int]:
    """Contacts each campaign dispatched that day (its daily cap's use)."""
    keys = [_key(c, f"DAY#{day}") for c in dict.fromkeys(cids)]
    out = {c: 0 for c in dict.fromkeys(cids)}
    for i in range(0, len(keys), 100):
        got = client("dynamodb").batch_get_item(
            RequestItems={table(): {"Keys": keys[i : i + 100], "ConsistentRead": True}}
        )
        for item in got["Responses"].get(table(), []):
            out[item["campaign_id"]["S"]] = int(item.get("used", {}).get("N", "0"))
    return out


def usage(day: str) -> dict[str, int]:
    """Contacts dispatched that day per channel (the daily run's and every campaign's)."""
    item = (
        client("dynamodb").get_item(TableName=table(), Key=_key(USAGE, f"DAY#{day}"), ConsistentRead=True).get("Item")
    )
    return {k: int(v["N"]) for k, v in (item or {}).items() if "N" in v}


def add_usage(day: str, by_channel: Mapping[str, int], by_campaign: Mapping[str, int]) -> None:
    ddb = client("dynamodb")
    if by_channel:
        names = {f"#c{i}": ch for i, ch in enumerate(sorted(by_channel))}
        values = {f":v{i}": {"N": str(by_channel[ch])} for i, ch in enumerate(sorted(by_channel))}
        ddb.update_item(
            TableName=table(),
            Key=_key(USAGE, f"DAY#{day}"),
            UpdateExpression="ADD " + ", ".join(f"#c{i} :v{i}" for i in range(len(names))),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
    for cid, n in by_campaign.items():
        ddb.update_item(
            TableName=table(),
            Key=_key(cid, f"DAY#{day}"),
            UpdateExpression="ADD used :n",
            ExpressionAttributeValues={":n": {"N": str(n)}},
        )
        count(cid, "planned", n)


def remember_members(cid: str, loans: Iterable[tuple[str, Decimal, str | None]], now: datetime) -> None:
    """The loans a campaign worked, each once, with what it had paid and the promise it had then."""
    ddb = client("dynamodb")
    for loan_id, paid_total, promise_id in loans:
        item = {
            **_key(cid, f"LOAN#{loan_id}"),
            "paid_total": {"N": str(paid_total)},
            "since": {"S": iso(now)},
        }
        if promise_id:
            item["promise_id"] = {"S": promise_id}
        with contextlib.suppress(ddb.exceptions.ConditionalCheckFailedException):  # worked before: first baseline stays
            ddb.put_item(TableName=table(), Item=item, ConditionExpression="attribute_not_exists(sk)")


def members(cid: str) -> list[dict[str, Any]]:
    ddb = client("dynamodb")
    out: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": table(),
        "KeyConditionExpression": "campaign_id = :c AND begins_with(sk, :l)",
        "ExpressionAttributeValues": {":c": {"S": cid}, ":l": {"S": "LOAN#"}},
        "ConsistentRead": True,
    }
    while True:
        page = ddb.query(**kwargs)
        out += page["Items"]
        if "LastEvaluatedKey" not in page:
            return out
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
