"""The named queries reach the local stack's Athena workgroup from template.yaml, as CloudFormation
creates them in AWS, and the workgroup has its bytes-scanned limit."""

from arrears_local import query


def test_the_local_stack_has_the_named_queries_in_its_workgroup(stack):
    """Created from template.yaml like the rest of the stack: Athena's list of the workgroup's queries."""
    from arrears.adapters.clients import client

    athena = client("athena")
    workgroup = stack.dep.physical["AnalyticsWorkGroup"]
    ids = athena.list_named_queries(WorkGroup=workgroup)["NamedQueryIds"]
    saved = {q["Name"]: q for q in (athena.get_named_query(NamedQueryId=i)["NamedQuery"] for i in ids)}
    assert set(saved) == set(query.named_queries())
    assert saved["daily_overview"]["QueryString"].strip() == query.named_queries()["daily_overview"].sql.strip()
    config = athena.get_work_group(WorkGroup=workgroup)["WorkGroup"]["Configuration"]
    assert config["BytesScannedCutoffPerQuery"] == 10737418240


def test_the_report_function_runs_the_saved_queries_in_the_workgroup_with_their_parameters(stack):
    """AthenaEngine (the report function's, in AWS): the workgroup's saved queries, run there with
    Athena's positional execution parameters (strings quoted), results typed by their column types.
    moto runs no SQL: the result is queued, as moto documents."""
    from moto.athena.models import QueryResults, athena_backends

    from arrears.adapters import analytics
    from arrears.adapters.clients import client
    from arrears_local.stack import ACCOUNT, REGION

    engine = analytics.AthenaEngine(stack.dep.physical["AnalyticsWorkGroup"], stack.dep.physical["AnalyticsDatabase"])
    assert set(engine.queries()) == set(query.named_queries())
    columns = [
        {"Name": "dt", "Type": "varchar"},
        {"Name": "sent", "Type": "bigint"},
        {"Name": "rate", "Type": "double"},
    ]
    header = {"Data": [{"VarCharValue": c["Name"]} for c in columns]}
    row = {"Data": [{"VarCharValue": "2026-03-02"}, {"VarCharValue": "12"}, {}]}
    athena_backends[ACCOUNT][REGION].query_results_queue.append(QueryResults([header, row], columns))
    rows = analytics.run_named(engine, "daily_overview", {"from_date": "2026-03-01"})
    assert rows == [{"dt": "2026-03-02", "sent": 12, "rate": None}]
    athena = client("athena")
    last = athena.list_query_executions(WorkGroup=stack.dep.physical["AnalyticsWorkGroup"])["QueryExecutionIds"][-1]
    execution = athena.get_query_execution(QueryExecutionId=last)["QueryExecution"]
    assert execution["ExecutionParameters"] == ["'2026-03-01'", "'2099-12-31'"]
    assert execution["QueryExecutionContext"]["Database"] == stack.dep.physical["AnalyticsDatabase"]
