"""The current time. In AWS it is the machine's clock; the local stack's simulated clock sets
ARREARS_SIMULATED_NOW for each invocation (nothing in a deployed stack sets it)."""

from __future__ import annotations

import os
from datetime import UTC, datetime


def now() -> datetime:
    simulated = os.environ.get("ARREARS_SIMULATED_NOW")
    return datetime.fromisoformat(simulated) if simulated else datetime.now(UTC)
