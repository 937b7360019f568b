"""S3 ObjectCreated on the imports bucket -> import the file into the ledger."""

from urllib.parse import unquote_plus

from arrears.adapters.models import bind
from arrears.config import settings
from arrears.observability import logger, metrics
from arrears.usecases.imports import import_object


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict, context: object) -> dict:
    bind(settings())
    results = []
    for record in event.get("Records", []):
        bucket = record["s3"]["bucket"]["name"]
        key = unquote_plus(record["s3"]["object"]["key"])
        results.append(import_object(bucket, key).as_dict())
    return {"results": results}
