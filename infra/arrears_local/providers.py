"""The local stack's audit log: what the providers received, per action, and when each loan was cured or
fell overdue again, in the one order in which they happened (the runner is single-threaded).

In AWS each provider keeps its own log (SNS delivery logs, SES events, Connect contact records, the
WeChat gateway's, the print house's outbox); here the stand-ins are wrapped instead: a request that
reached a provider is recorded with the action the sender was working on, on the simulated clock.
A request counts as received when it succeeded or timed out after it was sent (the provider may have
taken it); a throttled or refused one does not. Cures and new cases are read from the facts as the
handlers write them. Nothing personal is kept: action, loan, channel and time.

``make soak`` compares these logs between a faulted and a fault-free run (``soak.py``).
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ReadTimeoutError

#: every event in order: {"seq", "at", "kind": "call"|"cured"|"opened", "loan_id", ["action_id", "channel"]}
events: list[dict[str, Any]] = []
_sending: contextvars.ContextVar[tuple[str, str, str] | None] = contextvars.ContextVar("sending", default=None)
_now: Callable[[], datetime] | None = None
_installed = False
#: told of each contact a provider took (the world, when a run has one: world.py): the message, channel
delivered: Callable[[Any, str], None] | None = None
#: the provider requests that deliver a message (the outbox is the letters' provider)
_DELIVER = {("sns", "Publish"), ("ses", "SendEmail"), ("ses", "SendRawEmail"), ("s3", "PutObject")}


def reset(now: Callable[[], datetime]) -> None:
    """A new stack: an empty log on its clock."""
    global _now
    events.clear()
    _now = now


def _add(kind: str, loan_id: str, **more: str) -> None:
    at = _now().isoformat() if _now else ""
    events.append({"seq": len(events), "at": at, "kind": kind, "loan_id": loan_id, **more})


def _call(action: tuple[str, str, str]) -> None:
    action_id, loan_id, channel = action
    _add("call", loan_id, action_id=action_id, channel=channel)


def _facts(body: bytes) -> None:
    for line in body.decode().splitlines():
        if '"case_' not in line:
            continue
        fact = json.loads(line)
        if fact["fact_type"] == "case_closed" and fact.get("reason") == "cured":
            _add("cured", fact["loan_id"])
        elif fact["fact_type"] == "case_opened":
            _add("opened", fact["loan_id"])


def install() -> None:
    """Wrap the AWS requests (in whatever order the meter and the fault injector wrap them) and each
    channel's sender, once per process."""
    global _installed
    if _installed:
        return
    from botocore.client import BaseClient

    from arrears.adapters import channels

    original = BaseClient._make_api_call

    def logged(self: Any, operation_name: str, api_params: dict) -> Any:
        key = (self.meta.service_model.service_name, operation_name)
        if key not in _DELIVER:
            return original(self, operation_name, api_params)
        action = _sending.get()
        body = api_params.get("Body") if str(api_params.get("Key", "")).startswith("facts/") else None
        try:
            result = original(self, operation_name, api_params)
        except ReadTimeoutError:  # sent, no answer: the provider may well have it
            if action is not None:
                _call(action)
            raise
        if isinstance(body, bytes):  # read before the call: botocore turns it into a stream
            _facts(body)
        elif action is not None:
            _call(action)
        return result

    BaseClient._make_api_call = logged

    for cls, channel, own_log in (
        (channels.Sms, "sms", False),
        (channels.Email, "email", False),
        (channels.Letter, "letter", False),
        (channels.SimulatedVoice, "voice", True),
        (channels.Wechat, "wechat", True),
    ):
        _wrap(cls, channel, own_log)
    _installed = True


def _wrap(cls: Any, channel: str, own_log: bool) -> None:
    """The sender's ``send`` names the action its provider requests are for."""
    from arrears.adapters.channels import ChannelError

    send = cls.send

    def sending(self: Any, to: str, msg: Any, contact: Any) -> Any:
        action = (msg.action_id, msg.loan_id, channel)
        token = _sending.set(action)
        try:
            result = send(self, to, msg, contact)
        except ChannelError as e:
            if own_log and e.outcome == "unknown":  # it may have reached the provider
                _call(action)
            raise
        finally:
            _sending.reset(token)
        if own_log:  # a provider without an AWS request (the dialer, the gateway): it answered
            _call(action)
        if delivered is not None:
            delivered(msg, channel)
        return result

    cls.send = sending


def write(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(e, separators=(",", ":")) + "\n" for e in events))
