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
    "STRATEGIES_TABLE": "st",
    "OUTCOMES_BUCKET": "o",
    "RUNS_TABLE": "r",
    "WORK_QUEUE_URL": "w",
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
