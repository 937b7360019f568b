"""API Gateway REST (v1) proxy events, shaped as API Gateway sends them to the API's function, and the
platform's side of Standard Webhooks signing (for tests, the local stack and the README's examples).

API Gateway matches a request's path against the API's resources (``/v1/loans/{loan_id}/holds``) and
passes the matched resource in ``resource`` and ``requestContext.resourcePath``, which is how Chalice
routes; the resources come from the checked-in definition (infra/api/swagger.json).
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from .stack import ACCOUNT, REGION, ROOT

SWAGGER = ROOT / "infra" / "api" / "swagger.json"
STAGE = "live"
API_ID = "local"


@cache
def resources(swagger: Path = SWAGGER) -> dict[str, tuple[str, ...]]:
    """resource path -> its methods, from the API's definition."""
    doc = json.loads(swagger.read_text(encoding="utf-8"))
    return {path: tuple(m.upper() for m in ops) for path, ops in doc["paths"].items()}


def match(path: str, known: dict[str, tuple[str, ...]] | None = None) -> tuple[str, dict[str, str]] | None:
    """The resource a concrete path falls on, with its path parameters (None: no such resource)."""
    for resource in known if known is not None else resources():
        pattern = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(resource)) + "$"
        m = re.match(pattern, path)
        if m:
            return resource, m.groupdict()
    return None


def rest_event(
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes | None,
    *,
    now: datetime | None = None,
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """The proxy event API Gateway sends for a request to ``path`` (without the stage); raises KeyError
    for a path matching no resource (API Gateway answers such a request itself)."""
    found = match(path)
    if found is None:
        raise KeyError(path)
    resource, params = found
    at = now or datetime.now(UTC)
    text = body.decode("utf-8", errors="replace") if body is not None else None
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": dict(headers) or None,
        "multiValueHeaders": {k: [v] for k, v in headers.items()} or None,
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": params or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": uuid.uuid5(uuid.NAMESPACE_URL, resource).hex[:6],
            "resourcePath": resource,
            "httpMethod": method,
            "extendedRequestId": uuid.uuid4().hex[:16],
            "requestTime": at.astimezone(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "path": f"/{STAGE}{path}",
            "accountId": ACCOUNT,
            "protocol": "HTTP/1.1",
            "stage": STAGE,
            "domainPrefix": API_ID,
            "requestTimeEpoch": int(at.timestamp() * 1000),
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": source_ip, "userAgent": headers.get("User-Agent", ""), "accountId": None},
            "domainName": f"{API_ID}.execute-api.{REGION}.amazonaws.com",
            "apiId": API_ID,
        },
        "body": text,
        "isBase64Encoded": False,
    }


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
