"""TrainFunction on the stack deployed from template.yaml: it learns from the outcomes bucket's facts,
keeps each model as a version, names the best one in use (only a model that beats the heuristic), and
the shard workers' reader takes the one in use (the heuristic without one, or when it is unreadable)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

from tests.conftest import load_event

T0 = datetime(2026, 3, 20, 1, 0, tzinfo=UTC)


def _facts(rng: random.Random) -> list[dict]:
    """60 loans evaluated daily for 50 days, each paying every third day: those with a small overdue
    share what is overdue, the others a cent (the same history for all: the heuristic cannot rank)."""
    out, n = [], 0
    for loan in range(60):
        share = rng.random()
        for day in range(50):
            at = T0 + timedelta(days=day)
            n += 1
            out.append({"fact_id": f"e{n}", "fact_type": "loan_evaluated", "occurred_at": at.isoformat(),
                        "business_date": at.date().isoformat(), "loan_id": f"L{loan}", "dpd": 3,
                        "amount_minor": int(10000 * share) + 1, "outstanding_minor": 10001})  # fmt: skip
            if day % 3 == 0:
                n += 1
                out.append({"fact_id": f"p{n}", "fact_type": "repayment_applied", "occurred_at": (at + timedelta(hours=5)).isoformat(),
                            "business_date": at.date().isoformat(), "loan_id": f"L{loan}",
                            "amount_minor": 10000 if share < 0.4 else 1})  # fmt: skip
    return out


def test_training_keeps_versions_and_the_workers_read_the_one_in_use(stack):
    from arrears.adapters import propensity_store
    from arrears.adapters.clients import client

    bucket = stack.outcomes_bucket
    s3 = client("s3")
    schedule = stack.runner.schedule("TrainFunction")
    assert schedule.weekdays == frozenset({0}) and schedule.fn.env["PROPENSITY_TEST_DAYS"] == "20"
    event = load_event("train_schedule.json")

    first = schedule.fn.invoke(event)
    assert first["trained"] is False  # nothing in the outcomes yet
    lines = "\n".join(json.dumps(f) for f in _facts(random.Random(5)))
    s3.put_object(Bucket=bucket, Key="facts/dt=2026-03-20/test.json", Body=lines.encode())

    got = schedule.fn.invoke(event)
    assert got["trained"] and got["version"] == 1 and got["in_use"] == "v1", got
    assert got["test_auc"] > got["heuristic_test_auc"]  # DPD is the same for all: the heuristic cannot rank
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="models/propensity/")["Contents"]}
    assert keys == {"models/propensity/v0001.json", "models/propensity/current.json"}
    model, version = propensity_store.read_current(bucket)
    assert version == 1 and model is not None

    again = schedule.fn.invoke(event)  # the same outcomes: as good as the one in use, and newer
    assert (again["version"], again["in_use"], again["incumbent_test_auc"]) == (2, "v2", got["test_auc"])

    propensity_store._cache.clear()
    now = datetime(2026, 4, 20, tzinfo=UTC)
    score, v = propensity_store.scorer(bucket, now)
    assert v == 2 and score is not None
    s3.put_object(Bucket=bucket, Key=propensity_store.CURRENT, Body=b"{not json")
    assert propensity_store.scorer(bucket, now + timedelta(minutes=30))[1] == 2  # read an hour ago at most
    assert propensity_store.scorer(bucket, now + timedelta(hours=2))[1] == 2  # unreadable: the one read before
    propensity_store._cache.clear()
    assert propensity_store.scorer(bucket, now) == (None, None)  # unreadable, nothing before: the heuristic
    propensity_store.retire(bucket)
    assert propensity_store.read_current(bucket) == (None, None)
    assert len(propensity_store.versions(bucket)) == 2  # every version kept
