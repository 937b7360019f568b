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
