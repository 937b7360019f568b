"""The local API front does what API Gateway's REST stage does in front of a Chalice app: routes by
the definition generated from the app (resourcePath, path parameters), API Gateway's own 403, 413 and
429, and the function's response as it is. Over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from chalice import Chalice, Response
from chalice.deploy.swagger import CFNSwaggerGenerator

from arrears_local.api_front import ApiFront, TokenBucket, routes_of


def _app() -> Chalice:
    app = Chalice(app_name="front-test")

    @app.route("/v1/loans/{loan_id}/holds", methods=["POST"])
    def add_hold(loan_id: str) -> Response:
        return Response(body={"loan_id": loan_id, "got": json.loads(app.current_request.raw_body)}, status_code=202)

    @app.route("/v1/loans/{loan_id}/holds/{hold}", methods=["DELETE"])
    def lift(loan_id: str, hold: str) -> Response:
        return Response(body="", status_code=204, headers={"X-Hold": hold})

    @app.route("/v1/repayments", methods=["POST"])
    def repay() -> dict:
        return {"path": app.current_request.context["resourcePath"], "q": app.current_request.query_params}

    return app


def _call(url: str, method: str, body: bytes | None = None) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310 - 127.0.0.1
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


@pytest.fixture
def front():
    app = _app()
    definition = CFNSwaggerGenerator().generate_swagger(app)
    f = ApiFront(definition, lambda event: app(event, None), rate=1000, burst=1000, max_payload=1000)
    url = f.start()
    yield f, url
    f.stop()


def test_requests_reach_the_chalice_routes_as_api_gateway_sends_them(front):
    _, url = front
    status, _, body = _call(f"{url}/v1/loans/L%201/holds", "POST", b'{"hold": "dispute"}')
    assert status == 202 and json.loads(body) == {"loan_id": "L 1", "got": {"hold": "dispute"}}
    status, headers, body = _call(f"{url}/v1/loans/L1/holds/dispute", "DELETE")
    assert status == 204 and headers["X-Hold"] == "dispute" and body == b""
    status, _, body = _call(f"{url}/v1/repayments?x=1", "POST", b"{}")
    assert status == 200 and json.loads(body) == {"path": "/v1/repayments", "q": {"x": "1"}}


def test_the_stage_answers_for_what_the_api_does_not_have(front):
    _, url = front
    assert _call(f"{url}/v1/nothing", "POST", b"{}")[0] == 403  # API Gateway: Missing Authentication Token
    assert _call(f"{url}/v1/repayments", "GET")[0] == 403
    status, _, body = _call(f"{url}/v1/repayments", "POST", b"x" * 1001)
    assert status == 413 and json.loads(body) == {"message": "Request Too Long"}


def test_throttling_is_a_token_bucket_with_api_gateways_429():
    clock = [0.0]
    bucket = TokenBucket(rate=2, burst=3, now=lambda: clock[0])
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    clock[0] += 1.0  # two more a second
    assert [bucket.take() for _ in range(3)] == [True, True, False]
    app = _app()
    f = ApiFront(CFNSwaggerGenerator().generate_swagger(app), lambda e: app(e, None), rate=0.001, burst=1)
    assert f.handle("POST", "/v1/repayments", [], b"{}").status == 200
    r = f.handle("POST", "/v1/repayments", [], b"{}")
    assert r.status == 429 and json.loads(r.body) == {"message": "Too Many Requests"}


def test_literal_resources_win_over_templated_ones():
    doc = {"paths": {"/v1/loans/{loan_id}": {"get": {}}, "/v1/loans/export": {"get": {}}}}
    assert [r.resource for r in routes_of(doc)] == ["/v1/loans/export", "/v1/loans/{loan_id}"]


def test_a_function_that_fails_is_api_gateways_502():
    def boom(event):
        raise RuntimeError("x")

    f = ApiFront({"paths": {"/v1/x": {"post": {}}}}, boom)
    r = f.handle("POST", "/v1/x", [], b"")
    assert r.status == 502 and json.loads(r.body) == {"message": "Internal server error"}
