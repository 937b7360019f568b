"""API Gateway's REST API for the local stack: an HTTP server on 127.0.0.1 that does what the deployed
stage does in front of the API function, so ``curl`` behaves locally as it does against AWS.

Routes come from the REST API's definition in the translated template (the Swagger document generated
from the Chalice app), one resource per route, so each request reaches the function as the REST (v1)
proxy event API Gateway sends: ``resource`` and ``requestContext.resourcePath`` are the matched
template (Chalice routes by them), ``pathParameters`` its values. In front of the function, as the
stage does: a path or method the API does not have gets API Gateway's 403 ``Missing Authentication
Token``; a body over the payload limit 413; requests above the stage's throttling rate and burst 429
``Too Many Requests`` (a token bucket, as API Gateway's); the function's proxy response (status,
headers, multi-value headers, base64 bodies) goes back as it is. After each request the runner
delivers what the function set off (the ledger stream applies a repayment at once, as in AWS).

moto's API Gateway cannot invoke a Lambda function here (LOCAL_AWS.md), hence this front.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qs, unquote, urlsplit

#: API Gateway's payload limit (10 MB); the app may set a smaller one of its own
MAX_PAYLOAD = 10 * 1024 * 1024
#: API Gateway's own answers (gateway response types), unless the definition gives its own
GATEWAY_DEFAULTS = {
    "MISSING_AUTHENTICATION_TOKEN": (403, "Missing Authentication Token"),
    "REQUEST_TOO_LARGE": (413, "Request Too Long"),
    "THROTTLED": (429, "Too Many Requests"),
    "DEFAULT_5XX": (502, "Internal server error"),
}


class Route(NamedTuple):
    method: str
    resource: str  # the template, e.g. /v1/loans/{loan_id}/holds
    pattern: re.Pattern[str]
    params: tuple[str, ...]


class Response(NamedTuple):
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def routes_of(definition: dict[str, Any]) -> list[Route]:
    """Each (method, resource) of a Swagger/OpenAPI document's paths; literal segments before templated
    ones, as API Gateway prefers the more specific resource."""
    out = []
    for resource, methods in definition.get("paths", {}).items():
        params = tuple(re.findall(r"{([^}/]+?)\+?}", resource))
        regex = "^" + re.sub(r"\\{([^}/]+?)\\}", r"(?P<\1>[^/]+)", re.escape(resource)) + "/?$"
        for method in methods:
            if method.lower() in ("get", "put", "post", "delete", "patch", "head", "options"):
                out.append(Route(method.upper(), resource, re.compile(regex), params))
    return sorted(out, key=lambda r: (r.resource.count("{"), -len(r.resource)))


class TokenBucket:
    """API Gateway's throttle: ``rate`` requests a second on average, bursts up to ``burst``."""

    def __init__(self, rate: float, burst: int, now: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.now = rate, burst, now
        self.tokens, self.at = float(burst), now()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            t = self.now()
            self.tokens = min(float(self.burst), self.tokens + (t - self.at) * self.rate)
            self.at = t
            if self.tokens < 1:
                return False
            self.tokens -= 1
            return True


def gateway_responses(definition: dict[str, Any]) -> dict[str, Response]:
    """What the stage answers itself, per gateway response type: API Gateway's defaults, or the
    definition's ``x-amazon-apigateway-gateway-responses`` (status and JSON template)."""
    custom = definition.get("x-amazon-apigateway-gateway-responses", {})
    out = {}
    for kind, (status, message) in GATEWAY_DEFAULTS.items():
        mine = custom.get(kind, {})
        body = mine.get("responseTemplates", {}).get("application/json") or json.dumps({"message": message})
        headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", kind)]
        out[kind] = Response(int(mine.get("statusCode", status)), headers, body.encode())
    return out


class ApiFront:
    def __init__(
        self,
        definition: dict[str, Any],
        invoke: Callable[[dict[str, Any]], Any],
        *,
        rate: float = 10_000.0,
        burst: int = 5_000,
        max_payload: int = MAX_PAYLOAD,
        port: int = 0,
        stage: str = "live",
        local: dict[tuple[str, str], Callable[[bytes], Response]] | None = None,
    ) -> None:
        """``invoke`` runs the function with an event and returns its proxy response (the runner's
        ``LocalFunction.invoke``, under the runner's lock, then the runner's pump)."""
        self.routes, self.stage, self.answers = routes_of(definition), stage, gateway_responses(definition)
        self.invoke, self.bucket, self.max_payload = invoke, TokenBucket(rate, burst), max_payload
        self.port = port
        self.local = local or {}  # the local stack's own routes (its sign-in), not the stage's
        self.server: ThreadingHTTPServer | None = None

    # -- the stage --------------------------------------------------------------------------------
    def handle(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> Response:
        url = urlsplit(target)
        path = unquote(url.path) or "/"
        if (method, path) in self.local:
            return self.local[(method, path)](body)
        match = next(((r, m) for r in self.routes if r.method == method and (m := r.pattern.match(path))), None)
        if match is None:
            return self.answers["MISSING_AUTHENTICATION_TOKEN"]
        if len(body) > self.max_payload:
            return self.answers["REQUEST_TOO_LARGE"]
        if not self.bucket.take():
            return self.answers["THROTTLED"]
        route, m = match
        params = {k: unquote(v) for k, v in m.groupdict().items()}
        event = proxy_event(route, params, method, path, url.query, headers, body, stage=self.stage)
        try:
            result = self.invoke(event)
        except Exception:  # the function failed: API Gateway answers 502 (the function's log has why)
            return self.answers["DEFAULT_5XX"]
        return _response(result) or self.answers["DEFAULT_5XX"]

    # -- HTTP --------------------------------------------------------------------------------------
    def start(self) -> str:
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body go out in two writes: without TCP_NODELAY the body waits for the
            # client's delayed ACK of the headers (~40 ms a request on Linux); API Gateway has no such wait
            disable_nagle_algorithm = True

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                r = front.handle(self.command, self.path, list(self.headers.items()), body)
                self.send_response(r.status)
                sent = {k.lower() for k, _ in r.headers}
                for k, v in r.headers:
                    self.send_header(k, v)
                if "content-length" not in sent:
                    self.send_header("Content-Length", str(len(r.body)))
                self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(r.body)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _any  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True, name="api-front").start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def proxy_event(
    route: Route,
    params: dict[str, str],
    method: str,
    path: str,
    query: str,
    headers: list[tuple[str, str]],
    body: bytes | None,
    *,
    stage: str = "live",
    now: datetime | None = None,
) -> dict[str, Any]:
    """The REST (v1) proxy event API Gateway sends the function for this request."""
    body = body or b""
    multi_headers: dict[str, list[str]] = {}
    for k, v in headers:
        multi_headers.setdefault(k, []).append(v)
    multi_query = {k: v for k, v in parse_qs(query, keep_blank_values=True).items()} if query else None
    try:
        text, encoded = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode(), True
    now = now or datetime.now(UTC)
    return {
        "resource": route.resource,
        "path": path,
        "httpMethod": method,
        "headers": {k: v[-1] for k, v in multi_headers.items()} or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} if multi_query else None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": params or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": route.resource,
            "httpMethod": method,
            "path": f"/{stage}{path}",
            "stage": stage,
            "requestId": str(uuid.uuid4()),
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "identity": {"sourceIp": "127.0.0.1", "userAgent": multi_headers.get("User-Agent", [""])[-1]},
            "protocol": "HTTP/1.1",
            "accountId": "123456789012",
            "apiId": "local",
            "resourceId": "local",
        },
        "body": text if body else None,
        "isBase64Encoded": encoded,
    }


def _response(result: Any) -> Response | None:
    """The function's proxy response as API Gateway returns it; None for a malformed one (a 502)."""
    if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
        return None
    headers: list[tuple[str, str]] = [(k, str(v)) for k, v in (result.get("headers") or {}).items()]
    for k, values in (result.get("multiValueHeaders") or {}).items():
        headers += [(k, str(v)) for v in values if (k, str(v)) not in headers]
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
    return Response(result["statusCode"], headers, raw)
