"""The API's writes for routes keyed by ``webhook-id``: the message's first answer (with its facts)
and its items in one DynamoDB transaction (all or nothing), and that answer read back for a repeated
message."""

from __future__ import annotations

from typing import Any, NamedTuple

from .clients import client
from .models import BorrowerModel, IdempotencyModel, LedgerModel

MAX_ITEMS = 100  # DynamoDB's limit of one transaction


def webhook_key(webhook_id: str) -> str:
    return f"webhook#{webhook_id}"


class Stored(NamedTuple):
    """A message's first answer; for a ``webhook#`` key, the route that answered it (its facts are in
    the item too: ApiFactsFunction writes them from the table's stream)."""

    status: int
    body: str
    source: str | None = None


def stored_answer(key: str) -> Stored | None:
    """The first answer stored under an idempotency key (``webhook#``, ``payment#``, ``reversal#``), if
    the API gave one."""
    item = (
        client("dynamodb")
        .get_item(TableName=IdempotencyModel.Meta.table_name, Key={"key": {"S": key}}, ConsistentRead=True)
        .get("Item")
    )
    if item is None or "status" not in item or "response" not in item:
        return None
    return Stored(
        int(item["status"]["N"]),
        item["response"]["S"],
        item.get("source", {}).get("S"),
    )


def first_answer(webhook_id: str) -> Stored | None:
    """The stored answer of a message already answered."""
    return stored_answer(webhook_key(webhook_id))


def answer_once(
    webhook_id: str,
    route: str,
    status: int,
    body: str,
    recorded_at: str,
    writes: list[dict[str, Any]],
    facts: str | None = None,
    key: str | None = None,
) -> Stored | None:
    """Write ``writes`` (TransactWriteItems entries) and the message's answer (and facts) together,
    unless the message was answered before: then nothing is written and its first answer is returned.
    A write's own condition failing raises ``Refused`` with that entry's index. ``key``: the
    idempotency key when not the webhook-id's (an operator's ``ops#`` key)."""
    key = key or webhook_key(webhook_id)
    record = {
        "key": {"S": key},
        "source": {"S": route},
        "recorded_at": {"S": recorded_at},
        "status": {"N": str(status)},
        "response": {"S": body},
    }
    if facts:
        record["facts"] = {"S": facts}
    items = [
        {
            "Put": {
                "TableName": IdempotencyModel.Meta.table_name,
                "Item": record,
                "ConditionExpression": "attribute_not_exists(#k)",
                "ExpressionAttributeNames": {"#k": "key"},
            }
        },
        *writes,
    ]
    if len(items) > MAX_ITEMS:
        raise ValueError(f"{len(items)} items: one transaction takes {MAX_ITEMS}")
    ddb = client("dynamodb")
    try:
        ddb.transact_write_items(TransactItems=items)
        return None
    except ddb.exceptions.TransactionCanceledException as e:
        codes = [r.get("Code") for r in e.response.get("CancellationReasons", [])]
        if codes and codes[0] == "ConditionalCheckFailed":
            stored = stored_answer(key)
            if stored is not None:
                return stored
        failed = [i - 1 for i, c in enumerate(codes) if i and c == "ConditionalCheckFailed"]
        if failed:
            raise Refused(failed[0]) from None
        raise


class Refused(Exception):
    """A write's condition did not hold (e.g. the loan it updates does not exist)."""

    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.index = index


def put(table: str, item: dict[str, Any], condition: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"TableName": table, "Item": item}
    if condition:
        entry["ConditionExpression"] = condition
    return {"Put": entry}


def set_change(
    table: str,
    key: dict[str, Any],
    attribute: str,
    verb: str,
    value: str,
    must_exist: str,
    also: dict[str, str] | None = None,
) -> dict[str, Any]:
    """ADD or DELETE one word of a string set, on an item that must exist (``also``: string attributes
    set with it)."""
    names = {"#a": attribute}
    values: dict[str, Any] = {":v": {"SS": [value]}}
    sets = []
    for n, (name, text) in enumerate(sorted((also or {}).items())):
        names[f"#s{n}"], values[f":s{n}"] = name, {"S": text}
        sets.append(f"#s{n} = :s{n}")
    return {
        "Update": {
            "TableName": table,
            "Key": key,
            "UpdateExpression": f"{verb} #a :v" + (f" SET {', '.join(sets)}" if sets else ""),
            "ConditionExpression": f"attribute_exists({must_exist})",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
    }


def delete(table: str, key: dict[str, Any]) -> dict[str, Any]:
    return {"Delete": {"TableName": table, "Key": key}}


def ledger_table() -> str:
    return str(LedgerModel.Meta.table_name)


def borrowers_table() -> str:
    return str(BorrowerModel.Meta.table_name)
