"""Unit: the operations API's tokens and roles (arrears.domain.access), without AWS."""

from __future__ import annotations

import time

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey, RSAKey

from arrears.domain import access

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_TEST"
CLIENT = "console-client"
NOW = int(time.time())
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)
KEYS = KeySet([RSAKey.import_key(KEY.as_dict(private=False))])


def token(key=KEY, alg="RS256", kid="k1", **claims) -> str:
    body = {
        "iss": ISSUER,
        "aud": CLIENT,
        "token_use": "id",
        "sub": "u-1",
        "cognito:username": "ann",
        "cognito:groups": ["agent"],
        "iat": NOW - 10,
        "exp": NOW + 3600,
        **claims,
    }
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode({"alg": alg, "kid": kid}, body, key)


def verify(t: str, now: int = NOW) -> access.Principal:
    return access.verify(t, KEYS, ISSUER, CLIENT, now)


def test_a_valid_id_token_names_the_user_and_role():
    p = verify(token())
    assert (p.user, p.role, p.subject) == ("ann", "agent", "u-1")


def test_an_access_token_is_checked_on_its_client_id():
    access_token = token(aud=None, token_use="access", client_id=CLIENT, username="bo", **{"cognito:username": None})
    assert verify(access_token).user == "bo"
    with pytest.raises(access.AccessError, match="another client") as e:
        verify(token(aud=None, token_use="access", client_id="other"))
    assert e.value.status == 401


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"exp": NOW - 3600}, "expired"),
        ({"exp": None}, "no expiry"),
        ({"iat": NOW + 3600}, "not valid yet"),
        ({"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_OTHER"}, "not issued by this stack"),
        ({"aud": "another-app"}, "another client"),
        ({"token_use": "refresh"}, "neither an id nor an access token"),
        ({"cognito:username": None, "sub": None}, "names no user"),
    ],
)
def test_a_token_that_does_not_hold_is_a_401_naming_why(claims, why):
    with pytest.raises(access.AccessError, match=why) as e:
        verify(token(**claims))
    assert e.value.status == 401


def test_forged_tokens_are_refused():
    other = RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)
    with pytest.raises(access.AccessError, match="does not verify"):
        verify(token(key=other))  # the stack's kid, another key
    good = token()
    head, payload, sig = good.split(".")
    with pytest.raises(access.AccessError):
        verify(f"{head}.{token(**{'cognito:groups': ['admin']}).split('.')[1]}.{sig}")  # payload swapped
    hmac_key = OctKey.import_key(KEY.as_dict(private=False)["n"].encode())
    with pytest.raises(access.AccessError):
        verify(token(key=hmac_key, alg="HS256"))  # algorithm confusion: the public key as an HMAC secret
    with pytest.raises(access.AccessError):
        verify(f"{head.replace(head, 'eyJhbGciOiJub25lIn0')}.{payload}.")  # alg none
    for junk in ("", "abc", "a.b.c", "....."):
        with pytest.raises(access.AccessError):
            verify(junk)


def test_an_unknown_key_id_asks_for_the_key_set_again():
    other = RSAKey.generate_key(2048, parameters={"kid": "k2"}, private=True)
    with pytest.raises(access.UnknownKey) as e:
        verify(token(key=other, kid="k2"))
    assert e.value.kid == "k2" and e.value.status == 401


def test_a_user_without_an_arrears_group_is_a_403_and_the_strongest_group_wins():
    with pytest.raises(access.AccessError, match="no arrears role") as e:
        verify(token(**{"cognito:groups": ["finance"]}))
    assert e.value.status == 403
    assert verify(token(**{"cognito:groups": ["analyst", "supervisor", "x"]})).role == "supervisor"


def test_the_roles_table_is_the_issues():
    """admin | supervisor | agent | analyst, row by row as the issue gives them (and who assigns cases)."""
    table = {
        "campaigns.write": "YY--",
        "strategies.write": "YY--",
        "strategies.read": "YY-Y",
        "cases.work": "YYY-",
        "cases.assign": "YY--",
        "offers.make": "YYY-",
        "offers.approve": "YY--",
        "personal.unmask": "YY--",
        "settings.write": "Y---",
        "audit.read": "Y---",
        "dashboards.read": "YYYY",
    }
    assert set(table) == set(access.PERMISSIONS)
    for permission, row in table.items():
        for role, mark in zip(access.ROLES, row, strict=True):
            p = access.Principal("u", role, "s")
            assert p.may(permission) == (mark == "Y"), (permission, role)
            if mark != "Y":
                with pytest.raises(access.AccessError) as e:
                    p.require(permission)
                assert e.value.status == 403


@pytest.mark.parametrize("header", [None, "", "Basic dXNlcjpwYXNz", "Bearer", "Bearer   "])
def test_only_a_bearer_header_carries_a_token(header):
    with pytest.raises(access.AccessError) as e:
        access.bearer(header)
    assert e.value.status == 401
    assert access.bearer("bearer  abc ") == "abc"
