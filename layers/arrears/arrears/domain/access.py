"""Who may do what in the operations API: bearer tokens (RS256 JWTs, as Cognito issues them) verified
against the stack's key set, roles from the token's ``cognito:groups``, and each role's permissions.

Pure: the key set is given (``adapters/jwks.py`` fetches it), and so is "now".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

ROLES = ("admin", "supervisor", "agent", "analyst")  # strongest first

_ALL = frozenset(ROLES)
_STAFF = frozenset(("admin", "supervisor", "agent"))
_LEADS = frozenset(("admin", "supervisor"))

#: the issue's table: a permission -> the roles that have it
PERMISSIONS: Mapping[str, frozenset[str]] = {
    "campaigns.write": _LEADS,  # create, start, pause, resume, cancel
    "strategies.read": frozenset(("admin", "supervisor", "analyst")),
    "strategies.write": _LEADS,  # dry-run, publish, activate, roll back
    "cases.work": _STAFF,  # work queue, masked timeline, call results, promises, notes, dispute holds
    "cases.assign": _LEADS,  # give a case to an agent (their queue); not in the table: a lead's job
    "offers.make": _STAFF,  # plans and settlements (an agent within limits)
    "offers.approve": _LEADS,  # beyond an agent's limits
    "personal.unmask": _LEADS,  # with a reason, audited
    "settings.write": frozenset(("admin",)),  # plan limits per product, channel costs
    "audit.read": frozenset(("admin",)),
    "dashboards.read": _ALL,  # dashboards, progress, reports
}

ALGORITHMS = ["RS256"]  # what Cognito signs with; "none" and HMAC are refused
CLOCK_SKEW_S = 60


class AccessError(Exception):
    """401 (no or bad credentials) or 403 (a valid user whose role may not do it)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class UnknownKey(AccessError):
    """The token names a key the key set lacks (perhaps rotated since the set was fetched)."""

    def __init__(self, kid: str) -> None:
        super().__init__(401, "the bearer token was signed with a key this stack does not know")
        self.kid = kid


class Principal(NamedTuple):
    user: str  # cognito:username (or the access token's username), never an e-mail shown in logs
    role: str
    subject: str  # the token's sub: the user's stable id

    def may(self, permission: str) -> bool:
        return self.role in PERMISSIONS[permission]

    def require(self, permission: str) -> None:
        if permission not in PERMISSIONS:
            raise ValueError(f"unknown permission {permission!r}")
        if not self.may(permission):
            allowed = ", ".join(r for r in ROLES if r in PERMISSIONS[permission])
            raise AccessError(403, f"role {self.role} may not do this ({permission}: {allowed})")

    def permissions(self) -> list[str]:
        return sorted(p for p, roles in PERMISSIONS.items() if self.role in roles)


def role_of(groups: Iterable[str]) -> str | None:
    """The strongest arrears role among the user's groups (other groups are ignored)."""
    have = set(groups)
    return next((r for r in ROLES if r in have), None)


def bearer(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header (401 otherwise)."""
    if not authorization:
        raise AccessError(401, "operations routes take an Authorization: Bearer <token> header (README: Operations)")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AccessError(401, "the Authorization header must be 'Bearer <token>'")
    return token.strip()


def verify(token: str, keys: Any, issuer: str, client_id: str, now: int) -> Principal:
    """The token's user and role, once its signature (RS256, a key of ``keys`` named by its ``kid``),
    issuer, client, use and times check out; ``AccessError(401)`` naming what failed otherwise, and
    403 for a valid user without an arrears role. ``keys``: a joserfc KeySet."""
    from joserfc import jwt
    from joserfc.errors import InvalidKeyIdError, JoseError

    try:
        decoded = jwt.decode(token, keys, algorithms=ALGORITHMS)
    except InvalidKeyIdError:
        raise UnknownKey(_kid(token)) from None
    except JoseError as e:
        raise AccessError(401, f"the bearer token does not verify ({_reason(e)})") from None
    except (ValueError, TypeError, KeyError):
        raise AccessError(401, "the bearer token is not a JWT") from None
    claims = decoded.claims
    _check_client(claims, issuer, client_id)
    _check_times(claims, now)
    return _principal(claims)


def _check_client(claims: Mapping[str, Any], issuer: str, client_id: str) -> None:
    if claims.get("iss") != issuer:
        raise AccessError(401, "the bearer token was not issued by this stack's user pool")
    use = claims.get("token_use")
    if use == "id":
        aud = claims.get("aud")
        ok = client_id in aud if isinstance(aud, list) else aud == client_id
    elif use == "access":
        ok = claims.get("client_id") == client_id
    else:
        raise AccessError(401, "the bearer token is neither an id nor an access token (token_use)")
    if not ok:
        raise AccessError(401, "the bearer token was issued to another client")


def _check_times(claims: Mapping[str, Any], now: int) -> None:
    exp, nbf = claims.get("exp"), claims.get("nbf", claims.get("iat"))
    if not isinstance(exp, int | float):
        raise AccessError(401, "the bearer token has no expiry (exp)")
    if now >= exp + CLOCK_SKEW_S:
        raise AccessError(401, "the bearer token has expired: sign in again")
    if isinstance(nbf, int | float) and now + CLOCK_SKEW_S < nbf:
        raise AccessError(401, "the bearer token is not valid yet (nbf/iat in the future)")


def _principal(claims: Mapping[str, Any]) -> Principal:
    user = claims.get("cognito:username") or claims.get("username") or claims.get("sub")
    if not isinstance(user, str) or not user:
        raise AccessError(401, "the bearer token names no user")
    groups = claims.get("cognito:groups") or []
    role = role_of(g for g in groups if isinstance(g, str)) if isinstance(groups, list) else None
    if role is None:
        raise AccessError(403, f"user {user[:64]} has no arrears role (groups: {', '.join(ROLES)})")
    return Principal(user[:128], role, str(claims.get("sub") or user)[:128])


def _reason(e: Exception) -> str:
    text = getattr(e, "description", "") or getattr(e, "error", "") or type(e).__name__
    return str(text)[:120]


def _kid(token: str) -> str:
    import base64
    import json

    try:
        head = token.split(".", 1)[0]
        return str(json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))).get("kid", ""))[:100]
    except (ValueError, AttributeError):
        return ""
