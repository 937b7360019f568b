"""The propensity model: decisions see only the facts before them, the label is the 7 days after,
training recovers a known relationship, and AUC and calibration are computed as defined."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from arrears.domain import propensity as P
from arrears.domain.strategies import LoanView

T0 = datetime(2026, 4, 1, 1, 0, tzinfo=UTC)


def fact(n: int, kind: str, at: datetime, loan: str = "L1", **more) -> dict:
    return {"fact_id": f"f{n}", "fact_type": kind, "occurred_at": at.isoformat().replace("+00:00", "Z"),
            "business_date": at.date().isoformat(), "loan_id": loan, **more}  # fmt: skip


def evaluation(n: int, at: datetime, overdue: int = 1000, dpd: int = 5, loan: str = "L1") -> dict:
    return fact(n, "loan_evaluated", at, loan, amount_minor=overdue, outstanding_minor=4000, dpd=dpd)


def test_the_label_is_half_the_overdue_within_seven_days_and_unknown_labels_are_left_out():
    end = fact(99, "action_sent", T0 + timedelta(days=30), "L9")  # the data reach this far
    cases = [(500, 6, True), (499, 6, False), (1000, 8, False), (600, 0.5, True)]
    for amount, days, paid in cases:
        facts = [evaluation(1, T0), fact(2, "repayment_applied", T0 + timedelta(days=days), amount_minor=amount), end]
        (d,) = P.decisions(facts)
        assert d.paid is paid, (amount, days)
    late = [evaluation(1, T0 + timedelta(days=25)), end]  # its 7 days pass the last fact
    assert P.decisions(late) == []
    assert P.decisions([evaluation(1, T0, overdue=0), end]) == []  # nothing overdue: no decision


def test_features_come_only_from_the_facts_before_the_decision():
    before = [
        fact(1, "repayment_applied", T0 - timedelta(days=40), amount_minor=10),
        fact(2, "promise_made", T0 - timedelta(days=3)),
        fact(3, "promise_broken", T0 - timedelta(days=2)),
        fact(4, "promise_made", T0 - timedelta(days=1)),
        fact(5, "action_sent", T0 - timedelta(days=1)),
    ]
    after = [fact(6, "action_sent", T0 + timedelta(hours=2)), fact(7, "promise_broken", T0 + timedelta(days=1)),
             fact(8, "repayment_applied", T0 + timedelta(days=20), amount_minor=5)]  # fmt: skip
    end = fact(99, "action_sent", T0 + timedelta(days=30), "L9")
    (d,) = P.decisions([*before, evaluation(10, T0), end])
    (same,) = P.decisions([*before, evaluation(10, T0), *after, end, before[0]])  # a fact twice counts once
    assert d.x == same.x
    view = LoanView("L1", "c", "M1", 5, Decimal("40.00"), Decimal("10.00"), None, None, "p", "CN", "zh-CN",
                    date(2026, 3, 27), last_contact_at=T0 - timedelta(days=1), promise_open=True,
                    broken_promises=1, payments_made=1)  # fmt: skip
    assert P.view_features(view, T0) == pytest.approx(d.x)  # the planner's features are training's


def test_training_recovers_a_known_relationship_and_round_trips():
    rng = random.Random(1)
    rows = []
    for n in range(3000):
        x = (rng.random() * 4, rng.random(), rng.random(), 0.0, float(rng.random() < 0.2), rng.random(), 0.0)
        p = 1 / (1 + pow(2.718281828, -(0.5 - 1.5 * x[0] + 2.0 * x[2])))
        rows.append(P.Decision(f"L{n}", T0, T0.date(), x, rng.random() < p))
    model = P.train(rows)
    assert model.coef[0] == pytest.approx(-1.5, abs=0.3) and model.coef[2] == pytest.approx(2.0, abs=0.4)
    assert P.evaluate(model, rows)["auc"] > 0.75
    assert P.Model.from_json(model.to_json()) == model
    with pytest.raises(ValueError, match="features"):
        P.Model.from_json({**model.to_json(), "features": ["dpd"]})
    with pytest.raises(ValueError, match="finite"):
        P.Model.from_json({**model.to_json(), "coef": [float("nan")] * len(P.FEATURES)})


def test_auc_and_calibration_as_defined():
    assert P.auc([0.9, 0.8, 0.3, 0.1], [True, True, False, False]) == 1.0
    assert P.auc([0.1, 0.9], [True, False]) == 0.0
    assert P.auc([0.5, 0.5, 0.5], [True, False, True]) == 0.5  # ties count half
    assert P.auc([0.2, 0.3], [True, True]) is None
    cal = P.calibration([0.05, 0.05, 0.95, 0.95], [False, False, True, True])
    assert [b["decisions"] for b in cal["bins"]] == [2, 2] and cal["ece"] == pytest.approx(0.05)
    assert cal["brier"] == pytest.approx(0.0025)


def test_time_split_by_day_of_the_data():
    rows = [P.Decision("L", T0, T0.date() + timedelta(days=n), (0.0,) * 7, False) for n in range(60)]
    train, test = P.time_split(rows, 40)
    assert len(train) == 39 and len(test) == 21 and train[-1].business_date < test[0].business_date


def test_arrears_train_writes_the_model_and_its_evaluation(tmp_path, capsys):
    import json

    from arrears_local.cli import main

    rng = random.Random(2)
    lines, n = [], 0
    for loan in range(80):
        pays = rng.random() < 0.4
        for day in range(20):
            at = T0 + timedelta(days=day)
            n += 1
            lines.append(evaluation(n, at, dpd=day + 1, loan=f"L{loan}"))
            if pays and day % 5 == 2:
                n += 1
                lines.append(fact(n, "repayment_applied", at + timedelta(hours=3), f"L{loan}", amount_minor=800))
    folder = tmp_path / "outcomes" / "facts" / "dt=2026-04-01"
    folder.mkdir(parents=True)
    (folder / "a.json").write_text("\n".join(json.dumps(f) for f in lines))
    assert main(["train", "--out", str(tmp_path), "--split-day", "8"]) == 0
    printed = capsys.readouterr().out
    doc = json.loads((tmp_path / "model" / "propensity.json").read_text())
    assert P.Model.from_json(doc).features == P.FEATURES
    assert doc["test"]["auc"] > 0.5 and f"AUC {doc['test']['auc']}" in printed
    assert doc["train"]["decisions"] + doc["test"]["decisions"] == len(P.decisions(lines))
    (folder / "b.json").write_text("{not json\n")
    assert main(["train", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "b.json line 1: not JSON" in err and err.count("\n") == 1


def _rows(n: int, day0: date, rng: random.Random, label) -> list:
    out = []
    for k in range(n):
        x = (rng.random() * 3, rng.random(), rng.random(), 0.0, 0.0, rng.random(), 0.0)
        out.append(P.Decision(f"L{k}", T0, day0 + timedelta(days=k % 10), x, label(x, rng)))
    return out


def test_the_best_of_new_incumbent_and_heuristic_ranks_and_a_model_must_beat_the_heuristic():
    rng = random.Random(4)
    early = _rows(600, date(2026, 4, 1), rng, lambda x, r: r.random() < 0.3)  # nothing to learn
    late = _rows(400, date(2026, 4, 11), rng, lambda x, r: x[0] < 1.0)  # paid early in delinquency: as the heuristic says
    _, doc = P.fit(early + late, 11)
    assert doc["choice"] == "heuristic" and doc["heuristic_test_auc"] > doc["test"]["auc"]
    perfect = P.Model(P.FEATURES, 0.0, (-50.0, 0, 0, 0, 0, 0, 0))  # ranks by DPD alone, finely
    _, doc = P.fit(early + late, 11, incumbent=perfect)
    assert doc["choice"] in ("incumbent", "heuristic") and doc["incumbent_test_auc"] >= doc["heuristic_test_auc"]
    learnable = _rows(1000, date(2026, 4, 1), rng, lambda x, r: x[1] > 0.5)  # overdue share: the heuristic is blind to it
    model, doc = P.fit(learnable, 8, incumbent=None)
    assert doc["choice"] == "new" and doc["test"]["auc"] > 0.9
    _, again = P.fit(learnable, 8, incumbent=model)
    assert again["choice"] == "new"  # a tie with the model in use: the new one
    with pytest.raises(ValueError, match="each side needs"):
        P.fit(learnable[:200], 8)
