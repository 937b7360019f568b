"""Strategy versions in the StrategiesTable deployed from template.yaml: publish, activate, roll back."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration
DEFAULTS = Path(__file__).resolve().parents[2] / "layers" / "arrears" / "arrears" / "strategies"
NOW = datetime(2026, 4, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def store(stack):
    from arrears.adapters import strategy_store
    from arrears.adapters.models import bind
    from arrears.config import settings

    os.environ.update(stack.runner.functions["DailyRunFunction"].env)
    settings.cache_clear()
    bind(settings())
    return strategy_store


def test_the_local_stack_publishes_the_shipped_defaults(store):
    assert store.active("cn-default").version == store.active("us-default").version == 1


def test_publish_versions_activate_and_roll_back(store):
    doc = {**yaml.safe_load((DEFAULTS / "cn-default.yaml").read_text()), "id": "cn-trial"}
    assert store.publish(doc, NOW).version == 1
    doc["segments"][0]["cooldown_hours"] = 30
    assert store.publish(doc, NOW).version == 2
    assert store.active("cn-trial").champion.segments[0].cooldown_hours == 30
    assert store.rollback("cn-trial") == 1
    assert store.active("cn-trial").version == 1
    assert store.active("cn-trial").champion.segments[0].cooldown_hours == 20
    assert store.versions("cn-trial") == [1, 2]  # versions are kept; only the pointer moved
    with pytest.raises(store.StrategyStoreError, match="no earlier version"):
        store.rollback("cn-trial")


def test_an_invalid_document_is_refused_before_anything_is_written(store):
    from arrears.domain.strategies import StrategyError

    doc = {**yaml.safe_load((DEFAULTS / "us-default.yaml").read_text()), "id": "us-trial"}
    doc["segments"][0]["steps"][0]["channel"] = "pigeon"
    with pytest.raises(StrategyError, match="pigeon"):
        store.publish(doc, NOW)
    assert store.versions("us-trial") == []


def test_operators_publish_and_roll_back_from_the_command_line(store, stack, capsys):
    from arrears_local.cli import main

    table = stack.dep.physical["StrategiesTable"]
    before = store.active("us-default").version
    assert main(["strategy-publish", "--table", table, str(DEFAULTS / "us-default.yaml")]) == 0
    assert store.active("us-default").version == before + 1
    assert main(["strategy-rollback", "--table", table, "us-default"]) == 0
    assert store.active("us-default").version == before
    assert f"version {before} is active again" in capsys.readouterr().out
    bad = DEFAULTS.parent / "strategies" / "nope.yaml"
    assert main(["strategy-publish", "--table", table, str(bad)]) == 2  # a usage error: no such file
