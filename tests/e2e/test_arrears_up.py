"""`arrears up`: the stack stays up on 127.0.0.1 and any SDK can use it; dropped files get imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import boto3
import pytest

from arrears_local.stack import free_port
from tests.conftest import csv_bytes

pytestmark = pytest.mark.e2e


def test_up_serves_the_stack_and_imports_dropped_files(tmp_path):
    from arrears_local.book import synthetic_book

    book = synthetic_book(tmp_path / "book", borrowers=20, seed=5)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "arrears_local.cli", "up", "--book", str(book), "--port", str(port)],
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
            if "Ctrl-C" in line or not line:
                break
        assert any(f"http://127.0.0.1:{port}" in line for line in lines), "".join(lines)
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
    finally:
        proc.terminate()
        proc.wait(timeout=30)
