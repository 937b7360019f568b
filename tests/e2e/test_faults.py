"""Faults: with AWS requests throttled, failing and timing out after they were applied, every message
delivered twice and handlers crashing before acknowledging, a run still ends with every DLQ redriven to
completion, exit 0, and no action contacted twice at the provider."""

from __future__ import annotations

from collections import Counter

import pytest

from arrears_local.cli import main

pytestmark = pytest.mark.e2e


def test_a_faulted_run_redrives_everything_and_never_calls_twice(tmp_path, capsys):
    from arrears.adapters.channels import SimulatedVoice
    from arrears_local import faults

    code = main(
        ["run", "--borrowers", "200", "--days", "10", "--out", str(tmp_path), "--faults", "0.1", "--seed", "3",
         "--param", "ShardCount=2", "--world", "scripted"]  # the book's late payers: calls within ten days
    )
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    assert faults.active is None  # switched off for the final redrive and after
    assert code == 0, err
    injected = int(out.split("faults injected: ", 1)[1].split(";", 1)[0])
    assert injected > 50
    calls = Counter(action for _, _, action in SimulatedVoice.placed)
    assert calls and max(calls.values()) == 1, [a for a, n in calls.items() if n > 1]
