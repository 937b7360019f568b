"""Typed settings fail loudly; the report aggregates facts and ignores duplicates."""

from datetime import UTC, date, datetime

import pytest

from arrears.config import ChannelSettings, ConfigError, Settings
from arrears.domain.facts import Fact
from arrears.domain.report import daily_report
from arrears.observability import mask_email, mask_phone

GOOD = {
    "LEDGER_TABLE": "l",
    "LOANS_TABLE": "lo",
    "BORROWERS_TABLE": "b",
    "CONTACTS_TABLE": "c",
    "COLLECTIONS_TABLE": "co",
    "CONTACT_LEDGER_TABLE": "cl",
    "CAMPAIGNS_TABLE": "ca",
    "STRATEGIES_TABLE": "st",
    "OUTCOMES_BUCKET": "o",
    "RUNS_TABLE": "r",
    "IDEMPOTENCY_TABLE": "i",
    "WORK_QUEUE_URL": "w",
    "CALLBACK_QUEUE_URL": "cb",
    "SMS_QUEUE_URL": "s",
    "EMAIL_QUEUE_URL": "e",
    "VOICE_QUEUE_URL": "v",
    "WECHAT_QUEUE_URL": "wc",
    "LETTER_QUEUE_URL": "lt",
}


def test_settings_parse():
    s = Settings.from_env({**GOOD, "SHARD_COUNT": "4", "GRACE_DAYS": "2", "CHANNEL_CAPACITY": "sms=10, voice=0"})
    assert (s.shard_count, s.grace_days, s.business_tz) == (4, 2, "Asia/Shanghai")
    assert s.capacity == {"sms": 10, "voice": 0} and s.queue_urls["voice"] == "v"
    assert s.strategy_for == {"CN": "cn-default", "US": "us-default"}


def test_every_bad_setting_is_named():
    env = {
        **GOOD,
        "SHARD_COUNT": "zero",
        "BUCKETS": "M1:1-30",
        "BUSINESS_TZ": "Nowhere/City",
        "CHANNEL_CAPACITY": "fax=3",
        "STRATEGIES": "CN",
    }
    del env["VOICE_QUEUE_URL"]
    with pytest.raises(ConfigError) as e:
        Settings.from_env(env)
    text = str(e.value)
    for words in (
        "VOICE_QUEUE_URL is not set",
        "SHARD_COUNT='zero'",
        "BUCKETS",
        "BUSINESS_TZ",
        "CHANNEL_CAPACITY: fax=3",
        "STRATEGIES: 'CN' is not NAME=VALUE",
    ):
        assert words in text


def test_channel_settings_name_what_each_sender_lacks():
    with pytest.raises(ConfigError, match="CHANNEL='fax'"):
        ChannelSettings.from_env({"CHANNEL": "fax"})
    with pytest.raises(ConfigError, match="EMAIL_FROM is not set"):
        ChannelSettings.from_env({"CHANNEL": "email", "EMAIL_QUEUE_URL": "q"})
    with pytest.raises(ConfigError, match="CONNECT_INSTANCE_ID is not set.*CONNECT_QUEUE_ID is not set"):
        ChannelSettings.from_env({"CHANNEL": "voice", "VOICE_QUEUE_URL": "q"})
    with pytest.raises(ConfigError, match="CONNECT_INSTANCE_ID is 'none'"):
        ChannelSettings.from_env(
            {"CHANNEL": "voice", "VOICE_QUEUE_URL": "q", "CONNECT_INSTANCE_ID": "none", "CONNECT_QUEUE_ID": "q1"}
        )
    sim = ChannelSettings.from_env({"CHANNEL": "voice", "VOICE_QUEUE_URL": "q", "VOICE_DIALER": "simulated"})
    assert sim.voice_dialer == "simulated" and sim.queue_url == "q"
    flows = ChannelSettings.from_env(
        {
            "CHANNEL": "voice",
            "VOICE_QUEUE_URL": "q",
            "CONNECT_INSTANCE_ID": "i",
            "CONNECT_QUEUE_ID": "c",
            "CONNECT_FLOWS": "flow/en/m2_call=abc",
        }
    )
    assert flows.connect_flows == {"flow/en/m2_call": "abc"}


def row(kind, loan, **kw):
    at = datetime(2026, 3, 11, 1, tzinfo=UTC)
    return Fact(kind, at, date(2026, 3, 11), loan, "test", currency="CNY", **kw).row()


def test_report_counts_and_dedupes():
    rows = [
        row("loan_evaluated", "L1", bucket="M1", amount_minor=1000, outstanding_minor=3000, key="r"),
        row("loan_evaluated", "L2", bucket="M2", amount_minor=500, outstanding_minor=500, key="r"),
        row("case_opened", "L1", case_id="c", bucket="M1", key="c|M1"),
        row("action_sent", "L1", channel="sms", action_id="a", key="a"),
        row("action_sent", "L1", channel="sms", action_id="a", key="a"),  # redelivered: same fact id
        row("repayment_applied", "L2", amount_minor=250, from_bucket="M2", payment_id="p", key="p"),
        row("repayment_applied", "L3", amount_minor=999, from_bucket="M0", payment_id="q", key="q"),
    ]
    r = daily_report(date(2026, 3, 11), rows, ["M1", "M2"])
    assert r["loans_by_bucket"] == {"M1": 1, "M2": 1}
    assert r["balance_by_bucket"]["M1"] == {"CNY": "30.00"}
    assert r["actions"]["sent"] == 1 and r["newly_overdue"] == 1
    assert r["amount_recovered"] == {"CNY": "2.50"} and r["amount_repaid"] == {"CNY": "12.49"}


def test_masking():
    assert mask_phone("+8613800138000") == "+86*******8000"
    assert mask_email("li.na@example.com") == "l***@example.com"


def test_arms_carry_forward_day_by_day_and_compare_with_a_confidence_interval():
    from arrears.domain.report import advance_arms, arm_comparison

    def f(kind, loan, day, **kw):
        at = datetime(2026, 4, day, 2, tzinfo=UTC)
        return Fact(kind, at, date(2026, 4, day), loan, "t", currency="CNY", **kw).row()

    day1 = []
    for n in range(6):
        arm = "champion" if n % 2 else "call-early"
        kw = dict(case_id=f"C{n}", strategy="cn-default", strategy_version=2, variant=arm)
        day1 += [
            f("action_planned", f"L{n}", 1, amount_minor=10000, key="a", **kw),
            f("action_sent", f"L{n}", 1, key="s", **kw),
        ]
    day1.append(day1[1])  # a redelivered fact counts once
    state = advance_arms({}, day1, date(2026, 4, 1))
    day2 = [
        f("repayment_applied", "L1", 2, amount_minor=10000, from_bucket="M1", to_bucket="M0", key="p1"),
        f("case_closed", "L1", 2, case_id="C1", reason="cured", key="c"),
        f("repayment_applied", "L3", 2, amount_minor=5000, from_bucket="M1", to_bucket="M1", key="p3"),
        f("promise_made", "L0", 2, case_id="C0", key="pm"),
        f("action_planned", "L1", 2, case_id="C1", strategy="cn-default", variant="call-early", key="late"),
    ]
    state = advance_arms(state, day2, date(2026, 4, 2))
    assert advance_arms(advance_arms({}, day1, date(2026, 4, 1)), day2, date(2026, 4, 2)) == state  # re-run: same
    arms = arm_comparison(state)["cn-default"]
    champion, challenger = arms["champion"], arms["call-early"]
    assert (champion["loans"], champion["contacts"], champion["cures"]) == (3, 3, 1)  # the arm is the first one
    assert champion["recovered_per_loan"] == {"CNY": "50.00"} and champion["recovery_rate"] == 0.5
    assert (challenger["loans"], challenger["contacts"], challenger["promises"]) == (3, 3, 1)
    assert challenger["recovery_rate"] == 0.0
    low, high = challenger["difference_vs_champion"]["ci95"]
    assert low < challenger["difference_vs_champion"]["recovery_rate"] == -0.5 < high
    old = advance_arms(state, [], date(2026, 8, 1))  # past the window: cases leave the comparison
    assert old["cases"] == {} and arm_comparison(old) == {}
