"""Time zones and dates: every borrower-facing date is a local date in the borrower's IANA zone.

Zones come from the pinned ``tzdata`` package only (never the machine's own zoneinfo files), so the
functions in AWS and the local stack know the same zones with the same rules.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

try:  # the layer ships tzdata; without it, the machine's zone files are the only source
    import tzdata  # noqa: F401

    zoneinfo.reset_tzpath(to=[])
except ImportError:  # pragma: no cover - tzdata is a pinned dependency
    pass

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?$")
#: in tzdata's list but not a place a borrower lives
_NOT_PLACES = frozenset({"Factory", "localtime", "posixrules"})


@lru_cache(maxsize=1)
def zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) - _NOT_PLACES


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (expected an IANA name such as Asia/Shanghai)") from None


def known_zone(name: str) -> ZoneInfo:
    """A zone a borrower can live in: an IANA name from tzdata (not ``localtime``, ``Factory``, a path)."""
    if name not in zone_names():
        raise ValueError(f"unknown time zone {name[:60]!r} (expected an IANA name such as Asia/Shanghai)")
    return zone(name)


def local_date(instant: datetime, tz: str) -> date:
    if instant.tzinfo is None:
        raise ValueError("instant must be timezone-aware")
    return instant.astimezone(zone(tz)).date()


def parse_date(raw: object) -> date:
    """A calendar date written YYYY-MM-DD (not 20260315, not week dates such as 2026-W12-3)."""
    text = str(raw or "").strip()
    if not text:
        raise ValueError("date is missing")
    try:
        if not _DATE.match(text):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"date {text[:40]!r} is not a valid YYYY-MM-DD date") from None


def parse_instant(raw: object) -> datetime:
    """ISO-8601 ``YYYY-MM-DDTHH:MM[:SS[.ffffff]]`` with an explicit offset (or Z). A naive time is
    ambiguous and rejected."""
    text = str(raw or "").strip()
    if not text:
        raise ValueError("timestamp is missing")
    try:
        if not _INSTANT.match(text):
            raise ValueError
        value = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        raise ValueError(f"timestamp {text[:40]!r} is not ISO-8601 (YYYY-MM-DDTHH:MM:SS+08:00)") from None
    if value.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no UTC offset")
    return value


def iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def utcnow() -> datetime:
    return datetime.now(UTC)
