"""EventBridge Scheduler (daily, just after midnight) -> yesterday's report from the outcomes facts."""

from datetime import timedelta

from arrears.config import analytics_target, settings
from arrears.domain.timeutil import local_date, parse_date, parse_instant
from arrears.observability import logger, metrics
from arrears.usecases.reporting import build_report


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict, context: object) -> dict:
    s = settings()
    analytics_target()  # the page's workgroup and database: a missing one fails here, loudly
    if event.get("report_date"):
        day = parse_date(event["report_date"])
    else:
        day = local_date(parse_instant(event.get("scheduled_time")), s.business_tz) - timedelta(days=1)
    return build_report(s, day)
