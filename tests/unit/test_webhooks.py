"""Standard Webhooks signatures: the spec's own test vector, rotation, tolerance, tampering."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from arrears.domain.webhooks import SignatureError, secret_key, sign, verify

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the Standard Webhooks libraries' test secret
OTHER = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
MSG = "msg_p5jXN8AQM9LWM0D4loKWxJek"
BODY = b'{"test": 2432232314}'
NOW = datetime(2021, 2, 25, 15, 2, 10, tzinfo=UTC)  # 1614265330


def headers(signature: str, stamp: str = "1614265330", msg: str = MSG) -> dict[str, str]:
    return {"webhook-id": msg, "webhook-timestamp": stamp, "webhook-signature": signature}


def test_sign_matches_the_spec_test_vector():
    assert sign(SECRET, MSG, 1614265330, BODY) == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_a_valid_signature_returns_the_webhook_id_with_or_without_the_prefix():
    assert verify([SECRET], headers(sign(SECRET, MSG, 1614265330, BODY)), BODY, NOW) == MSG
    assert verify([SECRET.removeprefix("whsec_")], headers(sign(SECRET, MSG, 1614265330, BODY)), BODY, NOW) == MSG


def test_any_of_several_signatures_and_either_of_two_secrets_is_enough():
    good = sign(OTHER, MSG, 1614265330, BODY)
    several = f"v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,{good[3:]} {good}"
    assert verify([SECRET, OTHER], headers(several), BODY, NOW) == MSG  # rotation: the new secret
    assert verify([OTHER, SECRET], headers(sign(SECRET, MSG, 1614265330, BODY)), BODY, NOW) == MSG  # and the old


@pytest.mark.parametrize(
    "change",
    [
        {"body": BODY + b" "},
        {"msg": "msg_other"},
        {"stamp": "1614265331"},
        {"signature": "v2," + sign(SECRET, MSG, 1614265330, BODY)[3:]},  # only v1 is known
        {"signature": sign(OTHER, MSG, 1614265330, BODY)},
        {"signature": "v1,not base64 at all"},
        {"signature": "garbage"},
    ],
)
def test_anything_tampered_is_refused(change):
    good = sign(SECRET, MSG, 1614265330, BODY)
    h = headers(change.get("signature", good), change.get("stamp", "1614265330"), change.get("msg", MSG))
    with pytest.raises(SignatureError, match="no valid signature"):
        verify([SECRET], h, change.get("body", BODY), NOW)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_header_is_named(missing):
    h = headers(sign(SECRET, MSG, 1614265330, BODY))
    h[missing] = ""
    with pytest.raises(SignatureError, match=missing):
        verify([SECRET], h, BODY, NOW)


@pytest.mark.parametrize("stamp", ["hello", "-1614265330", "1614265330.5", "¹⁶¹⁴", "1" * 13])
def test_a_timestamp_that_is_not_epoch_seconds_is_refused(stamp):
    with pytest.raises(SignatureError, match="whole seconds"):
        verify([SECRET], headers(sign(SECRET, MSG, 1614265330, BODY), stamp), BODY, NOW)


@pytest.mark.parametrize("offset", [-301, 301])
def test_a_timestamp_more_than_five_minutes_from_the_clock_is_refused(offset):
    stamp = str(1614265330 + offset)
    with pytest.raises(SignatureError, match="300 seconds"):
        verify([SECRET], headers(sign(SECRET, MSG, stamp, BODY), stamp), BODY, NOW)


@pytest.mark.parametrize("offset", [-300, 300])
def test_five_minutes_either_way_is_still_accepted(offset):
    stamp = str(1614265330 + offset)
    assert verify([SECRET], headers(sign(SECRET, MSG, stamp, BODY), stamp), BODY, NOW) == MSG


def test_the_clock_is_the_one_given_not_the_machines():
    later = NOW + timedelta(days=400)
    stamp = str(int(later.timestamp()))
    assert verify([SECRET], headers(sign(SECRET, MSG, stamp, BODY), stamp), BODY, later) == MSG


@pytest.mark.parametrize("bad", ["whsec_***", "whsec_c2hvcnQ=", ""])
def test_a_malformed_or_short_secret_is_refused(bad):
    with pytest.raises(ValueError, match="webhook secret"):
        secret_key(bad)
