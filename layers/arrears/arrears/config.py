"""Typed settings, read once per container from the environment and validated loudly."""

from __future__ import annotations

import os
from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from typing import NamedTuple

from .domain.buckets import DEFAULT_SPEC, BucketScheme
from .domain.timeutil import zone

CHANNELS = ("sms", "email", "voice", "wechat", "letter")
DEFAULT_STRATEGIES = "CN=cn-default,US=us-default"


def business_tz_of(env: Mapping[str, str], problems: list[str]) -> str:
    """BUSINESS_TZ (the operations calendar's IANA zone), a problem noted when it is not one."""
    business_tz = env.get("BUSINESS_TZ", "Asia/Shanghai")
    try:
        zone(business_tz)
    except ValueError as e:
        problems.append(f"BUSINESS_TZ: {e}")
    return business_tz


class ConfigError(RuntimeError):
    pass


def parse_pairs(raw: str) -> dict[str, str]:
    """``a=1,b=2`` -> {"a": "1", "b": "2"}; a malformed part raises ValueError naming it."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"{part!r} is not NAME=VALUE")
        out[key.strip()] = value.strip()
    return out


class Settings(NamedTuple):
    ledger_table: str
    loans_table: str
    borrowers_table: str
    contacts_table: str
    collections_table: str
    contact_ledger_table: str
    strategies_table: str
    outcomes_bucket: str
    runs_table: str
    idempotency_table: str
    work_queue_url: str
    queue_urls: Mapping[str, str]  # channel -> its sender's queue
    shard_count: int
    grace_days: int
    buckets: BucketScheme
    business_tz: str
    capacity: Mapping[str, int]  # channel -> work dispatched a day (channels not named: unlimited)
    strategy_for: Mapping[str, str]  # jurisdiction -> strategy id
    campaigns_table: str = ""  # operations' campaigns (usecases/campaigns.py)
    dispatch_deadline_minutes: int = 120  # after the run: dispatch what arrived, naming missing shards
    case_reopen_days: int = 30  # a reversal within this many days of a case's closing reopens that case
    callback_queue_url: str = ""  # events for the platform (usecases/callbacks.py)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        problems: list[str] = []

        def need(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                problems.append(f"{name} is not set")
            return value

        def integer(name: str, default: int, lo: int, hi: int) -> int:
            raw = env.get(name, str(default)).strip()
            if not raw.lstrip("-").isdigit() or not lo <= int(raw) <= hi:
                problems.append(f"{name}={raw!r} must be a whole number from {lo} to {hi}")
                return default
            return int(raw)

        scheme = BucketScheme.parse(DEFAULT_SPEC)
        try:
            scheme = BucketScheme.parse(env.get("BUCKETS", DEFAULT_SPEC))
        except ValueError as e:
            problems.append(f"BUCKETS: {e}")
        business_tz = business_tz_of(env, problems)
        capacity: dict[str, int] = {}
        try:
            for channel, n in parse_pairs(env.get("CHANNEL_CAPACITY", "")).items():
                if channel not in CHANNELS or not n.isdigit():
                    raise ValueError(f"{channel}={n} (channels: {', '.join(CHANNELS)}; a whole number)")
                capacity[channel] = int(n)
        except ValueError as e:
            problems.append(f"CHANNEL_CAPACITY: {e}")
        strategy_for: dict[str, str] = {}
        try:
            strategy_for = {k.upper(): v for k, v in parse_pairs(env.get("STRATEGIES", DEFAULT_STRATEGIES)).items()}
        except ValueError as e:
            problems.append(f"STRATEGIES: {e}")
        settings = cls(
            ledger_table=need("LEDGER_TABLE"),
            loans_table=need("LOANS_TABLE"),
            borrowers_table=need("BORROWERS_TABLE"),
            contacts_table=need("CONTACTS_TABLE"),
            collections_table=need("COLLECTIONS_TABLE"),
            contact_ledger_table=need("CONTACT_LEDGER_TABLE"),
            strategies_table=need("STRATEGIES_TABLE"),
            outcomes_bucket=need("OUTCOMES_BUCKET"),
            runs_table=need("RUNS_TABLE"),
            idempotency_table=need("IDEMPOTENCY_TABLE"),
            work_queue_url=need("WORK_QUEUE_URL"),
            queue_urls={c: need(f"{c.upper()}_QUEUE_URL") for c in CHANNELS},
            shard_count=integer("SHARD_COUNT", 16, 1, 4096),
            grace_days=integer("GRACE_DAYS", 0, 0, 90),
            buckets=scheme,
            business_tz=business_tz,
            capacity=capacity,
            strategy_for=strategy_for,
            campaigns_table=need("CAMPAIGNS_TABLE"),
            dispatch_deadline_minutes=integer("DISPATCH_DEADLINE_MINUTES", 120, 15, 1440),
            case_reopen_days=integer("CASE_REOPEN_DAYS", 30, 0, 3650),
            callback_queue_url=need("CALLBACK_QUEUE_URL"),
        )
        if problems:
            raise ConfigError("bad configuration: " + "; ".join(problems))
        return settings


def analytics_target(env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """The daily report function's Athena workgroup and Glue database (ANALYTICS_WORKGROUP,
    ANALYTICS_DATABASE): the page's named queries run there. ConfigError when either is missing."""
    env = os.environ if env is None else env
    workgroup, database = env.get("ANALYTICS_WORKGROUP", "").strip(), env.get("ANALYTICS_DATABASE", "").strip()
    if not (workgroup and database):
        raise ConfigError("bad configuration: ANALYTICS_WORKGROUP and ANALYTICS_DATABASE must be set")
    return workgroup, database


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings.from_env()


def _needed(env: Mapping[str, str], name: str, channel: str, problems: list[str]) -> str | None:
    value = env.get(name, "").strip()
    if not value:
        problems.append(f"{name} is not set (needed by the {channel} sender)")
    elif value.lower() == "none":  # the template's placeholder for a provider not set up
        problems.append(f"{name} is 'none': set it (or, for voice, VOICE_DIALER=simulated)")
    return value or None


class ChannelSettings(NamedTuple):
    """What one channel's sender needs besides the shared settings (read by that sender only)."""

    channel: str
    queue_url: str
    email_from: str | None  # email: a verified SES identity
    voice_dialer: str  # voice: "connect" (Amazon Connect) or "simulated" (local stack, tests)
    connect_instance_id: str | None
    connect_queue_id: str | None  # the queue whose outbound caller id places the calls
    connect_flows: Mapping[str, str]  # contact flow name -> Connect contact flow id
    wechat_gateway_url: str | None  # wechat: the platform's template-message gateway
    outbox_bucket: str | None  # letter: where the print house picks letters up

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ChannelSettings:
        env = os.environ if env is None else env
        channel = env.get("CHANNEL", "").strip()
        if channel not in CHANNELS:
            raise ConfigError(f"bad configuration: CHANNEL={channel!r} must be one of {', '.join(CHANNELS)}")
        problems: list[str] = []

        def need(name: str) -> str | None:
            return _needed(env, name, channel, problems)

        flows: dict[str, str] = {}
        dialer = env.get("VOICE_DIALER", "connect").strip()
        out = cls(channel, need(f"{channel.upper()}_QUEUE_URL") or "", None, dialer, None, None, flows, None, None)
        if channel == "email":
            out = out._replace(email_from=need("EMAIL_FROM"))
        elif channel == "voice":
            if dialer not in ("connect", "simulated"):
                problems.append(f"VOICE_DIALER={dialer!r} must be connect or simulated")
            if dialer == "connect":
                try:
                    flows.update(parse_pairs(env.get("CONNECT_FLOWS", "")))
                except ValueError as e:
                    problems.append(f"CONNECT_FLOWS: {e}")
                out = out._replace(
                    connect_instance_id=need("CONNECT_INSTANCE_ID"), connect_queue_id=need("CONNECT_QUEUE_ID")
                )
        elif channel == "wechat":
            out = out._replace(wechat_gateway_url=need("WECHAT_GATEWAY_URL"))
        elif channel == "letter":
            out = out._replace(outbox_bucket=need("OUTBOX_BUCKET"))
        if problems:
            raise ConfigError("bad configuration: " + "; ".join(problems))
        return out


IMPORT_LIMITS = {"text": 1000, "years_back": 30, "years_ahead": 40, "paid_ahead_hours": 24, "item_bytes": 65536}


class ImportSettings(NamedTuple):
    """What an imported value may be (the importer's own settings)."""

    max_amount: Decimal
    max_text: int
    years_back: int
    years_ahead: int
    paid_ahead_hours: int
    max_item_bytes: int  # DynamoDB allows 400 KB; rows that would come near it are rejected

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ImportSettings:
        env = os.environ if env is None else env
        problems: list[str] = []
        raw_amount = env.get("MAX_AMOUNT", "1000000000000").strip()
        if not raw_amount.isdigit() or not 0 < len(raw_amount) <= 20 or int(raw_amount) == 0:
            problems.append(f"MAX_AMOUNT={raw_amount!r} must be a whole number from 1 to 20 digits")
            raw_amount = "1000000000000"
        limits = dict(IMPORT_LIMITS)
        try:
            for name, value in parse_pairs(env.get("IMPORT_LIMITS", "")).items():
                if name not in limits or not value.isdigit() or int(value) == 0:
                    raise ValueError(
                        f"{name}={value} (names: {', '.join(IMPORT_LIMITS)}; each a positive whole number)"
                    )
                limits[name] = int(value)
        except ValueError as e:
            problems.append(f"IMPORT_LIMITS: {e}")
        if limits["item_bytes"] > 350_000:
            problems.append(f"IMPORT_LIMITS: item_bytes={limits['item_bytes']} must stay well under DynamoDB's 400 KB")
        if problems:
            raise ConfigError("bad configuration: " + "; ".join(problems))
        return cls(
            Decimal(raw_amount),
            limits["text"],
            limits["years_back"],
            limits["years_ahead"],
            limits["paid_ahead_hours"],
            limits["item_bytes"],
        )
