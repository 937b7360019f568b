"""Shared fixtures: a stack deployed from template.yaml into moto, driven by the local runner."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"


def load_event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """Tables, queues, buckets, functions and schedules exactly as template.yaml declares them."""
    from arrears_local.sim import start_stack

    sim = start_stack(
        tmp_path_factory.mktemp("stack"), {"ShardCount": "4"}, serve=False, start_clock=datetime(2026, 3, 1, tzinfo=UTC)
    )
    yield sim
    sim.stop()


def csv_bytes(rows: list[dict[str, str]]) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue().encode()
