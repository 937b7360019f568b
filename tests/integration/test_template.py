"""template.yaml is the single source of truth: lint it, and check what every consumer must have."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from arrears_local.stack import load_template, translate

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def test_cfn_lint_passes():
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    proc = subprocess.run([str(cfn_lint), str(ROOT / "template.yaml")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_queue_consumer_reports_partial_failures_and_has_a_dlq():
    cfn, _ = translate(load_template())
    res = cfn["Resources"]
    mappings = [r["Properties"] for r in res.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    assert mappings
    for m in mappings:
        assert m.get("FunctionResponseTypes") == ["ReportBatchItemFailures"] or "Stream" in str(m["EventSourceArn"])
        source = m["EventSourceArn"]["Fn::GetAtt"][0]
        if res[source]["Type"] == "AWS::SQS::Queue":
            assert "RedrivePolicy" in res[source]["Properties"], f"{source} has no DLQ"
        else:
            assert m["DestinationConfig"]["OnFailure"]["Destination"], "stream mapping without failure destination"


def test_queue_visibility_is_at_least_six_times_the_function_timeout():
    cfn, _ = translate(load_template())
    res = cfn["Resources"]
    for m in (r["Properties"] for r in res.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"):
        source = m["EventSourceArn"]["Fn::GetAtt"][0]
        if res[source]["Type"] == "AWS::SQS::Queue":
            fn = res[m["FunctionName"]["Ref"]]["Properties"]
            assert res[source]["Properties"]["VisibilityTimeout"] >= 6 * fn["Timeout"]


def test_models_match_the_tables_declared_in_the_template():
    from arrears.adapters import models

    res = load_template()["Resources"]
    for model, logical in (
        (models.LedgerModel, "LedgerTable"),
        (models.LoanModel, "LoansTable"),
        (models.BorrowerModel, "BorrowersTable"),
        (models.ContactModel, "ContactsTable"),
        (models.CollectionModel, "CollectionsTable"),
        (models.RunModel, "RunsTable"),
        (models.StrategyModel, "StrategiesTable"),
        (models.ContactLedgerModel, "ContactLedgerTable"),
        (models.IdempotencyModel, "IdempotencyTable"),
    ):
        declared = {k["AttributeName"]: k["KeyType"] for k in res[logical]["Properties"]["KeySchema"]}
        keys = {
            name: ("HASH" if a.is_hash_key else "RANGE")
            for name, a in model.get_attributes().items()
            if a.is_hash_key or a.is_range_key
        }
        assert keys == declared, logical
    indexes = res["LoansTable"]["Properties"]["GlobalSecondaryIndexes"]
    assert [g["IndexName"] for g in indexes] == [
        models.DueIndex.Meta.index_name,
        models.JurisdictionDueIndex.Meta.index_name,
    ]
    for gsi in indexes:  # planning and targeting read only the index: what they need, and nothing else
        assert set(gsi["Projection"]["NonKeyAttributes"]) == set(models.PLANNING_ATTRIBUTES)
    assert set(models.PLANNING_ATTRIBUTES) <= set(models.LoanModel.get_attributes())


def test_the_outcomes_table_declares_the_facts_columns_in_order():
    """A fact's row and the Glue table agree, column for column and type for type (a new schema version
    only adds columns at the end: files written before stay readable)."""
    from arrears.domain.facts import COLUMNS

    table = load_template()["Resources"]["OutcomesGlueTable"]["Properties"]["TableInput"]
    declared = [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]
    assert declared == list(COLUMNS.items())
    from arrears.domain.compliance import RULES_COLUMNS

    table = load_template()["Resources"]["ComplianceRulesGlueTable"]["Properties"]["TableInput"]
    assert [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]] == list(RULES_COLUMNS.items())


def test_every_function_has_its_handler_file():
    for name, r in load_template()["Resources"].items():
        if r["Type"] == "AWS::Serverless::Function":
            module = r["Properties"]["Handler"].split(".")[0]
            assert (ROOT / r["Properties"]["CodeUri"] / f"{module}.py").is_file(), name


def test_each_function_may_touch_the_tables_its_code_writes():
    """moto does not check IAM: make sure the template grants what the code needs."""
    res = load_template()["Resources"]

    def tables(fn: str, kinds: tuple[str, ...]) -> set[str]:
        return {
            next(iter(p.values()))["TableName"]["Ref"]
            for p in res[fn]["Properties"]["Policies"]
            if isinstance(p, dict) and next(iter(p)) in kinds
        }

    write = ("DynamoDBCrudPolicy", "DynamoDBWritePolicy")
    assert {"LedgerTable", "RunsTable"} <= tables("ShardWorkerFunction", write)  # EVAL/PLAN entries, run
    assert "StrategiesTable" in tables("ShardWorkerFunction", ("DynamoDBReadPolicy",))
    assert {"LedgerTable", "BorrowersTable", "ContactsTable", "IdempotencyTable"} <= tables("ImporterFunction", write)
    assert {"LoansTable", "CollectionsTable"} <= tables("LedgerEventsFunction", write)
    for channel in ("Sms", "Email", "Voice", "Wechat", "Letter"):
        fn = f"{channel}SenderFunction"
        assert {"CollectionsTable", "ContactLedgerTable"} <= tables(fn, write), fn
        assert res[fn]["Properties"]["Environment"]["Variables"]["CHANNEL"] == channel.lower()
    assert "LedgerTable" in tables("VoiceSenderFunction", write)  # promises to pay made on calls
    queues = {
        p["SQSSendMessagePolicy"]["QueueName"]["Fn::GetAtt"][0]
        for p in res["LedgerEventsFunction"]["Properties"]["Policies"]
        if isinstance(p, dict) and "SQSSendMessagePolicy" in p
    }
    assert {f"{c}Queue" for c in ("Sms", "Email", "Voice", "Wechat", "Letter")} <= queues
