"""The daily planning pass (pure): strategy per jurisdiction, the planning-time gate, the arm fixed
per case, the rows that carry work to the dispatcher; promises to pay; templates."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from arrears.adapters.channels import SIMULATED_OUTCOMES, simulated_outcome
from arrears.domain import templates
from arrears.domain.planning import Candidate, Work, action_id_for, plan_loans, with_risk
from arrears.domain.promises import Promise, PromiseState, promise_from_call, resolve
from arrears.domain.strategies import LoanView, arm_for, parse_strategy, probability_of_payment

DEFAULTS = Path(__file__).resolve().parents[2] / "layers" / "arrears" / "arrears" / "strategies"
NOW = datetime(2026, 4, 10, 1, 0, tzinfo=UTC)
TODAY = date(2026, 4, 10)


def strategy(name: str, **extra):
    return parse_strategy({**yaml.safe_load((DEFAULTS / name).read_text()), **extra})


CN = strategy("cn-default.yaml")
US = strategy("us-default.yaml")


def cand(n: int, *, jurisdiction="CN", holds=(), arm=None, **kw) -> Candidate:
    view = LoanView(
        **{
            "loan_id": f"L{n}",
            "case_id": f"L{n}#c",
            "bucket": "M1",
            "dpd": 5,
            "outstanding": Decimal("3000"),
            "overdue": Decimal("1000"),
            "credit_grade": "B",
            "risk": None,
            "product": "cash-3m",
            "jurisdiction": jurisdiction,
            "language": "zh-CN",
            "bucket_since": TODAY - timedelta(days=4),
            **kw,
        }
    )
    return Candidate(view, TODAY, frozenset(holds), arm, f"B{n}", "CNY")


def test_each_jurisdiction_gets_its_strategy_and_unknown_ones_are_counted():
    plan = plan_loans({"CN": CN, "US": US}, [cand(1), cand(2, jurisdiction="US"), cand(3, jurisdiction="SG")], NOW)
    by_loan = {w.proposal.loan_id: w.proposal for w in plan.work}
    assert by_loan["L1"].strategy == "cn-default" and by_loan["L1"].step_id == "m1-sms"  # the first step not done
    assert by_loan["L2"].strategy == "us-default" and by_loan["L2"].channel == "email"
    later = plan_loans({"CN": CN}, [cand(1, done_steps=frozenset({"m1-sms"}))], NOW).work
    assert [w.proposal.step_id for w in later] == ["m1-wechat"]  # day 4 of M1: the WeChat step is due
    assert "L3" not in by_loan and plan.unassigned == Counter({"SG": 1})


def test_a_segment_may_match_on_risk_one_minus_the_probability_of_payment_that_ranks_the_work():
    doc = yaml.safe_load((DEFAULTS / "cn-default.yaml").read_text())
    unlikely = {**doc["segments"][0], "name": "m1-unlikely", "match": {**doc["segments"][0]["match"], "risk": [0.8, 1]}}
    unlikely["steps"] = [{"id": "m1-letter", "after_days": 0, "channel": "letter", "template": "zh-CN/demand_letter"}]
    risky = parse_strategy({**doc, "segments": [unlikely, *doc["segments"]]})
    view = cand(1).view
    assert with_risk(view, NOW).risk == round(1 - probability_of_payment(view), 4)  # the heuristic's, without a model
    assert with_risk(view, NOW, lambda v, at: 0.1).risk == 0.9
    assert with_risk(view._replace(risk=0.5), NOW, lambda v, at: 0.1).risk == 0.5  # a risk it has is kept
    (heuristic,) = plan_loans({"CN": risky}, [cand(1)], NOW).work
    assert heuristic.proposal.segment == "m1-reminders"  # the heuristic gives this loan a risk below 0.8
    (modelled,) = plan_loans({"CN": risky}, [cand(1)], NOW, score=lambda v, at: 0.1).work
    assert (modelled.proposal.segment, modelled.proposal.channel) == ("m1-unlikely", "letter")
    nowhere = plan_loans({"CN": parse_strategy({**doc, "segments": [unlikely]})}, [cand(1)], NOW)
    assert nowhere.outcome["L1"].endswith("at DPD 5, risk 0.2052")
    from arrears.domain.experiments import dry_run

    dry = dry_run(risky, [view], TODAY, NOW, score=lambda v, at: 0.1)  # the dry run counts as the run plans
    assert [(s["segment"], s["channel"]) for s in dry["by_step"]] == [("m1-unlikely", "letter")]


def test_loan_holds_stop_planning_and_are_reported_by_hold():
    plan = plan_loans({"CN": CN}, [cand(1, holds=("dispute",)), cand(2, holds=("paused",)), cand(3)], NOW)
    assert [w.proposal.loan_id for w in plan.work] == ["L3"]
    assert plan.gated == Counter({"dispute": 1, "paused": 1})


def test_done_steps_and_open_promises_hold_back_steps():
    done = cand(1, done_steps=frozenset({"m1-sms", "m1-wechat"}))
    assert plan_loans({"CN": CN}, [done], NOW).work == []  # the call waits for day 7
    promised = cand(2, promise_open=True, dpd=9, bucket_since=TODAY - timedelta(days=8))
    assert plan_loans({"CN": CN}, [promised], NOW).work == []  # every M1 step waits for the promise


def test_the_arm_recorded_on_the_case_wins_over_a_new_split():
    doc = yaml.safe_load((DEFAULTS / "cn-default.yaml").read_text())
    challenger = {"variant": "call-first", "share": 0.5, "segments": [{**doc["segments"][0], "name": "call-first"}]}
    s = parse_strategy({**doc, "challengers": [challenger]})
    loans = [cand(n) for n in range(40)]
    fresh = {w.proposal.loan_id: w.proposal.variant for w in plan_loans({"CN": s}, loans, NOW).work}
    assert set(fresh.values()) == {"champion", "call-first"}
    assert all(fresh[f"L{n}"] == arm_for(s, f"L{n}").name for n in range(40))
    pinned = [c._replace(arm="champion") for c in loans]  # their cases started before the challenger
    assert {w.proposal.variant for w in plan_loans({"CN": s}, pinned, NOW).work} == {"champion"}


def test_work_rows_round_trip_and_action_ids_are_deterministic():
    [w] = plan_loans({"CN": CN}, [cand(7)], NOW).work
    again = Work.from_row(w.row())
    assert again == w and again.action_id == action_id_for("L7#c", "m1-sms") == w.action_id
    assert plan_loans({"CN": CN}, [cand(7)], NOW).work[0].action_id == w.action_id


@pytest.mark.parametrize(
    ("paid", "today", "cured", "expected"),
    [
        (Decimal("0"), date(2026, 4, 13), False, None),  # open, its last day
        (Decimal("0"), date(2026, 4, 14), False, "broken"),  # the day after
        (Decimal("100"), date(2026, 4, 12), False, "kept"),
        (Decimal("99.99"), date(2026, 4, 12), False, None),  # not all of it yet
        (Decimal("0"), date(2026, 4, 12), True, "kept"),  # cured some other way in time
        (Decimal("100"), date(2026, 4, 15), False, "broken"),  # paid, but late
    ],
)
def test_a_promise_is_kept_by_its_date_or_broken_after(paid, today, cured, expected):
    state = PromiseState(date(2026, 4, 13), Decimal("100"), Decimal("50"))
    assert resolve(state, Decimal("50") + paid, today, cured) == expected
    assert resolve(None, paid, today, cured) is None


def test_a_promise_made_on_a_call_is_for_the_overdue_amount_in_local_days():
    at = datetime(2026, 4, 10, 17, 0, tzinfo=UTC)  # 01:00 on the 11th in Shanghai
    p = promise_from_call("A1", "L1#c", at, "Asia/Shanghai", Decimal("88.80"))
    assert (p.until, p.amount) == (date(2026, 4, 14), Decimal("88.80"))
    assert Promise.from_json(p.to_json()) == p


def test_templates_fit_their_channels_and_render_without_personal_data():
    assert templates.problem("voice", "flow/en/m2_call") is None
    assert "contact flow" in (templates.problem("sms", "flow/en/m2_call") or "")
    assert "not a known template" in (templates.problem("email", "en/nope") or "")
    text = templates.render("en/m3_final_notice", overdue="12.50", currency="USD", dpd=75)
    assert "12.50 USD" in text and "75 days" in text
    with pytest.raises(ValueError, match="unknown template"):
        templates.render("en/nope", overdue="1", currency="USD", dpd=1)


def test_the_simulated_dialer_is_deterministic_and_follows_its_shares():
    outcomes = Counter(simulated_outcome(f"A{n}") for n in range(4000))
    assert simulated_outcome("A1") == simulated_outcome("A1")
    for outcome, share in SIMULATED_OUTCOMES:
        assert abs(outcomes[outcome] / 4000 - share) < 0.03, outcome
