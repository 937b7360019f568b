"""EventBridge Scheduler (weekly) -> the propensity-to-pay model trained from the outcomes table and
kept as its next version in the outcomes bucket (models/propensity/)."""

import os

from arrears.config import ConfigError, settings
from arrears.domain.timeutil import parse_instant
from arrears.observability import logger, metrics
from arrears.usecases.train import train_propensity


def _test_days() -> int:
    raw = os.environ.get("PROPENSITY_TEST_DAYS", "20")
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"bad configuration: PROPENSITY_TEST_DAYS={raw!r}: a whole number of days, at least 1")
    return int(raw)


TEST_DAYS = _test_days()  # checked at start-up: a bad setting fails loudly


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict, context: object) -> dict:
    return train_propensity(settings(), parse_instant(event.get("scheduled_time")), TEST_DAYS)
