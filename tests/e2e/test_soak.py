"""The soak, a tenth of `make soak`: a 2,000-borrower book for 30 simulated days, fault-free and with
10% faults (every message delivered twice, handlers crashing before acknowledging), held to each
other and to the law: nothing lost, no action contacted twice, no contact after a cure, no rule
broken."""

from __future__ import annotations

import json

import pytest

from arrears_local.soak import main

pytestmark = pytest.mark.e2e


def test_a_faulted_month_loses_nothing_and_contacts_no_one_wrongly(tmp_path, capsys):
    code = main(["--borrowers", "2000", "--days", "30", "--faults", "0.1", "--seed", "11", "--out", str(tmp_path)])
    figures = json.loads((tmp_path / "soak.json").read_text())
    assert code == 0, (capsys.readouterr().err, figures.get("examples"))
    for name in ("soak_lost", "soak_duplicate_contacts", "soak_contacts_after_cure", "soak_violations"):
        assert figures[name] == 0, (name, figures["examples"])
    faulted = (tmp_path / "soak" / "faulted" / "run.log").read_text()
    injected = int(faulted.split("faults injected: ", 1)[1].split(";", 1)[0])
    assert injected > 300  # the faulted run really was faulted (786 with this seed)
    assert figures["clean"]["provider_calls"] > 300  # and the month really did contact borrowers
