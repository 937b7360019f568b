"""Time zones and dates: every borrower-facing date is a local date in the borrower's IANA zone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (expected an IANA name such as Asia/Shanghai)") from None


def local_date(instant: datetime, tz: str) -> date:
    if instant.tzinfo is None:
        raise ValueError("instant must be timezone-aware")
    return instant.astimezone(zone(tz)).date()


def parse_date(raw: object) -> date:
    text = str(raw or "").strip()
    if not text:
        raise ValueError("date is missing")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"date {text!r} is not a valid YYYY-MM-DD date") from None


def parse_instant(raw: object) -> datetime:
    """ISO-8601 with an explicit offset (or Z). A naive time is ambiguous and rejected."""
    text = str(raw or "").strip()
    if not text:
        raise ValueError("timestamp is missing")
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        raise ValueError(f"timestamp {text!r} is not ISO-8601") from None
    if value.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no UTC offset")
    return value


def iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def utcnow() -> datetime:
    return datetime.now(UTC)
