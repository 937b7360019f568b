"""The platform's HTTP API (API Gateway REST API -> this Chalice app): routes only; each view hands the
signed request to one use case in ``arrears.usecases.webhook``. ``infra/api/generate.py`` builds the
API Gateway definition and openapi.json from these routes."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from chalice import Chalice, Response

from arrears.adapters.models import bind
from arrears.clock import now
from arrears.observability import logger, metrics
from arrears.usecases import webhook

app = Chalice(app_name="arrears-api")
app.debug = False  # never a traceback in a response
app.api.binary_types = []  # every body reaches the app as sent (a wrong type is answered 415)

JSON = ["application/json"]


@functools.cache
def api_settings() -> webhook.ApiSettings:
    s = webhook.ApiSettings.from_env()  # a bad setting fails the cold start, naming it
    bind(s)
    return s


def signed(route: Callable[..., webhook.Answer]) -> Callable[..., Response]:
    """Size and signature first, then the view; every outcome is an answer (see usecases/webhook.py)."""

    @functools.wraps(route)
    def view(**path: str) -> Response:
        request = app.current_request
        incoming = webhook.Incoming(request.headers, bytes(request.raw_body or b""))
        answer = webhook.receive(incoming, api_settings(), now(), lambda inc, wid: route(inc, wid, **path))
        headers = {"Content-Type": "application/json", **answer.headers}
        return Response(body=answer.body, status_code=answer.status, headers=headers)

    return view


@app.route("/v1/repayments", methods=["POST"], content_types=JSON)
@signed
def post_repayment(incoming: webhook.Incoming, webhook_id: str) -> webhook.Answer:
    """Record a repayment (idempotent on payment_id).

    The repayment enters the ledger as an imported one does, and the ledger stream applies it at once:
    a payment that brings the loan to DPD 0 closes its case as cured and cancels its planned actions.
    """
    return webhook.record_repayment(incoming, api_settings(), now())


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app(event, context)  # type: ignore[no-any-return]
