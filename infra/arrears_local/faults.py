"""A seeded fault injector for the local stack (``arrears run --faults RATE``).

Each HTTP attempt a handler's AWS request makes may, with probability RATE, be throttled or fail with
a 5xx before it is applied, or time out after it was applied (the caller cannot tell whether it
happened). Faults sit where the network would be, below the SDK's own retries: the SDK retries them
as it does in Lambda (its back-off is not slept), and a client that must not resend (SNS, SES: no
idempotency token, ``clients.NO_SDK_RETRY``) sees every one. The runner adds the delivery faults:
every queue message is delivered twice, a handler may crash after its side effects and before
acknowledging (its SQS batch, stream batch or S3 event comes again), and a stream batch may be
retried. Requests the runner itself makes (Lambda's pollers, the platform's uploads) are not faulted.
The same seed gives the same faults for the same sequence of requests. Needs the in-process emulator.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from typing import Any

from botocore.exceptions import ReadTimeoutError

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

    def crash_after(self, what: str) -> bool:
        """A handler that succeeded crashes before acknowledging (its input comes again)."""
        if self.roll():
            self.injected[f"crash_after:{what}"] += 1
            return True
        return False


active: Faults | None = None
_installed = False


def _error_response(request: Any, service: str, code: str, status: int) -> Any:
    """The error as the service's protocol returns it, for botocore to parse (and retry) as a real one."""
    from botocore.awsrequest import AWSResponse
    from moto.core.botocore_stubber import MockRawResponse

    message = "injected fault"
    headers: dict[str, str] = {}
    if service in _QUERY:
        body = (
            f"<ErrorResponse><Error><Type>Receiver</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            "<RequestId>fault</RequestId></ErrorResponse>"
        )
    elif service in _REST_XML:
        body = f"<Error><Code>{code}</Code><Message>{message}</Message><RequestId>fault</RequestId></Error>"
    else:  # the JSON protocols
        body = json.dumps({"__type": code, "message": message})
        headers = {"x-amzn-ErrorType": code, "Content-Type": "application/x-amz-json-1.0"}
    return AWSResponse(request.url, status, headers, MockRawResponse(body))


_QUERY = {"sns", "ses", "cloudwatch", "sts", "iam"}
_REST_XML = {"s3"}


def install(faults: Faults | None) -> None:
    """Fault handlers' AWS requests from now on (None: stop), at the emulator's door: moto's in-process
    stub, which every client calls for each attempt inside the SDK's retry loop."""
    global active, _installed
    active = faults
    if _installed or faults is None:
        return
    import botocore.endpoint
    from moto.core.botocore_stubber import BotocoreStubber

    from . import meter

    original = BotocoreStubber.__call__

    def faulted(self: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
        f = active
        if f is None or meter.current == "runner" or not self.enabled:
            return original(self, event_name, request, **kwargs)
        _, service, operation = event_name.split(".", 2)
        kind = f.before(service, operation)
        if kind is None:
            return original(self, event_name, request, **kwargs)
        if kind == "timeout":
            original(self, event_name, request, **kwargs)  # applied, but the answer never arrives
            raise ReadTimeoutError(endpoint_url=request.url)
        code, status = _THROTTLE.get(service, ("ThrottlingException", 400)) if kind == "throttle" else ("InternalError", 500)
        return _error_response(request, service, code, status)

    BotocoreStubber.__call__ = faulted  # type: ignore[method-assign]
    botocore.endpoint.time = _NoSleep()  # type: ignore[attr-defined]
    _installed = True


class _NoSleep:
    """botocore's endpoint module sleeps its retry back-off through ``time.sleep``: not in simulated time."""

    def sleep(self, seconds: float) -> None:
        if active is None:
            time.sleep(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)
