"""Generate the API's definitions from the Chalice app (functions/api/app.py) and the package's schemas
(arrears.domain.api), so routes are defined in one place:

- infra/api/swagger.json: the API Gateway REST API's definition (Swagger 2.0 as Chalice generates
  it, its integration naming the template's ApiFunction), included by template.yaml;
- infra/api/openapi.json: OpenAPI 3.0 for the platform's engineers and for fuzzing.

    python infra/api/generate.py          # write both
    python infra/api/generate.py --check  # exit 1 if either checked-in file is stale
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "functions" / "api" / "app.py"
SWAGGER = ROOT / "infra" / "api" / "swagger.json"
OPENAPI = ROOT / "infra" / "api" / "openapi.json"
FUNCTION = "ApiFunction"  # the template's logical id of the API's function

DESCRIPTION = (
    "arrears' HTTP API for lending platforms. Every request is signed as Standard Webhooks sign "
    "(https://www.standardwebhooks.com): headers webhook-id, webhook-timestamp (seconds since the "
    "epoch, within 5 minutes of the stack's clock) and webhook-signature (`v1,` + base64 HMAC-SHA256 "
    "of `{webhook-id}.{webhook-timestamp}.{body}` with the key in the secret `whsec_<base64>`; several "
    "space-separated signatures allowed). Requests are idempotent: on payment_id for repayments and "
    "reversals, on webhook-id otherwise; a repeat gets the first answer. Errors are JSON {Code, Message, field}. "
    "The operations routes (/v1/ops/...) are for operations staff instead: a bearer token of the stack's "
    "Cognito user pool (role: its group admin, supervisor, agent or analyst), never a signature; every "
    "write takes an Idempotency-Key header and is audited."
)
HEADERS = [
    ("webhook-id", "The message's unique id (the idempotency key of routes without a business key)."),
    ("webhook-timestamp", "Seconds since the epoch when signed; at most 5 minutes from the stack's clock."),
    (
        "webhook-signature",
        "v1,<base64 HMAC-SHA256 of '{webhook-id}.{webhook-timestamp}.{body}'> (space-separated list).",
    ),
]

OPS = "/v1/ops/"  # the operations routes: a bearer token (Cognito), never a webhook signature
OPS_HEADERS = [
    (
        "Authorization",
        "Bearer <token>: a Cognito id or access token of the stack's user pool (locally: arrears token).",
    ),
]
OPS_WRITE_HEADERS = [
    ("Idempotency-Key", "A unique key per write (a UUID): a retried request gets the first answer."),
]


CONSOLE = "/console"  # the console's static files: no credentials (its API calls carry them)
PAY = "/pay/"  # the borrower's self-service page: no credentials (the link's signature is one)


#: operations routes that write nothing although they are POSTs (no Idempotency-Key)
OPS_READS = {("POST", "/v1/ops/campaigns/dry-run"), ("POST", "/v1/ops/strategies/{strategy_id}/dry-runs")}


def headers_of(path: str, method: str) -> list[tuple[str, str]]:
    if path.startswith((CONSOLE, PAY)):
        return []
    if not path.startswith(OPS):
        return HEADERS
    return OPS_HEADERS + (OPS_WRITE_HEADERS if method != "GET" and (method, path) not in OPS_READS else [])


def errors_of(path: str, method: str) -> dict[str, tuple[str, str]]:
    from arrears.domain import api

    if path.startswith(CONSOLE):
        return api.CONSOLE_ANSWERS
    if path.startswith(OPS):
        return api.OPS_WRITE_ERRORS if method != "GET" else api.OPS_READ_ERRORS
    return api.COMMON_ERRORS


#: API Gateway's own answers in the API's error shape: throttled (429), no such route (404, not its
#: default 403 "Missing Authentication Token"), a body over its 10 MB cap (413)
GATEWAY_RESPONSES = {
    name: {
        "statusCode": status,
        "responseTemplates": {"application/json": json.dumps({"Code": code, "Message": message})},
    }
    for name, status, code, message in (
        ("THROTTLED", 429, "TooManyRequests", "over the stage's rate limit: retry later"),
        ("MISSING_AUTHENTICATION_TOKEN", 404, "NotFound", "no such route"),
        ("REQUEST_TOO_LARGE", 413, "RequestTooLarge", "the body is over API Gateway's limit"),
    )
}


def load_app() -> Any:
    sys.path.insert(0, str(ROOT / "layers" / "arrears"))
    spec = importlib.util.spec_from_file_location("arrears_api_app", APP)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


def _routes(app: Any) -> list[tuple[str, str, Any]]:
    return [
        (path, method, view) for path, methods in sorted(app.routes.items()) for method, view in sorted(methods.items())
    ]


def _summary(view: Any) -> tuple[str, str]:
    doc = inspect.getdoc(view.view_function) or ""
    first, _, rest = doc.partition("\n")
    return first.strip(), rest.strip()


def _draft4_for_swagger(schema: Any) -> Any:
    """Swagger 2.0 schema objects lack anyOf: keep the first alternative (the documented form)."""
    if isinstance(schema, dict):
        if "anyOf" in schema:
            rest = {k: v for k, v in schema.items() if k != "anyOf"}
            return _draft4_for_swagger({**schema["anyOf"][0], **rest})
        return {k: _draft4_for_swagger(v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_draft4_for_swagger(v) for v in schema]
    return schema


def swagger(app: Any) -> dict[str, Any]:
    from chalice.deploy.swagger import CFNSwaggerGenerator

    from arrears.domain import api

    doc = CFNSwaggerGenerator().generate_swagger(app)
    doc["info"]["description"] = DESCRIPTION
    doc["x-amazon-apigateway-gateway-responses"] = GATEWAY_RESPONSES
    doc["definitions"] = {**doc["definitions"], **{k: _draft4_for_swagger(v) for k, v in api.SCHEMAS.items()}}
    for path, method, _view in _routes(app):
        op = doc["paths"][path][method.lower()]
        uri = op["x-amazon-apigateway-integration"]["uri"]
        uri["Fn::Sub"] = uri["Fn::Sub"].replace("${APIHandler.Arn}", "${" + FUNCTION + ".Arn}")
        params = [
            {"name": h, "in": "header", "required": True, "type": "string", "minLength": 1, "description": d}
            for h, d in headers_of(path, method)
        ]
        params += [
            {"name": q, "in": "query", "required": False, "type": "string", "description": d}
            for q, d in api.QUERIES.get((method, path), {}).items()
        ]
        body = api.REQUESTS.get((method, path))
        if body:
            params.append({"name": "body", "in": "body", "required": True, "schema": {"$ref": f"#/definitions/{body}"}})
        op["parameters"] = op.get("parameters", []) + params
        op["responses"] = {
            status: {"description": text, "schema": {"$ref": f"#/definitions/{name}"}}
            for status, (name, text) in api.RESPONSES.get((method, path), errors_of(path, method)).items()
        }
        if "503" in op["responses"]:
            op["responses"]["503"]["headers"] = {"Retry-After": {"type": "integer", "description": "Seconds to wait."}}
    return doc


def openapi(app: Any) -> dict[str, Any]:
    from arrears.domain import api

    paths: dict[str, Any] = {}
    for path, method, view in _routes(app):
        if path.startswith(CONSOLE) or (method == "GET" and path.startswith(PAY)):
            continue  # static files and pages for browsers, not part of the API's document
        summary, description = _summary(view)
        op: dict[str, Any] = {"operationId": view.view_name, "summary": summary}
        if description:
            op["description"] = description
        op["parameters"] = [
            {
                "name": h,
                "in": "header",
                "required": True,
                "schema": {"type": "string", "minLength": 1},
                "description": d,
            }
            for h, d in headers_of(path, method)
        ] + [{"name": a, "in": "path", "required": True, "schema": {"type": "string"}} for a in view.view_args]
        op["parameters"] += [
            {"name": q, "in": "query", "required": False, "schema": {"type": "string"}, "description": d}
            for q, d in api.QUERIES.get((method, path), {}).items()
        ]
        body = api.REQUESTS.get((method, path))
        if body:
            op["requestBody"] = {
                "required": True,
                "content": {t: {"schema": {"$ref": f"#/components/schemas/{body}"}} for t in view.content_types},
            }
        op["responses"] = {
            status: {
                "description": text,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
            }
            for status, (name, text) in api.RESPONSES.get((method, path), errors_of(path, method)).items()
        }
        op["responses"]["503"]["headers"] = {
            "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait before retrying."}
        }
        paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": "3.0.3",
        "info": {"title": app.app_name, "version": "1.0", "description": DESCRIPTION},
        "servers": [
            {
                "url": "https://{api}.execute-api.{region}.amazonaws.com/live",
                "variables": {
                    "api": {"default": "API_ID", "description": "The stack's output ApiUrl."},
                    "region": {"default": "us-east-1"},
                },
            },
            {"url": "http://127.0.0.1:4566", "description": "arrears up (the local stack)"},
        ],
        "paths": paths,
        "components": {
            "schemas": json.loads(json.dumps(api.SCHEMAS).replace("#/definitions/", "#/components/schemas/"))
        },
    }


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if a checked-in file is stale")
    args = parser.parse_args(argv)
    app = load_app()
    stale = []
    for path, doc in ((SWAGGER, swagger(app)), (OPENAPI, openapi(app))):
        text = render(doc)
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(path.relative_to(ROOT))
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        print(f"stale: {', '.join(map(str, stale))}; run python infra/api/generate.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
