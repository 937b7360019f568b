"""Operators' mistakes against AWS (a wrong table name, no credentials): one line on stderr, exit 1."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from moto import mock_aws

from arrears_local.cli import main

pytestmark = pytest.mark.integration
CN = Path(__file__).resolve().parents[2] / "layers" / "arrears" / "arrears" / "strategies" / "cn-default.yaml"


@pytest.fixture
def testing_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(key, value)


@pytest.mark.parametrize(
    "argv",
    [
        ["strategy-publish", "--table", "no-such-table", str(CN)],
        ["strategy-rollback", "--table", "no-such-table", "cn-default"],
    ],
)
def test_a_wrong_table_name_is_one_line(argv, testing_credentials, capsys):
    with mock_aws():
        assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "table 'no-such-table' does not exist" in err and "StrategiesTableName" in err


@pytest.mark.parametrize(
    "argv",
    [["strategy-rollback", "--table", "t", "cn-default"], ["redrive", "--stack", "s", "--region", "us-east-1"]],
)
def test_no_credentials_is_one_line(argv, monkeypatch, tmp_path, capsys):
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no AWS credentials found" in err and "Traceback" not in err


def test_an_invalid_document_publishes_nothing(testing_credentials, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"id: caf\xe9\n")
    with mock_aws():
        assert main(["strategy-publish", "--table", "no-such-table", str(CN), str(bad)]) == 2
    err = capsys.readouterr().err
    assert "not UTF-8 text" in err and "published" not in err
