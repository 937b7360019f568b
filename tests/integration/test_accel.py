"""The local runner's Query acceleration gives exactly what unpatched moto gives."""

from __future__ import annotations

import copy
import json
import os
import random
from typing import Any

import boto3
import pytest
from moto import mock_aws

from arrears_local import accel

pytestmark = pytest.mark.integration


def _queries(ddb) -> list[dict]:
    out = []
    for kw in (
        {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "p3"}}},
        {
            "KeyConditionExpression": "pk = :p AND begins_with(sk, :s)",
            "ExpressionAttributeValues": {":p": {"S": "p7"}, ":s": {"S": "ACT#"}},
        },
        {
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": {":p": {"S": "p5"}},
            "ScanIndexForward": False,
            "Limit": 3,
        },
        {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "nothing"}}},
        {
            "IndexName": "gsi",
            "KeyConditionExpression": "shard = :s AND due <= :d",
            "ExpressionAttributeValues": {":s": {"S": "s1"}, ":d": {"S": "2026-03-15"}},
        },
        {
            "IndexName": "gsi",
            "KeyConditionExpression": "shard = :s",
            "ExpressionAttributeValues": {":s": {"S": "s2"}},
            "Limit": 7,
        },
        {
            "KeyConditionExpression": "pk = :p",
            "FilterExpression": "v > :v",
            "ExpressionAttributeValues": {":p": {"S": "p1"}, ":v": {"N": "50"}},
        },
        {  # paged backwards: every page after the first takes the remembered order
            "IndexName": "gsi",
            "KeyConditionExpression": "shard = :s AND due >= :d",
            "ExpressionAttributeValues": {":s": {"S": "s0"}, ":d": {"S": "2026-03-10"}},
            "ScanIndexForward": False,
            "Limit": 9,
        },
        {  # an INCLUDE projection, as the loans' due index has (sets left out: their order is arbitrary)
            "IndexName": "included",
            "KeyConditionExpression": "shard = :s AND due <= :d",
            "ExpressionAttributeValues": {":s": {"S": "s2"}, ":d": {"S": "2026-03-20"}},
        },
        {  # a KEYS_ONLY projection
            "IndexName": "keys",
            "KeyConditionExpression": "due = :d",
            "ExpressionAttributeValues": {":d": {"S": "2026-03-20"}},
        },
    ):
        pages, start = [], None
        while True:
            resp = ddb.query(TableName="t", **kw, **({"ExclusiveStartKey": start} if start else {}))
            pages.append({k: resp.get(k) for k in ("Items", "Count", "ScannedCount", "LastEvaluatedKey")})
            start = resp.get("LastEvaluatedKey")
            if not start or "Limit" not in kw:
                break
        out.append(pages)
    for index in ("included", "keys"):  # index scans project too
        out.append(
            [sorted(ddb.scan(TableName="t", IndexName=index)["Items"], key=lambda i: (i["pk"]["S"], i["sk"]["S"]))]
        )
    # writes between index queries: puts, in-place updates of index keys, deletes
    gsi = {"IndexName": "gsi", "KeyConditionExpression": "shard = :s", "ExpressionAttributeValues": {":s": {"S": "s1"}}}
    out.append([ddb.query(TableName="t", **gsi)["Items"]])  # index groups built now
    moved = out[5][0]["Items"][0]  # an item of shard s2: an update moves it into s1
    ddb.update_item(
        TableName="t",
        Key={"pk": moved["pk"], "sk": moved["sk"]},
        UpdateExpression="SET #s = :x",
        ExpressionAttributeNames={"#s": "shard"},
        ExpressionAttributeValues={":x": {"S": "s1"}},
    )
    out.append([ddb.query(TableName="t", **gsi)["Items"]])
    for i, item in enumerate(out[0][0]["Items"][:4]):  # one expression, remembered, on several items
        ddb.update_item(
            TableName="t",
            Key={"pk": item["pk"], "sk": item["sk"]},
            UpdateExpression="SET #v = :v, n = if_not_exists(n, :z) + :one REMOVE e",
            ExpressionAttributeNames={"#v": "v"},
            ExpressionAttributeValues={":v": {"N": str(i)}, ":z": {"N": "0"}, ":one": {"N": "1"}},
        )
    try:  # refused each time, the same way
        ddb.update_item(TableName="t", Key={"pk": moved["pk"], "sk": moved["sk"]}, UpdateExpression="SET = :x")
    except ddb.exceptions.ClientError as e:
        out.append([e.response["Error"]])
    out.append(
        [
            ddb.query(
                TableName="t",
                KeyConditionExpression="pk = :p",
                ExpressionAttributeValues={":p": out[0][0]["Items"][0]["pk"]},
            )["Items"]
        ]
    )
    ddb.put_item(
        TableName="t", Item={"pk": {"S": "new"}, "sk": {"S": "x"}, "shard": {"S": "s1"}, "due": {"S": "2026-03-01"}}
    )
    out.append([ddb.query(TableName="t", **gsi)["Items"]])
    ddb.delete_item(TableName="t", Key={"pk": {"S": "new"}, "sk": {"S": "x"}})
    ddb.batch_write_item(
        RequestItems={
            "t": [
                {
                    "PutRequest": {
                        "Item": {"pk": {"S": "b"}, "sk": {"S": "y"}, "shard": {"S": "s1"}, "due": {"S": "2026-03-02"}}
                    }
                }
            ]
        }
    )
    out.append([ddb.query(TableName="t", **gsi)["Items"]])
    try:  # the 400 KB item limit holds as it does unpatched
        ddb.put_item(
            TableName="t",
            Item={"pk": {"S": "big"}, "sk": {"S": "x"}, "a": {"S": "x" * 300_000}, "b": {"S": "y" * 110_000}},
        )
        out.append(["stored"])
    except ddb.exceptions.ClientError as e:
        out.append([e.response["Error"]])
    for i in range(12):  # a query past the 1 MB page size: moto pages by its measure of each item
        ddb.put_item(TableName="t", Item={"pk": {"S": "heavy"}, "sk": {"S": f"x{i:02d}"}, "a": {"S": "x" * 100_000}})
    heavy = ddb.query(TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "heavy"}})
    out.append([heavy["Count"], heavy.get("LastEvaluatedKey")])
    first = out[0][0]["Items"][0]
    out.append([ddb.get_item(TableName="t", Key={"pk": first["pk"], "sk": first["sk"]})["Item"]])
    keys = [{"pk": i["pk"], "sk": i["sk"]} for i in out[0][0]["Items"][:5]]
    batch = ddb.batch_get_item(RequestItems={"t": {"Keys": keys}})["Responses"]["t"]
    out.append(sorted(batch, key=lambda i: i["sk"]["S"]))
    return out


def _table(ddb) -> None:
    ddb.create_table(
        TableName="t",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "shard", "due")],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "gsi",
                "Projection": {"ProjectionType": "ALL"},
                "KeySchema": [
                    {"AttributeName": "shard", "KeyType": "HASH"},
                    {"AttributeName": "due", "KeyType": "RANGE"},
                ],
            },
            {
                "IndexName": "included",
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["v", "m", "t", "e", "absent"]},
                "KeySchema": [
                    {"AttributeName": "shard", "KeyType": "HASH"},
                    {"AttributeName": "due", "KeyType": "RANGE"},
                ],
            },
            {
                "IndexName": "keys",
                "Projection": {"ProjectionType": "KEYS_ONLY"},
                "KeySchema": [{"AttributeName": "due", "KeyType": "HASH"}],
            },
        ],
    )
    rng = random.Random(3)
    for i in range(600):
        item = {
            "pk": {"S": f"p{i % 10}"},
            "sk": {"S": rng.choice(["ACT#", "BH#", "CASE#"]) + f"{i:04d}"},
            "v": {"N": str(rng.randint(0, 100))},
            "e": {"S": ""},
            "t": {"BOOL": rng.random() < 0.5},
            "z": {"NULL": True},
            "ss": {"SS": ["a", f"b{i}"]},
            "ns": {"NS": ["1", "2.50"]},
            "m": {"M": {"x": {"N": "1"}, "l": {"L": [{"S": "y"}, {"M": {"q": {"BOOL": False}}}]}}},
        }
        if rng.random() < 0.7:
            item["shard"] = {"S": f"s{rng.randint(0, 3)}"}
            item["due"] = {"S": f"2026-03-{rng.randint(1, 28):02d}"}
        ddb.put_item(TableName="t", Item=item)


def _unpatched_then_patched(run: Any) -> list[Any]:
    """``run`` on the test table in a fresh emulator, first with moto as it is, then accelerated."""
    results = []
    for patched in (False, True):
        (accel.install if patched else accel.uninstall)()
        with mock_aws():
            ddb = boto3.client("dynamodb", region_name="us-east-1")
            _table(ddb)
            results.append(run(ddb))
    accel.install()
    return results


def test_accelerated_query_and_serialisation_match_unpatched_moto():
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    results = _unpatched_then_patched(_queries)
    assert results[0] == results[1]
    assert any(p[0]["Count"] for p in results[0])
    assert results[0][-3][0] < 12 and results[0][-3][1]  # the heavy query was paged by size


def test_dynamodb_requests_parse_as_moto_parses_them():
    """The JSON fast path gives moto's own parse for every request shape arrears sends (conditions,
    expressions, batches, transactions, pagination keys, sets, maps, nulls), and a body holding a
    binary attribute takes moto's parser."""
    from moto.dynamodb.responses import DynamoHandler

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    accel.install()
    fast = DynamoHandler.parse_parameters
    seen: list[tuple[str, object, object]] = []

    def both(self, request):
        fast(self, request)
        mine = copy.deepcopy(self.params)  # moto keeps parts of the request in the table, and changes them later
        DynamoHandler._arrears_original_parse(self, request)
        seen.append((self._get_action(), mine, copy.deepcopy(self.params)))

    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        _table(ddb)
        DynamoHandler.parse_parameters = both
        try:
            ddb.put_item(
                TableName="t",
                Item={"pk": {"S": "p1"}, "sk": {"S": "x"}, "b": {"B": b"\x00\xff"}, "bs": {"BS": [b"a"]}},
            )
            ddb.put_item(
                TableName="t",
                Item={"pk": {"S": "p1"}, "sk": {"S": "y"}, "n": {"NULL": True}, "l": {"L": [{"N": "1.50"}]}},
                ConditionExpression="attribute_not_exists(sk)",
            )
            ddb.update_item(
                TableName="t",
                Key={"pk": {"S": "p1"}, "sk": {"S": "y"}},
                UpdateExpression="SET #s = :s, v = if_not_exists(v, :z) + :one REMOVE n",
                ConditionExpression="#s <> :s OR attribute_not_exists(#s)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":s": {"S": "sent"}, ":z": {"N": "0"}, ":one": {"N": "1"}},
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            ddb.batch_write_item(
                RequestItems={
                    "t": [
                        {"PutRequest": {"Item": {"pk": {"S": "p2"}, "sk": {"S": "a"}, "ss": {"SS": ["x", "y"]}}}},
                        {"DeleteRequest": {"Key": {"pk": {"S": "p1"}, "sk": {"S": "x"}}}},
                    ]
                }
            )
            ddb.batch_get_item(
                RequestItems={
                    "t": {
                        "Keys": [{"pk": {"S": "p2"}, "sk": {"S": "a"}}],
                        "ConsistentRead": True,
                        "ProjectionExpression": "pk, #m",
                        "ExpressionAttributeNames": {"#m": "m"},
                    }
                }
            )
            ddb.get_item(TableName="t", Key={"pk": {"S": "p2"}, "sk": {"S": "a"}}, ConsistentRead=True)
            ddb.query(
                TableName="t",
                IndexName="gsi",
                KeyConditionExpression="shard = :s AND due <= :d",
                ExpressionAttributeValues={":s": {"S": "s1"}, ":d": {"S": "2026-03-15"}},
                Limit=2,
                ExclusiveStartKey={"pk": {"S": "p3"}, "sk": {"S": "ACT#1"}, "shard": {"S": "s1"}, "due": {"S": "x"}},
            )
            ddb.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": "t",
                            "Item": {"pk": {"S": "p9"}, "sk": {"S": "t"}, "bool": {"BOOL": True}},
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": "t",
                            "Key": {"pk": {"S": "p2"}, "sk": {"S": "a"}},
                            "UpdateExpression": "ADD ss :x",
                            "ExpressionAttributeValues": {":x": {"SS": ["z"]}},
                        }
                    },
                ]
            )
            ddb.scan(TableName="t", ProjectionExpression="pk", Limit=5)
        finally:
            DynamoHandler.parse_parameters = fast
    assert {op for op, _, _ in seen} >= {
        "PutItem",
        "UpdateItem",
        "BatchWriteItem",
        "BatchGetItem",
        "GetItem",
        "Query",
        "TransactWriteItems",
        "Scan",
    }
    for op, mine, moto in seen:
        assert mine == moto, op


def _transactions(ddb, streams) -> list:
    """Transactions that succeed and fail in each way moto rolls back, on a table with a range key and a
    stream and one without: what each answers, then every item and every stream record."""
    ddb.create_table(
        TableName="h",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
    )
    ddb.put_item(TableName="h", Item={"k": {"S": "one"}, "n": {"N": "1"}})
    first = {"pk": {"S": "p1"}, "sk": {"S": "known"}}
    ddb.put_item(TableName="t", Item={**first, "v": {"N": "1"}, "m": {"M": {"x": {"N": "1"}}}})
    ddb.put_item(TableName="t", Item={"pk": {"S": "p2"}, "sk": {"S": "gone"}})
    ddb.update_table(TableName="t", StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})

    def put(table, item, condition=None):
        op = {"TableName": table, "Item": item}
        return {"Put": {**op, **({"ConditionExpression": condition} if condition else {})}}

    update = {
        "Update": {
            "TableName": "t",
            "Key": first,
            "UpdateExpression": "SET v = :v, m.x = :v",  # in place, in moto
            "ExpressionAttributeValues": {":v": {"N": "7"}},
        }
    }
    cases = [
        [put("t", {"pk": {"S": "new"}, "sk": {"S": "a"}}), update, put("h", {"k": {"S": "two"}})],  # succeeds
        [  # a later item's condition fails after earlier writes (a new partition, an update, a delete)
            put("t", {"pk": {"S": "fresh"}, "sk": {"S": "a"}}),
            {"Update": {**update["Update"], "ExpressionAttributeValues": {":v": {"N": "9"}}}},
            {"Delete": {"TableName": "t", "Key": {"pk": {"S": "p2"}, "sk": {"S": "gone"}}}},
            put("h", {"k": {"S": "one"}}, "attribute_not_exists(k)"),
        ],
        [  # a ConditionCheck failing, after puts into an existing partition and a hash-only table
            put("t", {"pk": {"S": "p3"}, "sk": {"S": "zz"}}),
            put("h", {"k": {"S": "three"}}),
            put("h", {"k": {"S": "one"}, "n": {"N": "5"}}),
            {"ConditionCheck": {"TableName": "t", "Key": first, "ConditionExpression": "attribute_not_exists(pk)"}},
        ],
        [
            put("t", {"pk": {"S": "dup"}, "sk": {"S": "a"}}),
            put("t", {"pk": {"S": "dup"}, "sk": {"S": "a"}}),
        ],  # one item twice
        [  # an update moto cannot apply, after a put
            put("t", {"pk": {"S": "late"}, "sk": {"S": "a"}}),
            {
                "Update": {
                    **update["Update"],
                    "UpdateExpression": "SET v = v + :v",
                    "ExpressionAttributeValues": {":v": {"S": "x"}},
                }
            },
        ],
        [{"Delete": {"TableName": "t", "Key": first}}, put("h", {"k": {"S": "four"}})],  # succeeds
        [  # a name the condition does not use is refused (the request layer's parse finds the names)
            {
                "Put": {
                    **put("h", {"k": {"S": "five"}})["Put"],
                    "ConditionExpression": "attribute_not_exists(#k)",
                    "ExpressionAttributeNames": {"#k": "k", "#unused": "n"},
                }
            }
        ],
        [  # the same names, all used, twice: the second from the remembered parse
            {
                "Put": {
                    **put("h", {"k": {"S": k}})["Put"],
                    "ConditionExpression": "attribute_not_exists(#k) OR #n < :n",
                    "ExpressionAttributeNames": {"#k": "k", "#n": "n"},
                    "ExpressionAttributeValues": {":n": {"N": "3"}},
                }
            }
            for k in ("five", "one")
        ],
    ]
    out: list = []
    for items in cases:
        try:
            ddb.transact_write_items(TransactItems=items)
            out.append("ok")
        except ddb.exceptions.ClientError as e:
            out.append((e.response["Error"], e.response.get("CancellationReasons")))
    for table in ("t", "h"):
        items = ddb.scan(TableName=table)["Items"]
        out.append(sorted(items, key=lambda i: json.dumps(i, sort_keys=True)))
    arn = ddb.describe_table(TableName="t")["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = streams.get_records(ShardIterator=it, Limit=1000)["Records"]
    out.append(
        [
            (r["eventName"], r["dynamodb"].get("Keys"), r["dynamodb"].get("OldImage"), r["dynamodb"].get("NewImage"))
            for r in records
        ]
    )
    return out


def test_transactions_roll_back_as_unpatched_moto_does(monkeypatch):
    """A transaction that fails leaves every item and the stream as they were, exactly as moto's own
    rollback (restoring whole-table copies) leaves them; one that succeeds writes the same."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    results = _unpatched_then_patched(
        lambda ddb: _transactions(ddb, boto3.client("dynamodbstreams", region_name="us-east-1"))
    )
    assert results[0] == results[1]
    answers = results[0][:8]
    assert answers[0] == answers[5] == answers[7] == "ok" and all(a != "ok" for a in answers[1:5] + [answers[6]])
    assert "unused" in answers[6][0]["Message"]
    assert [r[0] for r in results[0][-1]] == ["INSERT", "MODIFY", "REMOVE"]  # the two that succeeded


def test_the_servers_list_of_moto_modules_is_remembered_as_it_is():
    from moto import backends

    accel.install()
    assert list(backends.list_of_moto_modules()) == list(backends._arrears_original_modules())
    assert "dynamodb" in backends.list_of_moto_modules()


def test_remembered_condition_trees_judge_items_as_moto_parses_them():
    """The condition cache gives trees that judge every item as a fresh parse does, for the shapes
    arrears writes (existence, equality, comparisons, functions), and refuses what moto refuses."""
    from moto.dynamodb import comparisons
    from moto.dynamodb.models.dynamo_type import Item

    fresh = comparisons._arrears_original_filter
    cached = comparisons.get_filter_expression
    assert cached is not fresh  # installed
    cases = [
        ("attribute_not_exists(#k)", {"#k": "key"}, None),
        ("attribute_not_exists(entry)", None, None),
        (
            "currency = :c AND (attribute_not_exists(disbursed_on) OR disbursed_on <= :d)",
            None,
            {":c": {"S": "CNY"}, ":d": {"S": "2026-03-02"}},
        ),
        ("#s = :p AND amount >= :n", {"#s": "status"}, {":p": {"S": "planned"}, ":n": {"N": "3"}}),
        ("begins_with(sk, :a) OR contains(#t, :x)", {"#t": "tags"}, {":a": {"S": "ACT#"}, ":x": {"S": "b"}}),
    ]
    rng = random.Random(3)
    items = [
        Item(
            {"S": "L1"},
            None,
            {
                k: v
                for k, v in {
                    "key": {"S": "payment#1"},
                    "entry": {"S": "LOAN"},
                    "currency": {"S": rng.choice(["CNY", "USD"])},
                    "disbursed_on": {"S": rng.choice(["2026-02-01", "2026-03-05"])},
                    "status": {"S": rng.choice(["planned", "sent"])},
                    "tags": {"SS": rng.sample(["a", "b", "c", "d"], rng.randint(1, 4))},
                    "sk": {"S": rng.choice(["ACT#1", "CASE#1"])},
                    "amount": {"N": str(rng.randint(0, 6))},
                }.items()
                if rng.random() < 0.8
            },
        )
        for _ in range(200)
    ]
    for expr, names, values in cases:
        tree = cached(expr, names, values)
        assert cached(expr, dict(names or {}) or names, values) is tree  # remembered
        for item in items:
            assert tree.expr(item) == fresh(expr, names, values).expr(item), (expr, item.attrs)
    expr, _, values = cases[2]
    usd = {**values, ":c": {"S": "USD"}}
    assert [cached(expr, None, usd).expr(i) for i in items] == [fresh(expr, None, usd).expr(i) for i in items]
    assert [cached(expr, None, usd).expr(i) for i in items] != [cached(expr, None, values).expr(i) for i in items]
    for bad in ("attribute_not_exists(", "a = :missing"):
        with pytest.raises(Exception) as by_moto:
            fresh(bad, None, {})
        with pytest.raises(type(by_moto.value)):
            cached(bad, None, {})
    from moto.dynamodb import responses

    for expr, names, values in cases:  # the request layer's parse: the names and values it finds
        remembered = responses.create_condition_expression_parser(expr, names, values)
        own = comparisons._arrears_original_parser(expr, names, values)
        assert remembered.parse() is cached(expr, names, values)
        own.parse()
        assert (remembered.expr_attr_names_found, remembered.expr_attr_values_found) == (
            own.expr_attr_names_found,
            own.expr_attr_values_found,
        )
        with pytest.raises(Exception) as by_moto:
            comparisons._arrears_original_parser("attribute_not_exists(", names, values).parse()
        with pytest.raises(type(by_moto.value)):
            responses.create_condition_expression_parser("attribute_not_exists(", names, values).parse()


def _queues(sqs) -> list[Any]:
    """Sends and receives through a standard queue with a dead-letter queue and a FIFO queue, with
    delays, visibility time-outs and attribute reads named and whole; ids and times left out."""
    out: list[Any] = []
    dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    q = sqs.create_queue(
        QueueName="q",
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": "2"})},
    )["QueueUrl"]
    fifo = sqs.create_queue(QueueName="f.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"})[
        "QueueUrl"
    ]
    for i in range(30):
        sqs.send_message(QueueUrl=q, MessageBody=f"m{i}", DelaySeconds=900 if i % 7 == 0 else 0)
    sqs.send_message_batch(QueueUrl=q, Entries=[{"Id": str(i), "MessageBody": f"b{i}"} for i in range(10)])
    for i in range(6):
        sqs.send_message(QueueUrl=fifo, MessageBody=f"f{i % 3}", MessageGroupId=f"g{i % 2}")

    def attributes(url: str, names: list[str]) -> dict[str, str]:
        got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        return {k: v for k, v in got.items() if not k.endswith("Timestamp")}

    for url in (q, fifo, dlq):
        out.append(attributes(url, ["All"]))
        out.append(attributes(url, ["MessageRetentionPeriod", "DelaySeconds"]))
        out.append(attributes(url, ["ApproximateNumberOfMessages", "VisibilityTimeout"]))
    for _ in range(4):  # received twice and not deleted: the third receive moves them to the DLQ
        got = sqs.receive_message(QueueUrl=q, MaxNumberOfMessages=10, VisibilityTimeout=0)
        out.append(sorted(m["Body"] for m in got.get("Messages", [])))
        out.append(attributes(q, ["All"]))
    got = sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=10, VisibilityTimeout=30)
    out.append([m["Body"] for m in got.get("Messages", [])])
    out.append(attributes(fifo, ["All"]))
    out.append(attributes(dlq, ["ApproximateNumberOfMessages"]))
    return out


def test_queue_attributes_read_without_counts_as_moto_reads_them(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    results = []
    for patched in (False, True):
        (accel.install if patched else accel.uninstall)()
        with mock_aws():
            results.append(_queues(boto3.client("sqs", region_name="us-east-1")))
    accel.install()
    assert results[0] == results[1]
    assert results[0][0]["ApproximateNumberOfMessagesDelayed"] == "5"  # the counts are there where asked
    assert any(results[0][9:17:2])  # messages were received


def test_the_sdks_attribute_values_serialize_and_parse_as_botocore_does():
    """The SDK-side fast path writes and reads every attribute type as botocore's own walk does;
    binary values and nulls inside a value take botocore's way."""
    import botocore.session
    from botocore.parsers import create_parser
    from botocore.serialize import create_serializer

    model = botocore.session.get_session().get_service_model("dynamodb")
    value = {
        "s": {"S": "x"},
        "e": {"S": ""},
        "n": {"N": "-12.50"},
        "t": {"BOOL": True},
        "z": {"NULL": True},
        "ss": {"SS": ["a", "b"]},
        "ns": {"NS": ["1", "2.5"]},
        "m": {"M": {"x": {"N": "1"}, "l": {"L": [{"S": "y"}, {"M": {"q": {"BOOL": False}}}, {"L": []}]}}},
        "empty": {"M": {}},
    }
    binary = {**value, "b": {"B": b"\x00\xff"}, "bs": {"BS": [b"a", b"b"]}, "mb": {"M": {"b": {"B": b"1"}}}}
    requests = [
        ("PutItem", {"TableName": "t", "Item": value}),
        ("PutItem", {"TableName": "t", "Item": binary}),
        (
            "Query",
            {
                "TableName": "t",
                "KeyConditionExpression": "pk = :p",
                "ExpressionAttributeValues": {":p": {"S": "a"}},
                "ExclusiveStartKey": {"pk": {"S": "a"}, "n": {"N": "1"}},
            },
        ),
        (
            "BatchWriteItem",
            {"RequestItems": {"t": [{"PutRequest": {"Item": value}}, {"DeleteRequest": {"Key": {"pk": {"S": "a"}}}}]}},
        ),
        (
            "TransactWriteItems",
            {
                "TransactItems": [
                    {
                        "Update": {
                            "TableName": "t",
                            "Key": {"pk": {"S": "a"}},
                            "UpdateExpression": "SET v = :v",
                            "ExpressionAttributeValues": {":v": {"L": [{"N": "1"}]}},
                        }
                    }
                ]
            },
        ),
    ]
    wire = {k: {"B": "AP8="} if k == "b" else v for k, v in value.items()}
    responses = [
        ("GetItem", {"Item": wire}),
        (
            "Query",
            {
                "Items": [wire, {"pk": {"S": "a"}, "m": {"M": {"x": None}}}],
                "Count": 2,
                "ScannedCount": 2,
                "LastEvaluatedKey": {"pk": {"S": "a"}},
            },
        ),
        ("BatchGetItem", {"Responses": {"t": [wire]}, "UnprocessedKeys": {}}),
        ("UpdateItem", {"Attributes": {"bs": {"BS": ["YQ=="]}, "l": {"L": [{"S": "x"}, {"NULL": True}]}}}),
    ]

    def run() -> list[Any]:
        serializer, parser = create_serializer("json"), create_parser("json")
        out: list[Any] = [
            serializer.serialize_to_request(params, model.operation_model(op))["body"] for op, params in requests
        ]
        for op, body in responses:
            raw = {"body": json.dumps(body).encode(), "headers": {}, "status_code": 200}
            out.append(parser.parse(raw, model.operation_model(op).output_shape))
        return out

    accel.uninstall()
    try:
        unpatched = run()
    finally:
        accel.install()
    assert run() == unpatched
    assert json.loads(unpatched[0])["Item"] == value


def test_requests_to_the_emulator_carry_botocores_headers_with_a_signature_of_zeros(monkeypatch):
    """Every header as botocore makes it, the signature aside, for the emulator's endpoint; a request
    for AWS itself is signed exactly as botocore signs it."""
    from datetime import datetime

    import botocore.auth
    from botocore.awsrequest import AWSResponse

    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: datetime(2026, 3, 14, 9, 0, 0))

    class Raw:
        def stream(self, **_: Any) -> Any:
            return iter([b'{"TableNames": []}'])

    def headers(endpoint: str | None) -> dict[str, str]:
        seen: list[dict[str, str]] = []
        client = boto3.session.Session().client(
            "dynamodb",
            region_name="us-east-1",
            endpoint_url=endpoint,
            aws_access_key_id="AKIDTEST",
            aws_secret_access_key="s",
        )

        def capture(request: Any, **_: Any) -> Any:
            seen.append({k: (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()})
            return AWSResponse(request.url, 200, {}, Raw())

        client.meta.events.register_first("before-send", capture)
        client.list_tables()
        return {k: v for k, v in seen[0].items() if k not in ("User-Agent", "amz-sdk-invocation-id")}

    endpoints = ("http://127.0.0.1:4566", None)
    accel.uninstall()
    try:
        signed = [headers(e) for e in endpoints]
    finally:
        accel.install()
    local, aws = (headers(e) for e in endpoints)
    assert aws == signed[1]  # AWS itself: signed as ever
    credential, _ = signed[0]["Authorization"].split(" Signature=")
    assert local == {**signed[0], "Authorization": f"{credential} Signature={'0' * 64}"}
    assert "Credential=AKIDTEST/20260314/us-east-1/dynamodb/aws4_request" in credential


def test_remembered_routes_reach_the_handlers_unpatched_moto_reaches(monkeypatch):
    """Each URL reaches the handler moto's own walk over its services and URL tables finds, including
    a URL no handler matches (moto's 404) and one outside AWS (not mocked); the answers of a mixed
    sequence of requests are the same as unpatched moto's."""
    from botocore.awsrequest import AWSPreparedRequest
    from botocore.compat import HTTPHeaders
    from moto.core.botocore_stubber import BotocoreStubber

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    urls = [
        "https://dynamodb.us-east-1.amazonaws.com/",
        "https://sqs.us-east-1.amazonaws.com/",
        "https://sns.us-east-1.amazonaws.com/",
        "https://s3.amazonaws.com/bucket/key/with/parts.json",
        "https://bucket.s3.us-east-1.amazonaws.com/facts/dt=2026-03-14/a.json",
        "https://nothing-here.us-east-1.amazonaws.com/x",
        "http://127.0.0.1:9/elsewhere",
    ]

    def handled(url: str) -> Any:
        """What moto answers, or "handler" when it chose a handler (stopped before it runs)."""

        def spy(request: Any) -> Any:
            raise RuntimeError("stop")

        monkeypatch.setattr("moto.core.botocore_stubber.normalize_request", spy)
        request = AWSPreparedRequest("POST", url, HTTPHeaders(), b"", False)
        try:
            answer = BotocoreStubber().process_request(request)
        except RuntimeError:
            answer = "handler"
        monkeypatch.undo()
        return answer

    results = []
    for patched in (False, True):
        (accel.install if patched else accel.uninstall)()
        with mock_aws():
            found = [handled(u) for u in urls]
            s3 = boto3.client("s3", region_name="us-east-1")
            s3.create_bucket(Bucket="bucket")
            s3.put_object(Bucket="bucket", Key="facts/dt=2026-03-14/a.json", Body=b"{}")
            listed = [o["Key"] for o in s3.list_objects_v2(Bucket="bucket")["Contents"]]
            body = s3.get_object(Bucket="bucket", Key="facts/dt=2026-03-14/a.json")["Body"].read()
            sqs = boto3.client("sqs", region_name="us-east-1")
            url = sqs.create_queue(QueueName="q")["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody="m")
            got = [m["Body"] for m in sqs.receive_message(QueueUrl=url).get("Messages", [])]
            results.append((found, listed, body, got))
    accel.install()
    assert results[0] == results[1]
    assert results[0][0][:5] == ["handler"] * 5  # the five AWS URLs reach a handler
    assert results[0][0][5][0] == 404 and results[0][0][6] is None
    handlers = [accel._routes(u) for u in urls]  # which handler: moto's services and URL tables decide
    assert [(r[-1][0], r[-1][1].__qualname__, r[-1][1].__self__.__name__) for r in handlers[:4]] == [
        ("dynamodb", "BaseResponse.dispatch", "DynamoHandler"),
        ("sqs", "BaseResponse.dispatch", "SQSResponse"),
        ("sns", "BaseResponse.dispatch", "SNSResponse"),
        ("s3", "S3Response.key_dispatch", "S3Response"),
    ]
    assert handlers[4] == handlers[3] and handlers[5] == handlers[6] == ()


def test_a_full_collection_freezes_its_survivors_and_garbage_is_still_collected():
    """Installed, a full collection freezes what survived it; garbage made later is still collected;
    a stopped stack's release and an uninstall leave nothing frozen."""
    import gc
    import weakref

    class Cycle:
        pass

    accel.install()
    gc.collect()
    assert gc.get_freeze_count() > 0  # the survivors of a full collection are frozen
    a = Cycle()
    a.me = a  # type: ignore[attr-defined]
    gone = weakref.ref(a)
    del a
    gc.collect()
    assert gone() is None  # cyclic garbage made after the freeze is still collected
    accel.release()  # a stack stops: what was frozen is collectable again
    assert gc.get_freeze_count() == 0
    accel.uninstall()
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert gc.get_freeze_count() == 0  # uninstalled: nothing frozen any more
    accel.install()


def test_update_expression_trees_copy_as_deepcopy_copies_them():
    """The validator's copy of a remembered tree: the same nodes, children, values and parents as
    ``copy.deepcopy`` makes, sharing no node with the remembered tree."""
    import copy

    from moto.dynamodb.parsing.ast_nodes import Node
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    def shape(n: Any, parent: Any, seen: list[int]) -> Any:
        seen.append(id(n))
        assert n.parent is parent
        kids = [shape(c, n, seen) if isinstance(c, Node) else ("value", c) for c in n.children or []]
        return (type(n).__name__, n.type, kids)

    for expression in (
        "SET #v = :v, n = if_not_exists(n, :z) + :one REMOVE e",
        "SET a.b[2].c = list_append(if_not_exists(l, :empty), :x), m.#k = :m",
        "ADD counts.#day :one, total :n DELETE tags :t",
        "REMOVE a[1], a[3], b.c SET d = d - :x",
        "SET #s = :x",
    ):
        tree = UpdateExpressionParser.make(expression)
        theirs, ours = copy.deepcopy(tree), accel._copy_tree(tree)
        original_ids: list[int] = []
        shape(tree, None, original_ids)
        copied_ids: list[int] = []
        assert shape(ours, None, copied_ids) == shape(theirs, None, []), expression
        assert not set(copied_ids) & set(original_ids)


def test_update_checks_run_once_per_tree_names_and_table_and_refuse_as_moto_refuses(monkeypatch):
    """The same updates, each twice (the second finds its checks passed before), answer as unpatched
    moto answers: an expression that updates a key attribute through other names, has two SET clauses
    or overlapping paths is refused every time."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    updates = [
        ("SET #a = :v, b = list_append(if_not_exists(b, :e), :l) REMOVE c", {"#a": "x"}),
        ("SET #a = :v, b = list_append(if_not_exists(b, :e), :l) REMOVE c", {"#a": "pk"}),  # a key attribute
        ("SET #a = :v SET b = :v", {"#a": "x"}),
        ("SET m.n = :v, m = :v", None),
        ("SET #a = :v, b = list_append(if_not_exists(b, :e), :l) REMOVE c", {"#a": "y"}),
    ]

    def run(ddb: Any) -> list[Any]:
        answers = []
        for expression, names in updates * 2:
            kw: dict[str, Any] = {"ExpressionAttributeNames": names} if names else {}
            try:
                ddb.update_item(
                    TableName="t",
                    Key={"pk": {"S": "p1"}, "sk": {"S": "u"}},
                    UpdateExpression=expression,
                    ExpressionAttributeValues={":v": {"N": "1"}, ":e": {"L": []}, ":l": {"L": [{"S": "z"}]}},
                    ReturnValues="ALL_NEW",
                    **kw,
                )
                answers.append(ddb.get_item(TableName="t", Key={"pk": {"S": "p1"}, "sk": {"S": "u"}})["Item"])
            except ddb.exceptions.ClientError as e:
                answers.append(e.response["Error"])
        return answers

    results = _unpatched_then_patched(run)
    assert results[0] == results[1]
    assert [isinstance(a, dict) and "Code" in a for a in results[0][:5]] == [False, True, True, True, False]
