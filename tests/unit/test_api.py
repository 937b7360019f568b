"""The HTTP API without AWS: its definitions are current and valid, its schemas agree with the
validator, and the answers that need no AWS (415, 413, 401) through Chalice's in-process test client."""

from __future__ import annotations

import importlib.util
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft4Validator

from arrears.domain import api
from arrears.domain.importing import Limits, parse_row

ROOT = Path(__file__).resolve().parents[2]
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def _module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generate():
    return _module(ROOT / "infra" / "api" / "generate.py", "arrears_api_generate")


def test_the_checked_in_definitions_are_what_the_app_generates(generate, capsys):
    assert generate.main(["--check"]) == 0, capsys.readouterr().err


def test_the_definitions_are_valid_swagger_2_and_openapi_3(generate):
    from openapi_spec_validator import validate

    swagger = json.loads(generate.SWAGGER.read_text())
    openapi = json.loads(generate.OPENAPI.read_text())
    validate(swagger)
    validate(openapi)
    assert swagger["swagger"] == "2.0" and openapi["openapi"].startswith("3.0")


def test_api_gateway_routes_every_path_to_the_templates_function_by_its_own_resource(generate):
    """One resource per route (Chalice routes by requestContext.resourcePath: no {proxy+})."""
    swagger = json.loads(generate.SWAGGER.read_text())
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=_CfnLoader)
    api_props = template["Resources"]["Api"]["Properties"]
    assert api_props["DefinitionBody"]["Fn::Transform"]["Parameters"]["Location"] == "infra/api/swagger.json"
    assert template["Resources"][generate.FUNCTION]["Properties"]["CodeUri"] == "functions/api/"
    for path, ops in swagger["paths"].items():
        assert "proxy+" not in path
        for op in ops.values():
            integration = op["x-amazon-apigateway-integration"]
            assert integration["type"] == "aws_proxy"
            assert "${ApiFunction.Arn}" in integration["uri"]["Fn::Sub"]


class _CfnLoader(yaml.SafeLoader):
    pass


_CfnLoader.add_multi_constructor("!", lambda loader, tag, node: None)


GOOD = {"payment_id": "P-1", "loan_id": "L1", "paid_at": "2026-03-02T12:00:00+08:00", "amount": "105.00"}


@pytest.mark.parametrize(
    "body",
    [
        GOOD,
        {**GOOD, "amount": "105"},
        {**GOOD, "currency": "CNY", "method": "bank_transfer"},
        {**GOOD, "paid_at": "2026-03-02T04:00:00Z"},
    ],
)
def test_what_the_schema_describes_the_validator_accepts(body):
    Draft4Validator(api.REPAYMENT).validate(body)
    parse_row("repayments", body, Limits(datetime(2026, 3, 3, tzinfo=UTC)))


@pytest.mark.parametrize(
    "body",
    [
        {**GOOD, "note": "x"},
        {k: v for k, v in GOOD.items() if k != "amount"},
        {**GOOD, "amount": "-1"},
        {**GOOD, "payment_id": "-x"},
    ],
)
def test_what_the_schema_refuses_the_validator_refuses(body):
    assert list(Draft4Validator(api.REPAYMENT).iter_errors(body))
    with pytest.raises(ValueError):
        extra = set(body) - set(api.REPAYMENT["properties"])
        if extra:
            raise ValueError(f"unknown field(s) {extra}")
        parse_row("repayments", body, Limits(datetime(2026, 3, 3, tzinfo=UTC)))


# ------------------------------------------------------------------------------ chalice test client


@pytest.fixture
def client(monkeypatch):
    from chalice.test import Client

    from arrears.adapters import webhook_secrets

    env = {
        "LEDGER_TABLE": "ledger",
        "IDEMPOTENCY_TABLE": "idem",
        "BORROWERS_TABLE": "borrowers",
        "CONTACTS_TABLE": "contacts",
        "LOANS_TABLE": "loans",
        "WEBHOOK_SECRET_ID": "secret",
        "OUTCOMES_BUCKET": "outcomes",
        "MAX_BODY_BYTES": "2048",
        "ARREARS_SIMULATED_NOW": "2026-03-02T04:00:00+00:00",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(webhook_secrets, "secrets", lambda secret_id, stale_ok=True: (SECRET,))
    module = _module(ROOT / "functions" / "api" / "app.py", "arrears_api_app_unit")
    with Client(module.app) as c:
        yield c


def post(client, body: bytes, headers: dict[str, str]):
    response = client.http.post("/v1/repayments", headers=headers, body=body)
    return response.status_code, json.loads(response.body)


def signed(body: bytes, stamp: str = "1772424000") -> dict[str, str]:  # 2026-03-02T04:00:00Z
    from arrears.domain.webhooks import sign

    return {
        "Content-Type": "application/json",
        "webhook-id": "msg_1",
        "webhook-timestamp": stamp,
        "webhook-signature": sign(SECRET, "msg_1", stamp, body),
    }


def test_another_media_type_is_415(client):
    body = json.dumps(GOOD).encode()
    assert post(client, body, {**signed(body), "Content-Type": "text/csv"}) == (
        415,
        {"Code": "UnsupportedMediaType", "Message": "Unsupported media type: text/csv"},
    )


def test_a_body_over_the_limit_is_413_before_anything_else(client):
    body = json.dumps({**GOOD, "method": "x" * 3000}).encode()
    status, answer = post(client, body, {"Content-Type": "application/json"})
    assert status == 413 and answer["Code"] == "RequestTooLarge"


def test_unsigned_or_stale_or_tampered_is_401(client):
    body = json.dumps(GOOD).encode()
    assert post(client, body, {"Content-Type": "application/json"})[0] == 401
    assert post(client, body, signed(body, "1772423699"))[1]["Message"].startswith("webhook-timestamp is more than 300")
    assert post(client, body + b" ", signed(body)) == (401, {"Code": "Unauthorized", "Message": "no valid signature"})


def test_json_that_is_not_an_object_is_400_after_the_signature(client):
    for body in (b"[1]", b"{", b'{"a": 1, "a": 2}'):
        status, answer = post(client, body, signed(body))
        assert status == 400 and answer["Code"] == "BadRequest", answer


def test_the_layer_ships_the_chalice_the_tests_use():
    def pin(path: Path) -> str:
        return next(line.split("#")[0].strip() for line in path.read_text().splitlines() if line.startswith("chalice=="))

    assert pin(ROOT / "layers" / "arrears" / "requirements-runtime-only.txt") == pin(ROOT / "requirements-dev.txt")
