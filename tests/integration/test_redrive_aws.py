"""`arrears redrive` against a stack deployed on moto from template.yaml, whole (event source mappings
included, as CloudFormation's processed template holds them). moto cannot run Lambda code here: the
function is an injected invoker (the real ledger-events handler in-process, or a recorder), or moto's
Docker-less Lambda, which answers an invoke with its payload."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from moto import mock_aws

from arrears_local import redrive_aws
from arrears_local.cli import main
from arrears_local.dlqs import DeadLetterQueue, dead_letter_queues
from arrears_local.redrive_aws import Invocation
from tests.conftest import load_event

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore:Tried to parse AWS::")]
STACK = "arrears-prod"
REGION = "us-east-1"


@pytest.fixture(scope="module")
def deployed() -> Iterator[dict[str, Any]]:
    """The translated template deployed whole; moto's own pollers (which would consume the queues and
    drop the stream's records, see LOCAL_AWS.md) are detached, as if Lambda's pollers were paused."""
    from moto.dynamodb.models import dynamodb_backends
    from moto.sqs.models import sqs_backends

    from arrears.adapters import clients
    from arrears_local.stack import ACCOUNT, ARTIFACTS, _params, _tiny_zip, load_template, translate, without_rest_api

    with pytest.MonkeyPatch.context() as mp:
        for key in [k for k in os.environ if k.startswith("AWS_")]:
            mp.delenv(key)
        for key, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        }.items():
            mp.setenv(key, value)
        with mock_aws(config={"lambda": {"use_docker": False}}):
            clients.reset()
            import boto3

            cfn, code_dirs = translate(load_template())
            s3 = boto3.client("s3")
            s3.create_bucket(Bucket=ARTIFACTS)
            for name, res in cfn["Resources"].items():
                if res["Type"] in ("AWS::Lambda::Function", "AWS::Lambda::LayerVersion"):
                    s3.put_object(Bucket=ARTIFACTS, Key=f"{name}.zip", Body=_tiny_zip())
            boto3.client("cloudformation").create_stack(
                StackName=STACK,
                TemplateBody=json.dumps(without_rest_api(cfn)),  # moto refuses the API's Swagger 2.0 (stack.py)
                Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
            )
            for queue in sqs_backends[ACCOUNT][REGION].queues.values():
                queue.lambda_event_source_mappings.clear()
            for table in dynamodb_backends[ACCOUNT][REGION].tables.values():
                table.lambda_event_source_mappings.clear()
            yield {"cfn": cfn, "code_dirs": code_dirs, "params": _params(cfn, {})}
            clients.reset()


@pytest.fixture
def aws(deployed: dict[str, Any], monkeypatch) -> Iterator[tuple[redrive_aws.Clients, redrive_aws.Stack]]:
    """The command's clients and the stack as it reads it; every queue empty before each test."""
    monkeypatch.setattr(redrive_aws, "WAIT_S", 0)  # moto answers exactly without a long poll
    c = redrive_aws.connect(REGION)
    stack = redrive_aws.load_stack(c.cfn, STACK)
    for logical, res in stack.template["Resources"].items():
        if res["Type"] == "AWS::SQS::Queue":
            bodies(c, stack.physical[logical])  # (moto allows one PurgeQueue a minute, as SQS does)
    yield c, stack


class Recorder:
    """An invoker that records each call and answers as told."""

    def __init__(self, answer: Callable[[str, dict], Invocation] = lambda fn, ev: Invocation(None, None)) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.answer = answer

    def __call__(self, function: str, event: dict) -> Invocation:
        self.calls.append((function, event))
        return self.answer(function, event)


def bodies(c: redrive_aws.Clients, url: str) -> list[str]:
    out = []
    while messages := c.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get(
        "Messages", []
    ):
        out += [m["Body"] for m in messages]
        c.sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        )
    return out


def waiting(c: redrive_aws.Clients, url: str) -> int:
    return sum(redrive_aws.queue_counts(c.sqs, url))


def by_dlq(results: list[redrive_aws.Result]) -> dict[str, redrive_aws.Result]:
    return {r.dlq.logical: r for r in results}


def write_ledger(c: redrive_aws.Clients, stack: redrive_aws.Stack, items: list[dict[str, str]]) -> list[dict]:
    """Put ledger items; returns their stream records (GetRecords shape) in order."""
    import boto3

    ddb = boto3.client("dynamodb", region_name=REGION)
    table = stack.physical["LedgerTable"]
    for item in items:
        ddb.put_item(TableName=table, Item={k: {"S": v} for k, v in item.items()})
    arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = c.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    it = c.streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = c.streams.get_records(ShardIterator=it, Limit=1000)["Records"]
    return [{**r, "streamArn": arn, "shardId": shard} for r in records[-len(items) :]]


def batch_info(records: list[dict], batch_size: int | None = None) -> str:
    """The OnFailure record Lambda sends for a stream batch that exhausted its retries."""
    return json.dumps(
        {
            "requestContext": {
                "requestId": "316aa6d0-8154-4f5b-9af7-85d5f4a6bc81",
                "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:arrears-prod-LedgerEventsFunction",
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": 6,
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": "2026-03-15T01:02:03.456Z",
            "DDBStreamBatchInfo": {
                "shardId": records[0]["shardId"],
                "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": "2026-03-15T01:00:00Z",
                "approximateArrivalOfLastRecord": "2026-03-15T01:00:01Z",
                "batchSize": batch_size or len(records),
                "streamArn": records[0]["streamArn"],
            },
        }
    )


def send(c: redrive_aws.Clients, stack: redrive_aws.Stack, logical: str, *messages: str) -> None:
    for body in messages:
        c.sqs.send_message(QueueUrl=stack.physical[logical], MessageBody=body)


# ---------------------------------------------------------------------------------------------------


def test_every_dlq_of_the_template_is_known_with_what_it_holds(deployed):
    dlqs = dead_letter_queues(deployed["cfn"])
    ledger = DeadLetterQueue("LedgerEventsDLQ", "stream", "LedgerTable", "LedgerEventsFunction")
    imports = DeadLetterQueue("ImportFailuresDLQ", "events", "ImporterFunction", "ImporterFunction")
    daily = DeadLetterQueue("DailyRunFunctionDailyQueue", "events", "DailyRunFunctionDaily", "DailyRunFunction")
    assert (dlqs["LedgerEventsDLQ"], dlqs["ImportFailuresDLQ"], dlqs["DailyRunFunctionDailyQueue"]) == (
        ledger,
        imports,
        daily,
    )
    assert dlqs["DailyReportFunctionDailyQueue"].function == "DailyReportFunction"
    assert dlqs["TrainFunctionWeeklyQueue"].function == "TrainFunction"
    assert len(dlqs) == 14
    assert dlqs["CallbackDLQ"] == DeadLetterQueue("CallbackDLQ", "queue", "CallbackQueue", "CallbackFunction", 10)
    assert dlqs["ApiFactsDLQ"] == DeadLetterQueue("ApiFactsDLQ", "stream", "IdempotencyTable", "ApiFactsFunction")
    assert dlqs["CampaignEventsDLQ"] == DeadLetterQueue("CampaignEventsDLQ", "stream", "CampaignsTable", "CampaignFunction")
    assert dlqs["WorkDLQ"] == DeadLetterQueue("WorkDLQ", "queue", "WorkQueue", "ShardWorkerFunction", 3)
    channels = {f"{c}DLQ": (f"{c}Queue", f"{c}SenderFunction") for c in ("Sms", "Email", "Voice", "Wechat", "Letter")}
    queues = {k: (v.source, v.function) for k, v in dlqs.items() if v.kind == "queue"}
    assert queues == {
        "WorkDLQ": ("WorkQueue", "ShardWorkerFunction"),
        "CallbackDLQ": ("CallbackQueue", "CallbackFunction"),
        **channels,
    }


def test_every_dlq_has_an_alarm(deployed):
    alarmed = {
        res["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for res in deployed["cfn"]["Resources"].values()
        if res["Type"] == "AWS::CloudWatch::Alarm" and res["Properties"].get("Namespace") == "AWS/SQS"
    }
    assert set(dead_letter_queues(deployed["cfn"])) <= alarmed


def test_queue_dlqs_go_back_to_their_source_queue(aws):
    c, stack = aws
    send(c, stack, "WorkDLQ", *(json.dumps({"shard": n}) for n in range(3)))
    c.sqs.send_message(
        QueueUrl=stack.physical["SmsDLQ"],
        MessageBody='{"action_id": "A1"}',
        MessageAttributes={"trace": {"DataType": "String", "StringValue": "t-1"}},
    )
    invoke, lines = Recorder(), []

    results = by_dlq(redrive_aws.redrive(stack, c, invoke, say=lines.append))

    assert sorted(bodies(c, stack.physical["WorkQueue"])) == [json.dumps({"shard": n}) for n in range(3)]
    moved = c.sqs.receive_message(QueueUrl=stack.physical["SmsQueue"], MessageAttributeNames=["All"])["Messages"]
    assert [m["Body"] for m in moved] == ['{"action_id": "A1"}']
    assert moved[0]["MessageAttributes"]["trace"]["StringValue"] == "t-1"
    assert waiting(c, stack.physical["WorkDLQ"]) == waiting(c, stack.physical["SmsDLQ"]) == 0
    assert (results["WorkDLQ"].done, results["WorkDLQ"].left, results["SmsDLQ"].done) == (3, 0, 1)
    assert not invoke.calls and not redrive_aws.problems(list(results.values()))
    assert len(lines) == len(results) == 14  # one a DLQ
    assert any(
        line.startswith("WorkDLQ") and "-> WorkQueue" in line and "moved 3, failed 0, left 0" in line for line in lines
    )
    assert any(line.startswith("EmailDLQ") and line.endswith("empty") for line in lines)


@pytest.fixture
def ledger_handler(deployed, tmp_path) -> Iterator[Callable[[str, dict], Invocation]]:
    """The real LedgerEventsFunction handler, in-process, with its environment from the deployed stack."""
    from arrears.config import settings
    from arrears_local.runner import LocalFunction, Stats
    from arrears_local.stack import ROOT, Deployed

    c = redrive_aws.connect(REGION)
    stack = redrive_aws.load_stack(c.cfn, STACK)
    dep = Deployed(deployed["cfn"], deployed["params"], stack.physical, deployed["code_dirs"])
    props = deployed["cfn"]["Resources"]["LedgerEventsFunction"]["Properties"]
    saved = dict(os.environ)
    with open(tmp_path / "lambda.log", "w", encoding="utf-8") as log:
        fn = LocalFunction(
            "LedgerEventsFunction",
            stack.physical["LedgerEventsFunction"],
            ROOT / deployed["code_dirs"]["LedgerEventsFunction"],
            props["Handler"],
            int(props["Timeout"]),
            int(props["MemorySize"]),
            dep.function_env("LedgerEventsFunction"),
            log,  # type: ignore[arg-type]
            Stats(),
        )
        settings.cache_clear()
        yield lambda function, event: Invocation(None, fn.invoke(event))
    settings.cache_clear()
    os.environ.clear()
    os.environ.update(saved)


def test_stream_batches_are_read_again_and_given_to_the_function_as_lambda_shapes_them(aws, ledger_handler):
    c, stack = aws
    records = write_ledger(
        c,
        stack,
        [
            {"loan_id": "RD-1", "entry": "EVAL#2026-03-15T01:00:00Z", "run_at": "2026-03-15T01:00:00Z"},
            {"loan_id": "RD-2", "entry": "EVAL#2026-03-15T01:00:00Z", "run_at": "2026-03-15T01:00:00Z"},
            {"loan_id": "RD-1", "entry": "HOLD#dispute", "reason": "dispute"},
        ],
    )
    send(c, stack, "LedgerEventsDLQ", batch_info(records))
    invoke = Recorder(ledger_handler)

    results = by_dlq(redrive_aws.redrive(stack, c, invoke, say=lambda _: None))

    [(function, event)] = invoke.calls
    assert function == stack.physical["LedgerEventsFunction"]
    sample = load_event("ledger_stream_repayment.json")["Records"][0]
    for got, read in zip(event["Records"], records, strict=True):
        assert set(got) == set(sample)
        assert set(got["dynamodb"]) <= {*sample["dynamodb"], "OldImage"}
        assert (got["eventSource"], got["eventSourceARN"], got["awsRegion"]) == (
            "aws:dynamodb",
            read["streamArn"],
            REGION,
        )
        assert got["dynamodb"]["SequenceNumber"] == read["dynamodb"]["SequenceNumber"]
        assert got["dynamodb"]["NewImage"] == read["dynamodb"]["NewImage"]
        assert isinstance(got["dynamodb"]["ApproximateCreationDateTime"], float)
    assert [r["dynamodb"]["Keys"]["loan_id"]["S"] for r in event["Records"]] == ["RD-1", "RD-2", "RD-1"]
    assert (results["LedgerEventsDLQ"].done, results["LedgerEventsDLQ"].left) == (1, 0)
    assert waiting(c, stack.physical["LedgerEventsDLQ"]) == 0


def test_a_batch_that_fails_again_in_part_stays_in_its_dlq(aws):
    c, stack = aws
    records = write_ledger(c, stack, [{"loan_id": f"PF-{n}", "entry": "EVAL#x"} for n in range(3)])
    send(c, stack, "LedgerEventsDLQ", batch_info(records))
    second = records[1]["dynamodb"]["SequenceNumber"]
    invoke = Recorder(lambda fn, ev: Invocation(None, {"batchItemFailures": [{"itemIdentifier": second}]}))

    results = redrive_aws.redrive(stack, c, invoke, say=lambda _: None)

    r = by_dlq(results)["LedgerEventsDLQ"]
    assert (r.done, r.failed, r.left) == (0, 1, 1)
    assert r.notes == [f"1 record(s) failed again, the first at {second}"]
    assert bodies(c, stack.physical["LedgerEventsDLQ"]) == [batch_info(records)]  # visible again at once
    assert redrive_aws.problems(results) == ["1 message(s) left in dead-letter queues: LedgerEventsDLQ 1"]


def test_a_batch_whose_function_fails_again_stays(aws):
    c, stack = aws
    records = write_ledger(c, stack, [{"loan_id": "FE-1", "entry": "EVAL#x"}])
    send(c, stack, "LedgerEventsDLQ", batch_info(records))
    invoke = Recorder(lambda fn, ev: Invocation("Unhandled RuntimeError", {"errorType": "RuntimeError"}))

    r = by_dlq(redrive_aws.redrive(stack, c, invoke, say=lambda _: None))["LedgerEventsDLQ"]

    assert (r.done, r.failed, r.left, r.notes) == (0, 1, 1, ["failed again (Unhandled RuntimeError)"])
    assert waiting(c, stack.physical["LedgerEventsDLQ"]) == 1


def test_records_no_longer_in_the_stream_are_reported_lost_and_kept(aws):
    c, stack = aws
    records = write_ledger(c, stack, [{"loan_id": "TR-1", "entry": "EVAL#x"}, {"loan_id": "TR-2", "entry": "EVAL#x"}])
    beyond = {**records[-1], "dynamodb": {"SequenceNumber": str(int(records[-1]["dynamodb"]["SequenceNumber"]) + 5)}}
    cut_short = batch_info([records[0], beyond], batch_size=7)  # the stream has 2 of the batch's 7 records
    send(c, stack, "LedgerEventsDLQ", cut_short)
    invoke = Recorder()

    results = redrive_aws.redrive(stack, c, invoke, say=lambda _: None)

    r = by_dlq(results)["LedgerEventsDLQ"]
    assert not invoke.calls and (r.done, r.failed, r.left) == (0, 0, 1)
    start, end = records[0]["dynamodb"]["SequenceNumber"], beyond["dynamodb"]["SequenceNumber"]
    [lost, left] = redrive_aws.problems(results)
    assert lost.startswith(f"LOST: LedgerEventsDLQ: stream records {start}..{end} of shard {records[0]['shardId']}")
    assert "(7 records)" in lost and "2 of 7 records still in the stream" in lost and "stays in the DLQ" in lost
    assert left == "1 message(s) left in dead-letter queues: LedgerEventsDLQ 1"
    assert bodies(c, stack.physical["LedgerEventsDLQ"]) == [cut_short]


def test_records_trimmed_from_the_stream_are_reported_lost(aws):
    from botocore.stub import Stubber

    c, stack = aws
    records = write_ledger(c, stack, [{"loan_id": "TD-1", "entry": "EVAL#x"}])
    send(c, stack, "LedgerEventsDLQ", batch_info(records))
    invoke = Recorder()

    with Stubber(c.streams) as stub:  # what DynamoDB Streams answers past its 24-hour retention
        stub.add_client_error(
            "get_shard_iterator",
            service_error_code="TrimmedDataAccessException",
            service_message="The operation attempted to read past the oldest stream record in a shard.",
            http_status_code=400,
            expected_params={
                "StreamArn": records[0]["streamArn"],
                "ShardId": records[0]["shardId"],
                "ShardIteratorType": "AT_SEQUENCE_NUMBER",
                "SequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
            },
        )
        results = redrive_aws.redrive(stack, c, invoke, say=lambda _: None)

    [lost, _] = redrive_aws.problems(results)
    assert "TrimmedDataAccessException: The operation attempted to read past the oldest stream record" in lost
    assert not invoke.calls and waiting(c, stack.physical["LedgerEventsDLQ"]) == 1


def test_async_and_schedule_events_are_invoked_again_and_deleted_when_done(aws):
    c, stack = aws
    s3_event, scheduled = load_event("importer_s3_put.json"), load_event("daily_run_schedule.json")
    send(c, stack, "ImportFailuresDLQ", json.dumps(s3_event))
    send(c, stack, "DailyRunFunctionDailyQueue", json.dumps(scheduled))
    report_day = {"scheduled_time": "2026-03-15T16:15:00Z"}
    send(c, stack, "DailyReportFunctionDailyQueue", json.dumps(report_day))
    failing = stack.physical["DailyReportFunction"]
    invoke = Recorder(
        lambda fn, ev: Invocation("Unhandled TimeoutError", None) if fn == failing else Invocation(None, None)
    )

    results = by_dlq(redrive_aws.redrive(stack, c, invoke, say=lambda _: None))

    assert sorted(invoke.calls, key=lambda call: call[0]) == sorted(
        [
            (stack.physical["ImporterFunction"], s3_event),
            (stack.physical["DailyRunFunction"], scheduled),
            (failing, report_day),
        ],
        key=lambda call: call[0],
    )
    assert (
        waiting(c, stack.physical["ImportFailuresDLQ"]) == waiting(c, stack.physical["DailyRunFunctionDailyQueue"]) == 0
    )
    assert (results["ImportFailuresDLQ"].done, results["DailyRunFunctionDailyQueue"].done) == (1, 1)
    report = results["DailyReportFunctionDailyQueue"]
    assert (report.done, report.failed, report.left) == (0, 1, 1)
    assert bodies(c, stack.physical["DailyReportFunctionDailyQueue"]) == [json.dumps(report_day)]


def test_dry_run_counts_and_moves_nothing(aws):
    c, stack = aws
    send(c, stack, "WorkDLQ", "a", "b")
    send(c, stack, "ImportFailuresDLQ", json.dumps(load_event("importer_s3_put.json")))
    invoke, lines = Recorder(), []

    results = by_dlq(redrive_aws.redrive(stack, c, invoke, dry_run=True, say=lines.append))

    assert not invoke.calls
    assert waiting(c, stack.physical["WorkDLQ"]) == 2 and waiting(c, stack.physical["ImportFailuresDLQ"]) == 1
    assert waiting(c, stack.physical["WorkQueue"]) == 0
    assert (results["WorkDLQ"].left, results["ImportFailuresDLQ"].left, results["SmsDLQ"].left) == (2, 1, 0)
    work = next(line for line in lines if line.startswith("WorkDLQ"))
    assert work.endswith("2 message(s): would move back to WorkQueue")
    assert next(line for line in lines if line.startswith("ImportFailuresDLQ")).endswith(
        "1 message(s): would invoke ImporterFunction"
    )


def test_a_move_task_is_started_and_waited_for(aws):
    """In AWS, queue DLQs are moved by SQS itself; moto has no move tasks, so botocore's Stubber
    answers (and checks each request against the SQS API model)."""
    from botocore.stub import Stubber

    c, stack = aws
    dlq_arn, source_arn = "arn:aws:sqs:us-east-1:123456789012:WorkDLQ", "arn:aws:sqs:us-east-1:123456789012:WorkQueue"
    dlq = DeadLetterQueue("WorkDLQ", "queue", "WorkQueue", "ShardWorkerFunction", 3)
    stubbed = redrive_aws.Clients(c.cfn, c.sqs, c.streams, c.lambda_)
    naps: list[float] = []
    with Stubber(c.sqs) as stub:
        stub.add_response("get_queue_attributes", {"Attributes": {"QueueArn": dlq_arn}})
        stub.add_response("get_queue_attributes", {"Attributes": {"QueueArn": source_arn}})
        stub.add_response(
            "start_message_move_task",
            {"TaskHandle": "h-1"},
            {"SourceArn": dlq_arn, "DestinationArn": source_arn},
        )
        running = {"Status": "RUNNING", "SourceArn": dlq_arn, "ApproximateNumberOfMessagesMoved": 1}
        stub.add_response("list_message_move_tasks", {"Results": [running]}, {"SourceArn": dlq_arn, "MaxResults": 1})
        done = {
            "Status": "COMPLETED",
            "SourceArn": dlq_arn,
            "ApproximateNumberOfMessagesMoved": 4,
            "ApproximateNumberOfMessagesToMove": 4,
        }
        stub.add_response("list_message_move_tasks", {"Results": [done]}, {"SourceArn": dlq_arn, "MaxResults": 1})
        result = redrive_aws.Result(dlq, "WorkQueue", found=4)
        redrive_aws._move_back(stubbed.sqs, stack, result, naps.append)
        stub.assert_no_pending_responses()
    assert (result.done, result.failed, result.left, naps) == (4, 0, 0, [redrive_aws.MOVE_POLL_S])

    with Stubber(c.sqs) as stub:
        stub.add_response("get_queue_attributes", {"Attributes": {"QueueArn": dlq_arn}})
        stub.add_response("get_queue_attributes", {"Attributes": {"QueueArn": source_arn}})
        stub.add_response("start_message_move_task", {"TaskHandle": "h-2"})
        failed = {
            "Status": "FAILED",
            "SourceArn": dlq_arn,
            "ApproximateNumberOfMessagesMoved": 1,
            "ApproximateNumberOfMessagesToMove": 4,
            "FailureReason": "AccessDenied",
        }
        stub.add_response("list_message_move_tasks", {"Results": [failed]})
        result = redrive_aws.Result(dlq, "WorkQueue", found=4)
        redrive_aws._move_back(stubbed.sqs, stack, result, naps.append)
    assert (result.done, result.left, result.notes) == (1, 3, ["move task failed: AccessDenied"])


# ---------------------------------------------------------------------------------------------- CLI


def test_the_command_redrives_a_deployed_stack_and_exits_0_when_all_is_empty(aws, deployed, capsys):
    """Through `arrears redrive` with the real Lambda invoke (moto's Docker-less Lambda returns the
    payload it was given: no error, no batch item failures)."""
    c, stack = aws
    send(c, stack, "VoiceDLQ", '{"action_id": "V1"}')
    send(c, stack, "DailyRunFunctionDailyQueue", json.dumps(load_event("daily_run_schedule.json")))
    send(c, stack, "LedgerEventsDLQ", batch_info(write_ledger(c, stack, [{"loan_id": "CL-1", "entry": "EVAL#x"}])))

    assert main(["redrive", "--stack", STACK, "--region", REGION]) == 0

    out, err = capsys.readouterr()
    print(out)
    assert err == "" and out.splitlines()[0] == f"dead-letter queues of stack {STACK} in {REGION}:"
    assert len(out.splitlines()) == 1 + len(dead_letter_queues(deployed["cfn"]))  # the title, then one a DLQ
    assert "moved 1, failed 0, left 0" in next(line for line in out.splitlines() if line.startswith("VoiceDLQ"))
    for logical in ("DailyRunFunctionDailyQueue", "LedgerEventsDLQ"):
        assert "processed 1, failed 0, left 0" in next(line for line in out.splitlines() if line.startswith(logical))
    assert bodies(c, stack.physical["VoiceQueue"]) == ['{"action_id": "V1"}']
    assert all(waiting(c, stack.physical[d]) == 0 for d in dead_letter_queues(stack.template))


def test_the_command_exits_1_naming_what_is_left(aws, capsys):
    from moto.awslambda_simple.models import lambda_simple_backends

    from arrears_local.stack import ACCOUNT

    c, stack = aws
    records = write_ledger(c, stack, [{"loan_id": "CF-1", "entry": "EVAL#x"}])
    send(c, stack, "LedgerEventsDLQ", batch_info(records))
    answers = lambda_simple_backends[ACCOUNT][REGION].lambda_simple_results_queue
    answers.append(json.dumps({"batchItemFailures": [{"itemIdentifier": records[0]["dynamodb"]["SequenceNumber"]}]}))

    assert main(["redrive", "--stack", STACK, "--region", REGION]) == 1

    out, err = capsys.readouterr()
    assert err == "1 message(s) left in dead-letter queues: LedgerEventsDLQ 1\n"
    assert "processed 0, failed 1, left 1" in next(
        line for line in out.splitlines() if line.startswith("LedgerEventsDLQ")
    )


def test_dry_run_exits_1_while_a_dlq_holds_messages(aws, capsys):
    c, stack = aws
    assert main(["redrive", "--stack", STACK, "--dry-run"]) == 0
    send(c, stack, "LetterDLQ", "x")
    assert main(["redrive", "--stack", STACK, "--dry-run"]) == 1
    assert waiting(c, stack.physical["LetterDLQ"]) == 1
    assert "LetterDLQ 1" in capsys.readouterr().err


def test_an_unknown_stack_is_one_line(deployed, capsys):
    assert main(["redrive", "--stack", "no-such-stack", "--region", REGION]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "stack 'no-such-stack' does not exist in us-east-1" in err


def test_no_region_is_one_line(monkeypatch, tmp_path, capsys):
    for key in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    assert main(["redrive", "--stack", STACK]) == 1
    assert capsys.readouterr().err == "arrears redrive: error: no AWS region: give --region or set AWS_REGION\n"


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["redrive"])
    assert exit_.value.code == 2 and "--stack" in capsys.readouterr().err


def test_lambda_invoker_reads_function_errors():
    class FakeLambda:
        def __init__(self, answer: dict) -> None:
            self.answer, self.sent = answer, []

        def invoke(self, **kwargs: Any) -> dict:
            self.sent.append(kwargs)
            return self.answer

    failing = FakeLambda(
        {"FunctionError": "Unhandled", "Payload": io.BytesIO(b'{"errorType": "KeyError", "errorMessage": "x"}')}
    )
    assert redrive_aws.lambda_invoker(failing)("f", {"a": b"\x00"}) == Invocation(
        "Unhandled KeyError", {"errorType": "KeyError", "errorMessage": "x"}
    )
    assert failing.sent[0]["InvocationType"] == "RequestResponse" and json.loads(failing.sent[0]["Payload"]) == {
        "a": "AA=="
    }
    ok = FakeLambda({"StatusCode": 200, "Payload": io.BytesIO(b"null")})
    assert redrive_aws.lambda_invoker(ok)("f", {}) == Invocation(None, None)
