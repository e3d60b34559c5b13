"""TokenVerifier for HS256 JWTs signed with ``JWT_SECRET_ACCESS``, and for tokens an
identity provider signs with the keys of its JWKS (``JWT_JWKS_URL``: RS256, ES256, EdDSA).

The algorithms are configuration: a token claiming ``none`` or any algorithm not
configured is refused, so a client cannot pick how it is checked (an HS256 token is
never checked against a provider's public key, nor an RS256 one against the secret).
Earlier secrets (``JWT_SECRETS_PREVIOUS``) verify too, so a secret can be rotated without
logging everyone out; ``JWT_ISSUER`` and
``JWT_AUDIENCE``, when set, must match the token's ``iss`` and ``aud``.

The subject must be a valid user id (``domain/user_ids.py``); a token naming anything
else is ``invalid token`` to the client, and the reason is logged (escaped, at most once
per interval: a client can present bad tokens as fast as it likes).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence

from joserfc import jws, jwt
from joserfc.errors import BadSignatureError, ExpiredTokenError, JoseError, SecurityWarning
from joserfc.jwk import KeyFlexible, OctKey

from ...domain.errors import ExpiredToken, InvalidToken, MissingToken
from ...domain.ports import Clock, Identity
from ...domain.user_ids import user_id_problem
from ..clock import SystemClock
from ..refusal_log import RefusalLog
from .jwks import JwksKeys

log = logging.getLogger(__name__)

ALGORITHMS = ("HS256",)
# EdDSA under its RFC 9864 name (Ed25519) and its older one, which providers still emit.
JWKS_ALGORITHMS = ("RS256", "ES256", "Ed25519", "EdDSA")
MAX_TOKEN_LENGTH = 8192
MIN_SECRET_BYTES = 32  # RFC 7518 §3.2: an HS256 key as long as the hash


def _key(secret: str) -> OctKey:
    if len(secret.encode()) < MIN_SECRET_BYTES:
        # The chat backend chose this secret and already signs with it: warn, don't refuse.
        log.warning("a JWT secret is shorter than %d bytes; HS256 wants a longer one", MIN_SECRET_BYTES)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)
        return OctKey.import_key(secret)


class JwtTokenVerifier:
    def __init__(
        self,
        secret: str,
        clock: Clock | None = None,
        leeway: int = 0,
        *,
        previous_secrets: Sequence[str] = (),
        issuer: str | None = None,
        audience: str | None = None,
        jwks: JwksKeys | None = None,
        jwks_algorithms: Sequence[str] = JWKS_ALGORITHMS,
    ) -> None:
        if not secret:
            raise ValueError("a JWT secret is required")
        self._keys = [_key(s) for s in (secret, *previous_secrets) if s]
        self._clock = clock or SystemClock()
        self._leeway = leeway
        self._options: dict[str, jwt.ClaimsOption] = {}
        if issuer:
            self._options["iss"] = {"essential": True, "value": issuer}
        if audience:
            self._options["aud"] = {"essential": True, "value": audience}
        self.refusals = RefusalLog("token subject")
        self._jwks = jwks
        self._jwks_algorithms = tuple(jwks_algorithms)

    async def verify(self, token: object) -> str:
        return (await self.identify(token)).user_id

    async def identify(self, token: object) -> Identity:
        if self._jwks is not None and isinstance(token, str) and len(token) <= MAX_TOKEN_LENGTH:
            header = _header(_strip_bearer(token))
            if header is not None and header.get("alg") in self._jwks_algorithms:
                kid = header.get("kid")
                keys = await self._jwks.key_set(kid if isinstance(kid, str) else None)
                if keys is None:
                    raise InvalidToken()
                return self._identify(token, lambda t: _decode_quietly(t, keys, self._jwks_algorithms))
        return self.identify_now(token)

    def _decode(self, token: str) -> dict[str, object]:
        for key in self._keys:
            try:
                return jwt.decode(token, key, algorithms=ALGORITHMS).claims
            except BadSignatureError:
                continue  # perhaps signed with an earlier secret
        raise InvalidToken()

    def identify_now(self, token: object) -> Identity:
        """HS256 tokens only (no key to fetch)."""
        return self._identify(token, self._decode)

    def _identify(self, token: object, decode) -> Identity:  # decode: str -> claims
        if token is None or token == "":
            raise MissingToken()
        if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken()
        token = _strip_bearer(token)
        try:
            claims = decode(token)
            registry = jwt.JWTClaimsRegistry(now=int(self._clock.now()), leeway=self._leeway, **self._options)
            # joserfc insists on a string ``sub``; backends that mint numeric ids are accepted.
            registry.validate({name: value for name, value in claims.items() if name != "sub"})
        except ExpiredTokenError:
            raise ExpiredToken() from None
        except (JoseError, ValueError, TypeError):
            raise InvalidToken() from None
        subject = claims.get("sub")
        if isinstance(subject, bool) or not isinstance(subject, (str, int)):
            raise InvalidToken()
        user_id = str(subject)
        problem = user_id_problem(user_id)
        if problem is not None:
            self.refusals.note(problem, user_id[:64])
            raise InvalidToken()
        exp = claims.get("exp")
        expires_at = float(exp) if isinstance(exp, (int, float)) and not isinstance(exp, bool) else float("inf")
        return Identity(user_id, expires_at)


def _strip_bearer(token: str) -> str:
    if token[:7].lower() == "bearer ":  # the scheme is case-insensitive (RFC 9110 §11.1)
        return token[7:].strip()
    return token


def _header(token: str) -> dict[str, object] | None:
    try:
        return jws.extract_compact(token.encode()).protected
    except (JoseError, ValueError, TypeError, UnicodeError):
        return None


def _decode_quietly(token: str, keys: KeyFlexible, algorithms: Sequence[str]) -> dict[str, object]:
    with warnings.catch_warnings():
        # joserfc warns that the name EdDSA is deprecated (RFC 9864); providers still use it.
        warnings.simplefilter("ignore", SecurityWarning)
        return jwt.decode(token, keys, algorithms=algorithms).claims
