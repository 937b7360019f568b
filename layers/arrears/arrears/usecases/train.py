"""Train the propensity-to-pay model from the outcomes table and keep it as the next version. On the
held-out last days it is compared with the heuristic and with the model in use: the best ranks work
from now on (a model must beat the heuristic; one in use that no longer does is retired)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..adapters import propensity_store
from ..config import Settings
from ..domain import propensity
from ..domain.timeutil import iso
from ..observability import logger, metrics


def train_propensity(
    s: Settings, now: datetime, test_days: int, facts: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """``facts``: the outcomes table's rows, when the caller has read them already."""
    facts = propensity_store.read_facts(s.outcomes_bucket) if facts is None else facts
    rows = propensity.decisions(facts)
    if not rows:
        return _untrained("no decisions with a known label yet (the outcomes need 7 days past a delinquent evaluation)")
    incumbent, incumbent_version = propensity_store.read_current(s.outcomes_bucket)
    try:
        _, doc = propensity.fit(rows, propensity.split_day_for(rows, test_days), incumbent)
    except ValueError as e:
        return _untrained(str(e))
    choice = doc["choice"]
    version = propensity_store.publish(s.outcomes_bucket, {**doc, "trained_at": iso(now)}, activate=choice == "new")
    if choice == "heuristic" and incumbent is not None:
        propensity_store.retire(s.outcomes_bucket)  # the model in use now ranks worse than the heuristic
    metrics.add_metric(name="PropensityTestAucPct", unit="Percent", value=round(100 * (doc["test"]["auc"] or 0), 2))
    in_use = {"new": f"v{version}", "incumbent": f"v{incumbent_version}", "heuristic": "heuristic"}[choice]
    result = {
        "trained": True,
        "version": version,
        "in_use": in_use,
        "test_auc": doc["test"]["auc"],
        "heuristic_test_auc": doc["heuristic_test_auc"],
        "incumbent_test_auc": doc["incumbent_test_auc"],
        "decisions": doc["train"]["decisions"] + doc["test"]["decisions"],
    }
    logger.info("propensity model trained", extra=result)
    return result


def _untrained(why: str) -> dict[str, Any]:
    logger.info("propensity model not trained", extra={"why": why})
    return {"trained": False, "why": why}
