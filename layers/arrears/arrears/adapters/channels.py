"""One sender per channel: the only code that talks to SNS, SES, Amazon Connect, the WeChat gateway
or the letters outbox. Each takes the action's id as its idempotency token where the service has one
(Connect's ClientToken, the gateway's client_msg_id, the letter's object key)."""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar, NamedTuple, Protocol

from ..config import ChannelSettings
from .clients import client
from .models import ContactModel


class Delivery(NamedTuple):
    message_id: str | None
    outcome: str | None = None  # voice: the call's result
    assumed: bool = False  # the dialer does not report results (Connect, for now): the strictest one


class Message(NamedTuple):
    action_id: str
    loan_id: str
    template: str
    body: str | None  # rendered text; None for a voice step (the contact flow speaks)
    subject: str
    at: datetime


class ChannelError(RuntimeError):
    """The provider refused or failed; the text never contains the borrower's address. ``outcome``
    says what the sender may do: ``retry`` (nothing left: throttled, not reachable, or idempotent
    at the provider), ``refused`` (the provider will never take it: block the action), ``unknown``
    (the request may have reached the borrower: never retried, at most once)."""

    def __init__(self, text: str, outcome: str = "retry") -> None:
        super().__init__(text)
        self.outcome = outcome


_THROTTLED = {"Throttling", "ThrottlingException", "TooManyRequestsException", "ThrottledException"}
_NOT_SENT = ("EndpointConnectionError", "ConnectTimeoutError", "ConnectionRefusedError", "NoCredentialsError")


def _failure(e: Exception, what: str, idempotent: bool = False) -> ChannelError:
    """Classify a provider failure. Only a request that surely did not leave (or that the provider
    deduplicates) is retried; a server error or a timeout after sending is 'unknown'."""
    status = int(_response(e).get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    code = _code(e)
    if idempotent or code in _THROTTLED or type(e).__name__ in _NOT_SENT:
        outcome = "retry"
    elif 400 <= status < 500:
        outcome = "refused"
    else:
        outcome = "unknown"
    return ChannelError(f"{what} failed: {code}", outcome)


class Sender(Protocol):
    def address(self, contact: ContactModel) -> str | None: ...

    def send(self, to: str, msg: Message, contact: ContactModel) -> Delivery: ...


def _response(e: Exception) -> dict:
    """The service's answer carried by the error; none for a timeout (botocore's ReadTimeoutError has
    ``response`` set to None) or a connection that never opened."""
    return getattr(e, "response", None) or {}


def _code(e: Exception) -> str:
    return str(_response(e).get("Error", {}).get("Code", type(e).__name__))


class Sms:
    def address(self, contact: ContactModel) -> str | None:
        return contact.phone or None

    def send(self, to: str, msg: Message, contact: ContactModel) -> Delivery:
        try:
            resp = client("sns").publish(
                PhoneNumber=to,
                Message=msg.body,
                MessageAttributes={"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}},
            )
        except Exception as e:  # SNS errors quote the phone number: never let that reach a log
            raise _failure(e, "SNS publish") from None
        return Delivery(resp.get("MessageId"))


class Email:
    def __init__(self, sender: str) -> None:
        self.sender = sender

    def address(self, contact: ContactModel) -> str | None:
        return contact.email or None

    def send(self, to: str, msg: Message, contact: ContactModel) -> Delivery:
        try:
            resp = client("ses").send_email(
                Source=self.sender,
                Destination={"ToAddresses": [to]},
                Message={
                    "Subject": {"Data": msg.subject, "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": msg.body or "", "Charset": "UTF-8"}},
                },
            )
        except Exception as e:
            raise _failure(e, "SES send_email") from None
        return Delivery(resp.get("MessageId"))


class ConnectVoice:
    """Amazon Connect places the call and plays the step's contact flow. Its result would arrive later
    as a Connect contact event, which arrears does not ingest yet: until it does, every placed call
    counts on the contact ledger as a conversation, the strictest reading of the voice caps (CN
    connected calls a day; US no call within 7 days of a conversation)."""

    def __init__(self, settings: ChannelSettings) -> None:
        self.s = settings

    def address(self, contact: ContactModel) -> str | None:
        return contact.phone or None

    def send(self, to: str, msg: Message, contact: ContactModel) -> Delivery:
        flow = self.s.connect_flows.get(msg.template)
        if flow is None:
            raise ChannelError(f"no Connect contact flow configured for {msg.template} (CONNECT_FLOWS)", "refused")
        try:
            resp = client("connect").start_outbound_voice_contact(
                DestinationPhoneNumber=to,
                ContactFlowId=flow,
                InstanceId=self.s.connect_instance_id,
                QueueId=self.s.connect_queue_id,
                ClientToken=msg.action_id,  # Connect's own idempotency: a retry never dials twice
                Attributes={"action_id": msg.action_id, "loan_id": msg.loan_id},
            )
        except Exception as e:
            raise _failure(e, "Connect outbound call", idempotent=True) from None  # ClientToken dedupes
        return Delivery(resp.get("ContactId"), "conversation", assumed=True)


#: the simulated dialer's outcomes and their shares (a deterministic draw per action): every result a
#: dialer reports (busy and voicemail are unanswered attempts, as no answer is)
SIMULATED_OUTCOMES = (
    ("no_answer", 0.35),
    ("busy", 0.05),
    ("voicemail", 0.05),
    ("connected", 0.15),
    ("conversation", 0.25),
    ("promise", 0.15),
)


def simulated_outcome(action_id: str) -> str:
    x = int(hashlib.sha256(f"dial|{action_id}".encode()).hexdigest()[:8], 16) / float(1 << 32)
    edge = 0.0
    for outcome, share in SIMULATED_OUTCOMES:
        edge += share
        if x < edge:
            return outcome
    return SIMULATED_OUTCOMES[-1][0]


class SimulatedVoice:
    """The local stack's dialer (moto has no Amazon Connect): the call's outcome is known at once,
    drawn deterministically from the action id so re-runs agree. ``placed`` is its call log."""

    placed: list[tuple[str, str, str]] = []  # (number, contact flow, action id), as a provider's log
    #: the local stack's world, when it runs one, answers the call instead (infra/arrears_local/world.py)
    answer: ClassVar[Callable[[Message], str | None] | None] = None

    def address(self, contact: ContactModel) -> str | None:
        return contact.phone or None

    def send(self, to: str, msg: Message, contact: ContactModel) -> Delivery:
        SimulatedVoice.placed.append((to, msg.template, msg.action_id))
        answered = SimulatedVoice.answer(msg) if SimulatedVoice.answer is not None else None
        return Delivery(f"sim-{msg.action_id[:12]}", answered or simulated_outcome(msg.action_id))


class Wechat:
    """The platform's WeChat gateway sends the official-account template message to the openid."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url, self.timeout = url, timeout

    def address(self, contact: ContactModel) -> str | None:
        return contact.wechat_openid or None

    def send(self, to: str, msg: Message, contact: ContactModel) -> Delivery:
        payload = {"touser": to, "template": msg.template, "text": msg.body, "client_msg_id": msg.action_id}
        req = urllib.request.Request(
            self.url,
            data=json.dumps(payload, ensure_ascii=False).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 - configured https URL
                data: Any = json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as e:
            outcome = "refused" if 400 <= e.code < 500 and e.code != 429 else ("retry" if e.code == 429 else "unknown")
            raise ChannelError(f"WeChat gateway failed: HTTP {e.code}", outcome) from None
        except urllib.error.URLError as e:  # not connected: nothing was sent
            raise ChannelError(f"WeChat gateway failed: {type(e.reason).__name__}", "retry") from None
        except Exception as e:  # a timeout or a broken reply after sending
            raise ChannelError(f"WeChat gateway failed: {type(e).__name__}", "unknown") from None
        if data.get("errcode", 0) != 0:
            raise ChannelError(f"WeChat gateway refused the message: errcode {data.get('errcode')}", "refused")
        return Delivery(str(data.get("msgid") or "") or None)


class Letter:
    """Letters go to the print house's outbox: one text file per letter, addressed from the contact
    record (that bucket holds personal data; the analysts' bucket never does)."""

    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    def address(self, contact: ContactModel) -> str | None:
        return contact.address or None

    def send(self, to: str, msg: Message, contact: ContactModel) -> Delivery:
        key = f"letters/dt={msg.at.date().isoformat()}/{msg.action_id}.txt"
        text = f"{contact.name}\n{to}\n\n{msg.body or ''}"
        try:
            client("s3").put_object(Bucket=self.bucket, Key=key, Body=text.encode(), ContentType="text/plain")
        except Exception as e:
            raise _failure(e, "letter outbox write", idempotent=True) from None  # same key: rewriting is safe
        return Delivery(key)


def sender_for(s: ChannelSettings) -> Sender:
    if s.channel == "sms":
        return Sms()
    if s.channel == "email":
        return Email(s.email_from or "")
    if s.channel == "voice":
        return SimulatedVoice() if s.voice_dialer == "simulated" else ConnectVoice(s)
    if s.channel == "wechat":
        return Wechat(s.wechat_gateway_url or "")
    return Letter(s.outbox_bucket or "")
