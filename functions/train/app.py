"""EventBridge Scheduler (weekly) -> the propensity-to-pay model trained from the outcomes table and
kept as its next version in the outcomes bucket (models/propensity/); then each strategy's weekly
proposal (usecases/proposals.py), from the same facts."""

import os

from arrears.adapters.models import bind
from arrears.adapters.propensity_store import read_facts
from arrears.config import ConfigError, settings
from arrears.domain.timeutil import parse_instant
from arrears.observability import logger, metrics
from arrears.usecases.proposals import ADOPTIONS, propose_strategies
from arrears.usecases.train import train_propensity


def _test_days() -> int:
    raw = os.environ.get("PROPENSITY_TEST_DAYS", "20")
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"bad configuration: PROPENSITY_TEST_DAYS={raw!r}: a whole number of days, at least 1")
    return int(raw)


def _adoption() -> str:
    raw = os.environ.get("PROPOSALS_ADOPT", "draft")
    if raw not in ADOPTIONS:
        raise ConfigError(f"bad configuration: PROPOSALS_ADOPT={raw!r}: one of {', '.join(ADOPTIONS)}")
    return raw


TEST_DAYS = _test_days()  # checked at start-up: a bad setting fails loudly
ADOPT = _adoption()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict, context: object) -> dict:
    s, now = settings(), parse_instant(event.get("scheduled_time"))
    bind(s)
    rows = read_facts(s.outcomes_bucket)  # read once for both
    result = train_propensity(s, now, TEST_DAYS, rows)
    result["proposals"] = propose_strategies(s, now, ADOPT, rows)
    return result
