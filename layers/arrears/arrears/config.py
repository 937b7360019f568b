"""Typed settings, read once per container from the environment and validated loudly."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from typing import NamedTuple

from .domain.buckets import DEFAULT_SPEC, BucketScheme
from .domain.timeutil import zone


class ConfigError(RuntimeError):
    pass


class Settings(NamedTuple):
    ledger_table: str
    loans_table: str
    borrowers_table: str
    contacts_table: str
    collections_table: str
    idempotency_table: str
    contact_ledger_table: str
    strategies_table: str
    outcomes_bucket: str
    work_queue_url: str
    sms_queue_url: str
    shard_count: int
    grace_days: int
    buckets: BucketScheme
    business_tz: str

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
        business_tz = env.get("BUSINESS_TZ", "Asia/Shanghai")
        try:
            zone(business_tz)
        except ValueError as e:
            problems.append(f"BUSINESS_TZ: {e}")
        settings = cls(
            ledger_table=need("LEDGER_TABLE"),
            loans_table=need("LOANS_TABLE"),
            borrowers_table=need("BORROWERS_TABLE"),
            contacts_table=need("CONTACTS_TABLE"),
            collections_table=need("COLLECTIONS_TABLE"),
            idempotency_table=need("IDEMPOTENCY_TABLE"),
            contact_ledger_table=need("CONTACT_LEDGER_TABLE"),
            strategies_table=need("STRATEGIES_TABLE"),
            outcomes_bucket=need("OUTCOMES_BUCKET"),
            work_queue_url=need("WORK_QUEUE_URL"),
            sms_queue_url=need("SMS_QUEUE_URL"),
            shard_count=integer("SHARD_COUNT", 16, 1, 4096),
            grace_days=integer("GRACE_DAYS", 0, 0, 90),
            buckets=scheme,
            business_tz=business_tz,
        )
        if problems:
            raise ConfigError("bad configuration: " + "; ".join(problems))
        return settings


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings.from_env()
