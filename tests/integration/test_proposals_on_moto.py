"""The weekly proposal on the local stack, as TrainFunction runs it after training: from the facts in
the outcomes bucket, a draft of the strategy in use with its changes explained, kept with its evidence
in the bucket; never activated unless ProposalAdoption says so, and never over an operator's draft."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

pytestmark = pytest.mark.integration
NOW = datetime(2026, 4, 6, 20, 0, tzinfo=UTC)  # Monday 04:00 in Shanghai


def _facts() -> list[dict]:
    """Five weeks of contacts: the M1 SMS pays after half of its contacts, the WeChat reminder after 5%."""
    rows: list[dict] = []
    start = NOW - timedelta(days=34)
    for n in range(240):
        step, channel, pays = ("m1-sms", "sms", n % 4 == 1) if n % 2 else ("m1-wechat", "wechat", n % 40 == 0)
        at = start + timedelta(hours=2 * n)
        common = {"loan_id": f"L{n}", "currency": "CNY", "strategy": "cn-default", "variant": "champion"}
        rows.append(
            {
                "fact_id": f"s{n}",
                "fact_type": "action_sent",
                "occurred_at": at.isoformat(),
                "step": step,
                "channel": channel,
                "action_id": f"A{n}",
                "amount_minor": 50_000,
                "cost_micros": 50_000,
                **common,
            }
        )
        if pays:
            rows.append(
                {
                    "fact_id": f"p{n}",
                    "fact_type": "repayment_applied",
                    "from_bucket": "M1",
                    "occurred_at": (at + timedelta(days=2)).isoformat(),
                    "amount_minor": 50_000,
                    **common,
                }
            )
    return rows


def _run(stack, adopt: str) -> dict:
    from arrears.config import Settings
    from arrears.usecases.proposals import propose_strategies

    settings = Settings.from_env(stack.runner.functions["TrainFunction"].env)
    return propose_strategies(settings, NOW, adopt, _facts())


def test_a_proposal_is_a_draft_with_its_evidence_and_nothing_is_activated(stack):
    from arrears.adapters import strategy_store
    from arrears.adapters.clients import client

    active = strategy_store.active_version("cn-default")
    got = _run(stack, "draft")["cn-default"]
    assert got["outcome"] == "saved as the draft" and got["changes"] == 1
    assert strategy_store.active_version("cn-default") == active  # an operator decides
    doc, item = strategy_store.document("cn-default", None)
    assert item.created_by == "weekly-proposal" and doc["challengers"][-1]["variant"] == "proposal-2026-04-06"
    kept = json.loads(client("s3").get_object(Bucket=stack.outcomes_bucket, Key=got["key"])["Body"].read())
    (change,) = kept["changes"]
    assert (change["step"], change["what"]) == ("m1-wechat", "switch_channel")
    assert change["evidence"]["contacts"] == 120 and change["evidence"]["best"]["step"] == "m1-sms"
    assert kept["based_on"] == active and kept["draft"] == doc


def test_an_operators_draft_is_never_overwritten(stack):
    from arrears.adapters import strategy_store
    from arrears.adapters.clients import client

    doc, _ = strategy_store.document("cn-default", active := strategy_store.active_version("cn-default"))
    put = strategy_store.draft_put(stack.dep.physical["StrategiesTable"], "cn-default", doc, NOW, "sue")["Put"]
    client("dynamodb").put_item(**put)
    got = _run(stack, "draft")["cn-default"]
    assert got["outcome"] == "kept as a proposal only: sue's draft is pending"
    assert strategy_store.document("cn-default", None)[1].created_by == "sue"
    assert strategy_store.active_version("cn-default") == active


def test_with_the_setting_a_proposal_runs_as_a_challenger_at_once(stack):
    from arrears.adapters import strategy_store

    before = strategy_store.active_version("cn-default")
    got = _run(stack, "challenger")["cn-default"]
    assert got["outcome"] == f"published and activated as v{before + 1} (ProposalAdoption=challenger)"
    strategy = strategy_store.active("cn-default")
    assert [v.name for v in strategy.variants] == ["champion", "proposal-2026-04-06"]
    assert strategy.variants[1].share == 0.2
