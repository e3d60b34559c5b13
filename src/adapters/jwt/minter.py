"""Development tokens, signed exactly as the chat backend signs its access tokens."""

from __future__ import annotations

import time
import warnings

from joserfc import jwt
from joserfc.errors import SecurityWarning
from joserfc.jwk import OctKey


def mint_token(secret: str, user_id: str, expires_in: int | None, now: float | None = None) -> str:
    issued = int(time.time() if now is None else now)
    claims: dict[str, object] = {"sub": str(user_id), "iat": issued}
    if expires_in is not None:
        claims["exp"] = issued + int(expires_in)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)  # the backend's secret is what it is
        key = OctKey.import_key(secret)
    return jwt.encode({"alg": "HS256"}, claims, key)
