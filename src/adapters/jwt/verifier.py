"""TokenVerifier for HS256 JWTs signed with ``JWT_SECRET_ACCESS``.

The algorithm is pinned: a token claiming ``none`` or any other algorithm is refused, so
a client cannot pick how it is checked.
"""

from __future__ import annotations

import logging
import warnings

from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError, SecurityWarning
from joserfc.jwk import OctKey

from ...domain.errors import ExpiredToken, InvalidToken, MissingToken
from ...domain.ports import Clock
from ..clock import SystemClock

log = logging.getLogger(__name__)

ALGORITHMS = ("HS256",)
MAX_TOKEN_LENGTH = 8192
MIN_SECRET_BYTES = 32  # RFC 7518 §3.2: an HS256 key as long as the hash


class JwtTokenVerifier:
    def __init__(self, secret: str, clock: Clock | None = None, leeway: int = 0) -> None:
        if not secret:
            raise ValueError("a JWT secret is required")
        if len(secret.encode()) < MIN_SECRET_BYTES:
            # The chat backend chose this secret and already signs with it: warn, don't refuse.
            log.warning("JWT_SECRET_ACCESS is shorter than %d bytes; HS256 wants a longer one", MIN_SECRET_BYTES)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SecurityWarning)
            self._key = OctKey.import_key(secret)
        self._clock = clock or SystemClock()
        self._leeway = leeway

    async def verify(self, token: object) -> str:
        return self.verify_now(token)

    def verify_now(self, token: object) -> str:
        if token is None or token == "":
            raise MissingToken()
        if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken()
        if token.startswith("Bearer "):
            token = token[7:]
        try:
            claims = jwt.decode(token, self._key, algorithms=ALGORITHMS).claims
            registry = jwt.JWTClaimsRegistry(now=int(self._clock.now()), leeway=self._leeway)
            # joserfc insists on a string ``sub``; backends that mint numeric ids are accepted.
            registry.validate({name: value for name, value in claims.items() if name != "sub"})
        except ExpiredTokenError:
            raise ExpiredToken() from None
        except (JoseError, ValueError, TypeError):
            raise InvalidToken() from None
        subject = claims.get("sub")
        if isinstance(subject, bool) or not isinstance(subject, (str, int)):
            raise InvalidToken("invalid token: no subject")
        user_id = str(subject)
        if not user_id or len(user_id) > 255:
            raise InvalidToken("invalid token: bad subject")
        return user_id
