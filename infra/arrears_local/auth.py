"""The local stack's sign-in for the operations API: its own RSA key in place of a Cognito user pool.

The key is made once per output folder (``out/local-auth/``: the private key readable by its owner
only, and the public key set the API function reads through a ``file://`` URL), so ``arrears token``
run beside ``arrears up`` signs tokens the running stack accepts. A token looks like a Cognito id
token: RS256, ``iss`` ``arrears-local``, ``aud`` the console's client id, ``token_use`` ``id``,
``cognito:username`` and ``cognito:groups`` (the role).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

from arrears.domain.access import ROLES

ISSUER = "arrears-local"
CLIENT_ID = "arrears-console"
FOLDER = "local-auth"
MAX_MINUTES = 24 * 60


def key_paths(out: Path) -> tuple[Path, Path]:
    folder = out / FOLDER
    return folder / "private.jwk.json", folder / "jwks.json"


def ensure_key(out: Path) -> Path:
    """The folder's key set, made (2048-bit RSA) if missing; returns the public set's path."""
    from joserfc.jwk import RSAKey

    private, public = key_paths(out)
    if private.is_file() and public.is_file():
        return public
    private.parent.mkdir(parents=True, exist_ok=True)
    key = RSAKey.generate_key(
        2048, parameters={"kid": uuid.uuid4().hex[:16], "use": "sig", "alg": "RS256"}, private=True
    )
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(key.as_dict(private=True), f)
    public.write_text(json.dumps({"keys": [key.as_dict(private=False)]}), encoding="utf-8")
    return public


def stack_params(out: Path) -> dict[str, str]:
    """The template parameters that point the API function at the folder's key instead of Cognito."""
    return {"OpsJwksUrl": ensure_key(out).resolve().as_uri(), "OpsIssuer": ISSUER, "OpsClientId": CLIENT_ID}


def mint(out: Path, role: str, user: str, minutes: int = 60, now: float | None = None) -> str:
    """A signed id token for ``user`` in the group ``role``, valid for ``minutes``."""
    from joserfc import jwt
    from joserfc.jwk import RSAKey

    private, _ = key_paths(out)
    if not private.is_file():
        raise FileNotFoundError(
            f"{private} does not exist: start the local stack first (arrears up, or arrears run --out {out})"
        )
    key = RSAKey.import_key(json.loads(private.read_text(encoding="utf-8")))
    issued = int(now if now is not None else time.time())
    claims = {
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "token_use": "id",
        "sub": str(uuid.uuid5(uuid.NAMESPACE_URL, f"arrears-local/{user}")),
        "cognito:username": user,
        "cognito:groups": [role],
        "iat": issued,
        "exp": issued + minutes * 60,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)




def local_token(out: Path, body: bytes) -> Any:
    """``POST /local/token`` on the local stack's API front (the console's sign-in form there):
    ``{"user": "ann", "role": "supervisor"}`` -> ``{"token": ...}``. There is no such route in AWS."""
    from .api_front import Response

    def answer(status: int, data: dict[str, str]) -> Any:
        return Response(
            status, [("Content-Type", "application/json"), ("Cache-Control", "no-store")], json.dumps(data).encode()
        )

    try:
        row = json.loads(body or b"{}")
    except ValueError:
        return answer(400, {"Code": "BadRequest", "Message": "the body is not JSON"})
    user, role = (
        (row.get("user") if isinstance(row, dict) else None),
        (row.get("role") if isinstance(row, dict) else None),
    )
    if not isinstance(user, str) or not user.strip() or len(user) > 128 or not user.isprintable():
        return answer(
            400, {"Code": "BadRequest", "Message": "user must be 1-128 printable characters", "field": "user"}
        )
    if role not in ROLES:
        return answer(
            400, {"Code": "BadRequest", "Message": f"role must be one of {', '.join(ROLES)}", "field": "role"}
        )
    return answer(200, {"token": mint(out, role, user.strip())})
