"""S3 ObjectCreated on the imports bucket -> import the file into the ledger."""

from functools import lru_cache
from urllib.parse import unquote_plus

from arrears.adapters.models import bind
from arrears.clock import now
from arrears.config import ImportSettings, settings
from arrears.observability import logger, metrics
from arrears.usecases.imports import Feed, import_object


@lru_cache(maxsize=1)
def import_settings() -> ImportSettings:
    return ImportSettings.from_env()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict, context: object) -> dict:
    s = settings()
    bind(s)
    limits = import_settings()
    feed = Feed(s.outcomes_bucket, s.business_tz)
    results = []
    for record in event.get("Records", []):
        bucket = record["s3"]["bucket"]["name"]
        key = unquote_plus(record["s3"]["object"]["key"])
        result = import_object(bucket, key, limits, now(), feed)
        if result is not None:
            results.append(result.as_dict())
    return {"results": results}
