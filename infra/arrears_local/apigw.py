"""API Gateway REST (v1) proxy events, shaped as API Gateway sends them to the API's function, and the
platform's side of Standard Webhooks signing (for tests, the local stack and the README's examples).

API Gateway matches a request's path against the API's resources (``/v1/loans/{loan_id}/holds``) and
passes the matched resource in ``resource`` and ``requestContext.resourcePath``, which is how Chalice
routes; the resources come from the checked-in definition (infra/api/swagger.json).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from .api_front import Route, proxy_event, routes_of
from .stack import ROOT

SWAGGER = ROOT / "infra" / "api" / "swagger.json"
STAGE = "live"


@cache
def routes(swagger: Path = SWAGGER) -> list[Route]:
    """The API's resources and methods, from its definition."""
    return routes_of(json.loads(swagger.read_text(encoding="utf-8")))


def rest_event(
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes | None,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The proxy event API Gateway sends for a request to ``path`` (without the stage); raises KeyError
    for a path matching no resource (API Gateway answers such a request itself). The event is built as
    the local API front builds it (``api_front.proxy_event``)."""
    bare, _, query = path.partition("?")
    found = next(((r, m) for r in routes() if r.method == method and (m := r.pattern.match(bare))), None)
    if found is None:
        raise KeyError(path)
    route, m = found
    return proxy_event(route, m.groupdict(), method, bare, query, list(headers.items()), body, stage=STAGE, now=now)


def signed_headers(secret: str, body: bytes, now: datetime | None = None, msg_id: str | None = None) -> dict[str, str]:
    """What the platform sends with a body: Standard Webhooks headers signed with ``secret``."""
    from arrears.domain.webhooks import sign

    stamp = str(int((now or datetime.now(UTC)).timestamp()))
    msg = msg_id or f"msg_{uuid.uuid4().hex}"
    return {
        "Content-Type": "application/json",
        "webhook-id": msg,
        "webhook-timestamp": stamp,
        "webhook-signature": sign(secret, msg, stamp, body),
    }
