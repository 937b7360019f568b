"""E2E: a bounded fuzz of the API's OpenAPI document (``infra/api/openapi.json``, schemathesis) against
the local stack's HTTP endpoint, the API front before the real function on a stack deployed from
template.yaml. Requests are signed with the stack's WebhookSecret over the exact bytes sent, except a
share left unsigned, signed with another key or signed too long ago (each must be a 401).

Every answer must keep the document: a documented status, JSON, the documented schema; no 5xx but a
503 with Retry-After. Schema-valid and schema-violating requests (schemathesis's positive and negative
modes, together) get up to ``EXAMPLES`` examples an operation, seeded (the same cases every run); a share
of them names a loan, borrower or payment of the stack's small book and plausible values, so the 202
paths and their answers are fuzzed too, not only the 400s."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    missing_required_header,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import csv_bytes

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = 100  # per operation (the bound); ~45 s for all routes on this machine
NOW = datetime(2026, 3, 20, 2, 0, tzinfo=UTC)  # the stack's clock: requests are signed in its time
CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {"mode": "all", "deterministic": True, "database": "none"},
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
    }
)
SCHEMA = schemathesis.openapi.from_path(ROOT / "infra" / "api" / "openapi.json", config=CONFIG)

#: the document's conformance (status, content type, headers, body schema) and schema-violating requests
#: refused with a 4xx; not schemathesis's positive_data_acceptance: a schema-valid body naming an unknown
#: loan is a 400 by design; 5xx are checked below (a 503 with Retry-After is the one allowed)
CHECKS = [
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    missing_required_header,
]

BORROWERS = [f"FB{i}" for i in range(3)]
LOANS = [f"FL{i}" for i in range(3)]
PAYMENT = "FP0"  # a recorded payment, for reversals
#: (route, webhook-id) of the messages answered 202
ANSWERED: set[tuple[str, str]] = set()
#: most requests signed as the platform signs them; the rest must be 401s
SIGNING = ["signed", "signed", "signed", "signed", "unsigned", "other key", "stale"]


def _book() -> dict[str, bytes]:
    borrowers = [
        {
            "borrower_id": b,
            "name": "Fuzz",
            "phone": f"+8613800000{i:03d}",
            "email": "",
            "wechat_openid": "",
            "id_number": "110101199001011234",
            "address": "",
            "timezone": "Asia/Shanghai",
            "language": "zh-CN",
            "jurisdiction": "CN",
            "credit_grade": "B",
            "opt_out": "",
        }
        for i, b in enumerate(BORROWERS)
    ]
    loans = [
        {
            "loan_id": loan,
            "borrower_id": BORROWERS[i],
            "product": "cash",
            "currency": "CNY",
            "principal": "3000.00",
            "disbursed_on": "2026-01-01",
        }
        for i, loan in enumerate(LOANS)
    ]
    installments = [
        {
            "loan_id": loan,
            "seq": str(n),
            "due_date": f"2026-0{n + 1}-01",
            "principal_due": "1000.00",
            "interest_due": "30.00",
            "fee_due": "0.00",
        }
        for loan in LOANS
        for n in (1, 2, 3)
    ]
    repayments = [
        {"payment_id": PAYMENT, "loan_id": LOANS[2], "paid_at": "2026-03-02T10:00:00+08:00", "amount": "5.00"}
    ]
    return {
        "borrowers/f.csv": csv_bytes(borrowers),
        "loans/f.csv": csv_bytes(loans),
        "installments/f.csv": csv_bytes(installments),
        "repayments/f.csv": csv_bytes(repayments),
    }


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    """The stack's HTTP API on 127.0.0.1 (throttling raised: a 429 is documented but fuzzes nothing)."""
    from arrears.adapters.clients import client
    from arrears_local.sim import start_stack

    sim = start_stack(
        tmp_path_factory.mktemp("fuzz"),
        {"ApiRateLimit": "100000", "ApiBurstLimit": "100000"},
        serve=False,
        start_clock=NOW,
    )
    for key, body in _book().items():
        sim.upload(key, body)
    secret = client("secretsmanager").get_secret_value(SecretId=sim.dep.physical["WebhookSecret"])["SecretString"]
    url = sim.start_api(0)
    yield url, "whsec_" + secret, sim
    sim.stop()


# ------------------------------------------------------------------------------ signing


WEBHOOK_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


class Signed(requests.auth.AuthBase):
    """Standard Webhooks headers over the exact body requests is about to send; ``how`` picks a valid
    signature or one of the ways to get it wrong."""

    def __init__(self, secret: str, how: str, at: datetime, out: Path) -> None:
        self.secret, self.how, self.at, self.out = secret, how, at, out

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        if "/v1/ops/" in (r.url or ""):
            return self.bearer(r)
        if self.how == "unsigned" or not all(r.headers.get(h) for h in WEBHOOK_HEADERS):
            return r  # as generated (a header the negative mode left out or emptied stays so)
        body = r.body.encode() if isinstance(r.body, str) else (r.body or b"")
        msg_id = r.headers["webhook-id"]
        key = base64.b64decode(self.secret.removeprefix("whsec_"))
        if self.how == "other key":
            key = hashlib.sha256(key).digest()
        at = self.at - timedelta(minutes=6) if self.how == "stale" else self.at
        stamp = str(int(at.timestamp()))
        mac = hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
        r.headers["webhook-timestamp"] = stamp
        r.headers["webhook-signature"] = "v1," + base64.b64encode(mac).decode()
        return r

    def bearer(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        """The operations routes: a supervisor's token of the stack's key, or none, or one of another key,
        or an expired one (the same share of each as the signatures'); a header the negative mode left
        out or emptied stays so."""
        from arrears_local.auth import ensure_key, mint

        if self.how == "unsigned" or not r.headers.get("Authorization"):
            return r
        folder, at = self.out, time.time()
        if self.how == "other key":
            folder = self.out / "other"
            ensure_key(folder)
        elif self.how == "stale":
            at -= 2 * 86400
        r.headers["Authorization"] = "Bearer " + mint(folder, "supervisor", "fuzz", 60, now=at)
        return r


# --------------------------------------------------------------- steering towards the book


def _plausible(path: str, body: dict[str, Any]) -> dict[str, Any]:
    """The same body with the book's ids and values the import accepts (fields the case has only)."""
    sane: dict[str, Any] = {
        "loan_id": LOANS[0],
        "borrower_id": BORROWERS[1],
        "paid_at": NOW.isoformat(),
        "amount": "10.00",
        "currency": "CNY",
        "principal": "500.00",
        "disbursed_on": "2026-02-01",
        "timezone": "Asia/Shanghai",
        "language": "zh-CN",
        "jurisdiction": "CN",
        "hold": "dispute" if "loans" in path else "attorney",
        "reversed_at": NOW.isoformat(),
        "until": (NOW + timedelta(days=2)).date().isoformat(),
        "text": "fuzz note",
        **({"payment_id": PAYMENT} if "reversal" in path else {}),
    }
    out = {k: sane.get(k, v) for k, v in body.items()}
    if path == "/v1/loans" and "loan_id" in out:
        out["loan_id"] = f"FN{abs(hash(json.dumps(body, sort_keys=True, default=str))) % 10**9}"
    if isinstance(out.get("schedule"), list):
        out["schedule"] = [
            {
                **i,
                "seq": n + 1,
                "due_date": (date(2026, 4, 1) + timedelta(days=30 * n)).isoformat(),
                "principal_due": "1.00",
                "interest_due": "0",
                "fee_due": "0",
            }
            if isinstance(i, dict)
            else i
            for n, i in enumerate(out["schedule"][:5])
        ]
    return out


def steer(case: Any) -> None:
    """Point a case's schema-valid parts at the book (its schema-violating parts stay as generated)."""
    components = case.meta.components
    body = components.get(ParameterLocation.BODY)
    if body is not None and body.mode == GenerationMode.POSITIVE and isinstance(case.body, dict):
        case.body = _plausible(case.operation.path, case.body)
    path = components.get(ParameterLocation.PATH)
    if path is not None and path.mode == GenerationMode.POSITIVE:
        known = {
            "loan_id": LOANS[1],
            "borrower_id": BORROWERS[2],
            "payment_id": PAYMENT,
            "hold": "paused" if "loans" in case.operation.path else "attorney",
            "strategy_id": "cn-default",
            "version": "1",
        }
        case.path_parameters = {k: known.get(k, v) for k, v in case.path_parameters.items()}


# ------------------------------------------------------------------------------ the fuzz


@SCHEMA.parametrize()
@SCHEMA.given(how=st.sampled_from(SIGNING), steered=st.booleans())
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
def test_the_api_keeps_its_document(api, case, how, steered):
    url, secret, sim = api
    if steered:
        steer(case)
    headers = case.headers or {}
    message = (case.operation.label, str(headers.get("webhook-id") or headers.get("Idempotency-Key")))
    response = case.call(base_url=url, auth=Signed(secret, how, sim.runner.clock.now, sim.out), timeout=30)
    # a webhook-id answered before gets its first answer whatever the body now (the idempotency):
    # then a schema-violating body is not refused, by design
    repeat = message in ANSWERED and case.operation.path != "/v1/repayments"
    case.validate_response(response, checks=[c for c in CHECKS if not (repeat and c is negative_data_rejection)])
    if response.status_code == 202:
        ANSWERED.add(message)
    assert response.status_code < 500 or (response.status_code == 503 and response.headers.get("Retry-After")), (
        response.status_code,
        response.text[:500],
    )
    if how != "signed" and response.status_code not in (413, 415, 404):
        assert response.status_code == 401, (how, response.status_code, response.text[:500])
