"""Channel adapters: Amazon Connect's request checked against botocore's service model (Stubber),
the WeChat gateway over real HTTP, and provider errors that never quote the borrower's address."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import boto3
import pytest
from botocore.stub import Stubber

from arrears.adapters import channels
from arrears.adapters.channels import ChannelError, ConnectVoice, Message, Sms, Wechat
from arrears.config import ChannelSettings

MSG = Message("a" * 24, "L1", "flow/zh-CN/m2_firm_call", None, "subject", datetime(2026, 4, 1, 2, tzinfo=UTC))
CONTACT = SimpleNamespace(phone="+8613800000001", email=None, wechat_openid="o123", address=None, name="Wang")


def voice_settings(**kw) -> ChannelSettings:
    env = {
        "CHANNEL": "voice",
        "VOICE_QUEUE_URL": "q",
        "CONNECT_INSTANCE_ID": "11111111-2222-3333-4444-555555555555",
        "CONNECT_QUEUE_ID": "66666666-7777-8888-9999-000000000000",
        "CONNECT_FLOWS": "flow/zh-CN/m2_firm_call=aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        **kw,
    }
    return ChannelSettings.from_env(env)


def stubbed(service: str, monkeypatch) -> Stubber:
    real = boto3.client(service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    monkeypatch.setattr(channels, "client", lambda name: real)
    return Stubber(real)


def test_connect_call_request_matches_the_service_model(monkeypatch):
    stub = stubbed("connect", monkeypatch)
    stub.add_response(
        "start_outbound_voice_contact",
        {"ContactId": "contact-1"},
        expected_params={
            "DestinationPhoneNumber": "+8613800000001",
            "ContactFlowId": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
            "InstanceId": "11111111-2222-3333-4444-555555555555",
            "QueueId": "66666666-7777-8888-9999-000000000000",
            "ClientToken": "a" * 24,
            "Attributes": {"action_id": "a" * 24, "loan_id": "L1"},
        },
    )
    with stub:
        sent = ConnectVoice(voice_settings()).send("+8613800000001", MSG, CONTACT)
    assert (sent.message_id, sent.outcome, sent.assumed) == ("contact-1", "conversation", True)
    stub.assert_no_pending_responses()


def test_a_call_without_a_configured_flow_or_refused_by_connect_names_the_cause_not_the_number(monkeypatch):
    with pytest.raises(ChannelError, match="no Connect contact flow configured for flow/zh-CN/m2_firm_call"):
        ConnectVoice(voice_settings(CONNECT_FLOWS="")).send("+8613800000001", MSG, CONTACT)
    stub = stubbed("connect", monkeypatch)
    stub.add_client_error("start_outbound_voice_contact", "LimitExceededException", "too many calls to +8613800000001")
    with stub, pytest.raises(ChannelError) as e:
        ConnectVoice(voice_settings()).send("+8613800000001", MSG, CONTACT)
    assert "LimitExceededException" in str(e.value) and "+86" not in str(e.value)


def test_sms_errors_never_quote_the_phone_number(monkeypatch):
    stub = stubbed("sns", monkeypatch)
    stub.add_client_error("publish", "InvalidParameter", "Invalid parameter: PhoneNumber +8613800000001")
    with stub, pytest.raises(ChannelError) as e:
        Sms().send("+8613800000001", MSG._replace(body="hi"), CONTACT)
    assert "InvalidParameter" in str(e.value) and "+86" not in str(e.value)
    assert e.value.outcome == "refused"  # a 4xx: the provider will never take it


@pytest.mark.parametrize(
    ("code", "status", "outcome"),
    [("Throttling", 400, "retry"), ("InternalError", 500, "unknown"), ("InvalidParameter", 400, "refused")],
)
def test_only_a_request_that_surely_did_not_leave_is_retried(monkeypatch, code, status, outcome):
    """SNS has no idempotency token: a server error may have delivered the text, so it is never
    retried (at most once); throttling is."""
    stub = stubbed("sns", monkeypatch)
    stub.add_client_error("publish", code, "x", http_status_code=status)
    with stub, pytest.raises(ChannelError) as e:
        Sms().send("+8613800000001", MSG._replace(body="hi"), CONTACT)
    assert e.value.outcome == outcome


def test_a_timeout_after_sending_is_unknown_and_a_refused_connection_is_retried():
    """botocore's ReadTimeoutError carries ``response=None``: the text may have gone, so it is never
    sent again; a connection that never opened surely did not send."""
    from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

    from arrears.adapters.channels import _failure

    assert _failure(ReadTimeoutError(endpoint_url="https://sns"), "SMS").outcome == "unknown"
    assert _failure(EndpointConnectionError(endpoint_url="https://sns"), "SMS").outcome == "retry"


def test_wechat_goes_to_the_gateway_over_http_and_refusals_are_errors():
    from arrears_local.wechat import FakeWechatGateway

    gateway = FakeWechatGateway()
    try:
        sent = Wechat(gateway.url).send("o123", MSG._replace(template="zh-CN/m1_wechat_reminder", body="您好"), CONTACT)
        assert sent.message_id == "1"
        assert gateway.messages == [
            {"touser": "o123", "template": "zh-CN/m1_wechat_reminder", "text": "您好", "client_msg_id": "a" * 24}
        ]
        with pytest.raises(ChannelError, match="errcode 40003") as refused:
            Wechat(gateway.url).send("", MSG, CONTACT)
        assert refused.value.outcome == "refused"
        with pytest.raises(ChannelError, match="WeChat gateway failed") as down:
            Wechat("http://127.0.0.1:9/nothing-listens", timeout=2).send("o123", MSG, CONTACT)
        assert down.value.outcome == "retry"  # not connected: nothing left
    finally:
        gateway.stop()


def test_every_call_result_the_simulated_dialer_gives_is_known_to_the_contact_ledger():
    """Busy and voicemail are unanswered attempts, as no answer is (booked as attempts when reserved:
    nothing more to write); a message left on a voicemail is not a conversation."""
    from arrears.adapters.contact_ledger import CALL_OUTCOMES, record_call

    results = {r for r, _ in channels.SIMULATED_OUTCOMES}
    assert {"no_answer", "busy", "voicemail"} <= results <= set(CALL_OUTCOMES)
    for result in ("no_answer", "busy", "voicemail"):
        assert CALL_OUTCOMES[result] == "attempt"
        record_call("B1", "a1", result)  # no error, and no write
    assert CALL_OUTCOMES["unreported"] == "conversation"  # a dialer that reports nothing: the strictest
    with pytest.raises(ValueError, match="unknown call result 'fax'"):
        record_call("B1", "a1", "fax")
