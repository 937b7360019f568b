"""ApiFactsFunction on moto: the facts an API request stored with its first answer reach the outcomes
table, one object per business date a batch touches; when S3 fails the whole batch is retried (the
facts' ids are deterministic, so a retry writes the same facts again)."""

import json

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from moto import mock_aws

from arrears_local.runner import FakeContext
from tests.conftest import load_event
from tests.unit.test_events import handler_module


@pytest.fixture
def app(monkeypatch):
    monkeypatch.setenv("OUTCOMES_BUCKET", "outcomes-test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        from arrears.adapters import clients

        clients.reset()
        module = handler_module("api_facts")
        module.outcomes_bucket.cache_clear()
        yield module
        clients.reset()


def test_the_batch_facts_are_written_once_per_business_date(app):
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="outcomes-test")
    event = load_event("api_facts_stream.json")
    (sample,) = event["Records"]
    file_payment = {**sample, "dynamodb": {**sample["dynamodb"], "NewImage": {"key": {"S": "payment#F1"}}}}
    result = app.handler({"Records": [sample, file_payment]}, FakeContext("api-facts", 60, 512))
    assert result == {"batchItemFailures": []}
    (obj,) = s3.list_objects_v2(Bucket="outcomes-test", Prefix="facts/")["Contents"]
    assert obj["Key"].startswith("facts/dt=2026-04-02/api-")
    rows = [json.loads(line) for line in s3.get_object(Bucket="outcomes-test", Key=obj["Key"])["Body"].read().splitlines()]
    assert [(r["fact_type"], r["action_id"]) for r in rows] == [("platform_event", "msg_pay_88231")]


def test_an_s3_failure_fails_the_whole_batch_for_a_retry(app):
    # no bucket: every PutObject fails (NoSuchBucket)
    with pytest.raises(BatchProcessingError):
        app.handler(load_event("api_facts_stream.json"), FakeContext("api-facts", 60, 512))
