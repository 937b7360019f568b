"""A seeded fault injector for the local stack (``arrears run --faults RATE``).

At the botocore level, every AWS request a handler makes may, with probability RATE, be throttled or
fail with a 5xx before it is applied, or time out after it was applied (the caller cannot tell
whether it happened). The runner adds the delivery faults: every queue message may be delivered twice,
a handler may crash after its side effects and before acknowledging (its SQS batch, stream batch or S3
event comes again), and a stream batch may be retried. Requests the runner itself makes (Lambda's
pollers, the platform's uploads) are not faulted. The same seed gives the same faults for the same
sequence of requests.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from botocore.exceptions import ClientError, ReadTimeoutError

_THROTTLE = {
    "dynamodb": ("ProvisionedThroughputExceededException", 400),
    "s3": ("SlowDown", 503),
    "sqs": ("RequestThrottled", 403),
    "sns": ("Throttling", 400),
}


class Faults:
    def __init__(self, rate: float, seed: int = 7) -> None:
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"fault rate {rate} must be at least 0 and below 1")
        self.rate, self.rng = rate, random.Random(seed)
        self.injected: Counter[str] = Counter()
        self.enabled = True

    def roll(self) -> bool:
        return self.enabled and self.rate > 0 and self.rng.random() < self.rate

    def before(self, service: str, operation: str) -> str | None:
        """What happens to this request: None, 'throttle', '5xx' or 'timeout' (after it is applied)."""
        if not self.roll():
            return None
        kind = self.rng.choice(("throttle", "5xx", "timeout"))
        self.injected[f"{kind}:{service}.{operation}"] += 1
        return kind

    def error(self, kind: str, service: str, operation: str) -> Exception:
        if kind == "timeout":
            return ReadTimeoutError(endpoint_url=f"https://{service}.local/{operation}")
        code, status = _THROTTLE.get(service, ("ThrottlingException", 400)) if kind == "throttle" else ("InternalError", 500)
        return ClientError(
            {"Error": {"Code": code, "Message": f"injected {kind}"}, "ResponseMetadata": {"HTTPStatusCode": status}},
            operation,
        )

    def crash_after(self, what: str) -> bool:
        """A handler that succeeded crashes before acknowledging (its input comes again)."""
        if self.roll():
            self.injected[f"crash_after:{what}"] += 1
            return True
        return False


active: Faults | None = None
_installed = False


def install(faults: Faults | None) -> None:
    """Fault handlers' AWS requests from now on (None: stop). Wraps whatever makes the calls (the
    meter included), once."""
    global active, _installed
    active = faults
    if _installed or faults is None:
        return
    from botocore.client import BaseClient

    from . import meter

    original = BaseClient._make_api_call

    def faulted(self: Any, operation_name: str, api_params: dict) -> Any:
        f = active
        if f is None or meter.current == "runner":
            return original(self, operation_name, api_params)
        service = self.meta.service_model.service_name
        kind = f.before(service, operation_name)
        if kind is None:
            return original(self, operation_name, api_params)
        if kind == "timeout":
            original(self, operation_name, api_params)  # applied, but the answer never arrives
        raise f.error(kind, service, operation_name)

    BaseClient._make_api_call = faulted
    _installed = True
