"""`arrears up`: the stack stays up on 127.0.0.1 and any SDK can use it; dropped files get imported,
the book's repayments too (future ones when the clock passes their paid_at); a busy port fails at once."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from arrears_local.apigw import signed_headers
from arrears_local.stack import free_port
from tests.conftest import csv_bytes

pytestmark = pytest.mark.e2e


def test_up_serves_the_stack_and_imports_dropped_files(tmp_path):
    from arrears_local.book import synthetic_book

    book = synthetic_book(tmp_path / "book", borrowers=20, seed=5)
    soon = (datetime.now(UTC) + timedelta(seconds=45)).isoformat()
    with open(book / "repayments.csv", "a", encoding="utf-8") as f:
        f.write(f"SOON1,L0000000,{soon},1.00\n")  # paid while the stack is up
    port, api_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            *("-m", "arrears_local.cli", "up", "--book", str(book)),
            *("--port", str(port), "--api-port", str(api_port)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    try:
        lines = []
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "  API: " in line or not line:  # printed last, once the API is served
                break
        text = "".join(lines)
        assert any(f"http://127.0.0.1:{port}" in line for line in lines), text
        assert "deploying template.yaml" in text and "importing 4 file(s): borrowers.csv" in text, text
        assert "1 repayment row(s) paid later arrive when the clock passes their paid_at" in text, text
        assert re.search(r"^ +StrategiesTable +arrears-local-StrategiesTable-\S+ +<- strategy-publish", text, re.M), (
            text
        )
        kw = {
            "endpoint_url": f"http://127.0.0.1:{port}",
            "region_name": "us-east-1",
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
        tables = boto3.client("dynamodb", **kw).list_tables()["TableNames"]
        assert any("LedgerTable" in t for t in tables)
        s3 = boto3.client("s3", **kw)
        bucket = next(b["Name"] for b in s3.list_buckets()["Buckets"] if "-imports-" in b["Name"])
        row = {"payment_id": "UP1", "loan_id": "L0000000", "paid_at": "2026-03-20T10:00:00+08:00", "amount": "1.00"}
        s3.put_object(Bucket=bucket, Key="repayments/up.csv", Body=csv_bytes([row]))
        report = None
        for _ in range(60):
            try:
                report = json.loads(s3.get_object(Bucket=bucket, Key="repayments/up.csv.rejects.json")["Body"].read())
                break
            except s3.exceptions.NoSuchKey:
                time.sleep(0.5)
        assert report and report["accepted"] == 1

        def repayment_reports() -> list[dict]:
            keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="repayments/repayments.")["Contents"]]
            return [
                json.loads(s3.get_object(Bucket=bucket, Key=k)["Body"].read())
                for k in keys
                if k.endswith(".rejects.json")
            ]

        assert sum(r["accepted"] for r in repayment_reports()) > 0  # the book's past repayments, at start
        for _ in range(180):  # the one paid while up comes when the wall clock passes its paid_at
            if len(repayment_reports()) == 2:
                break
            time.sleep(0.5)
        assert sorted(r["rows"] for r in repayment_reports())[0] == 1
        assert f"API: http://127.0.0.1:{api_port}/v1" in text, text
        _the_api_answers_and_its_facts_arrive(kw, api_port, row, tmp_path)
        assert "operations API: " in proc.stdout.readline()  # printed right after the API's line
        assert f"console: http://127.0.0.1:{api_port}/console" in proc.stdout.readline()
        assert "the clock: " in proc.stdout.readline()
        _an_operator_signs_in_with_arrears_token(api_port, tmp_path, env)
        _arrears_advance_moves_the_clock_and_fires_the_schedules(api_port, tmp_path, env, kw)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _the_api_answers_and_its_facts_arrive(kw: dict, api_port: int, row: dict, tmp_path) -> None:
    """The API, as the platform calls it: answered by ApiFunction in its own processes, its facts
    written off the request's path by ApiFactsFunction from the idempotency table's stream."""
    s3 = boto3.client("s3", **kw)
    secrets = boto3.client("secretsmanager", **kw).list_secrets()["SecretList"]
    secret = next(x["ARN"] for x in secrets if x["Name"].endswith("-WebhookSecret"))
    key = "whsec_" + boto3.client("secretsmanager", **kw).get_secret_value(SecretId=secret)["SecretString"]
    body = json.dumps({**row, "payment_id": "UP-API-1", "amount": "2.00"}).encode()
    headers = signed_headers(key, body, datetime.now(UTC), "msg_up_api_1")
    request = urllib.request.Request(f"http://127.0.0.1:{api_port}/v1/repayments", body, headers, method="POST")
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 202 and json.loads(answer.read())["payment_id"] == "UP-API-1"
    outcomes = next(b["Name"] for b in s3.list_buckets()["Buckets"] if "outcomesbucket" in b["Name"].lower())

    def platform_events() -> list[dict]:
        rows = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=outcomes, Prefix="facts/"):
            for o in page.get("Contents", []):
                if "/api-" in o["Key"]:
                    text = s3.get_object(Bucket=outcomes, Key=o["Key"])["Body"].read().decode()
                    rows += [json.loads(line) for line in text.splitlines() if line]
        return [r for r in rows if r["fact_type"] == "platform_event"]

    for _ in range(60):
        if platform_events():
            break
        time.sleep(0.5)
    (event,) = platform_events()
    assert (event["action_id"], event["payment_id"], event["source"]) == ("msg_up_api_1", "UP-API-1", "platform/api")
    log = (tmp_path / "out" / "lambda.log").read_text(encoding="utf-8")
    assert '"webhook_id":"msg_up_api_1"' in log.replace(" ", "")  # the worker's log line, in the stack's log


def _an_operator_signs_in_with_arrears_token(api_port: int, tmp_path, env: dict) -> None:
    """`arrears token`, run beside `arrears up` in the same folder, signs a token the running stack takes."""
    token = subprocess.run(
        [sys.executable, "-m", "arrears_local.cli", "token", "--role", "agent", "--user", "ann"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        check=True,
    ).stdout
    assert token.count(".") == 2 and token.strip() == token.rstrip("\n")  # the token alone, on one line
    auth = {"Authorization": f"Bearer {token.strip()}"}
    base = f"http://127.0.0.1:{api_port}/v1/ops"
    with urllib.request.urlopen(urllib.request.Request(f"{base}/loans/L0000000", headers=auth), timeout=30) as r:
        assert r.status == 200 and json.loads(r.read())["loan_id"] == "L0000000"
    note = urllib.request.Request(
        f"{base}/loans/L0000000/notes",
        json.dumps({"text": "checked on up"}).encode(),
        {**auth, "Content-Type": "application/json", "Idempotency-Key": "up-note-1"},
        method="POST",
    )
    with urllib.request.urlopen(note, timeout=30) as r:
        assert r.status == 202 and json.loads(r.read())["by"] == "ann"


def _arrears_advance_moves_the_clock_and_fires_the_schedules(api_port: int, tmp_path, env: dict, kw: dict) -> None:
    """`arrears advance --days 2` against the running stack: two days pass, each day's run and report fire."""
    done = subprocess.run(
        [sys.executable, "-m", "arrears_local.cli", "advance", "--days", "2", "--api-port", str(api_port)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    fired = [line for line in done.stdout.splitlines() if line.startswith("fired ")]
    assert sum("daily run" in line for line in fired) == 2 and sum("daily report" in line for line in fired) == 2
    now = datetime.fromisoformat(done.stdout.splitlines()[-1].removeprefix("the clock is now "))
    assert now > datetime.now(UTC) + timedelta(days=1, hours=23)
    s3 = boto3.client("s3", **kw)
    outcomes = next(b["Name"] for b in s3.list_buckets()["Buckets"] if "outcomesbucket" in b["Name"].lower())
    reports = [o["Key"] for o in s3.list_objects_v2(Bucket=outcomes, Prefix="reports/").get("Contents", [])]
    assert sum(k.endswith("daily-report.json") for k in reports) >= 2
    refused = subprocess.run(
        [sys.executable, "-m", "arrears_local.cli", "advance", "--days", "2", "--api-port", str(free_port())],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert refused.returncode == 1 and "start it first" in refused.stderr and "Traceback" not in refused.stderr


def test_up_on_a_busy_port_fails_at_once_naming_the_port(tmp_path):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "arrears_local.cli", "up", "--port", str(port), "--borrowers", "3"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=60,
        )
    assert proc.returncode == 1 and proc.stdout == ""
    assert f"port {port} on 127.0.0.1 is already in use" in proc.stderr and "Traceback" not in proc.stderr
    assert time.monotonic() - started < 30  # nothing was deployed first


def test_a_served_stack_runs_the_api_in_eight_environments_and_gives_back_the_switch_interval(tmp_path):
    """As `arrears up` sets a stack up in its process: the API function in API_CONCURRENCY worker
    processes, the process switching threads every 0.5 ms while the stack runs, and its own interval
    back once the stack stops."""
    from arrears_local.sim import API_CONCURRENCY, start_stack

    before = sys.getswitchinterval()
    sim = start_stack(tmp_path / "out", in_process=False, port=free_port())
    try:
        sim.start_api()
        assert sys.getswitchinterval() == 0.0005
        assert API_CONCURRENCY == 8 and len(sim.runner.workers["ApiFunction"].procs) == API_CONCURRENCY
    finally:
        sim.stop()
    assert sys.getswitchinterval() == before
