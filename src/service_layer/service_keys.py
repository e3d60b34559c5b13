"""Service keys: how the backend, not a user, is let into the server API.

A key is ``name:secret``; the name is what logs and metrics say (a secret never is). A
presented secret is compared with every key in constant time (``hmac.compare_digest``
over all of them, no early exit), so the answer's timing tells neither which key nor how
much of one matched.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from ..domain.errors import InvalidToken, MissingToken

# The shortest secret production accepts: 32 characters (about 190 bits of a random token).
MIN_PRODUCTION_SECRET = 32


class ServiceKeys:
    def __init__(self, keys: Iterable[tuple[str, str]]) -> None:
        # Digests of equal length: compare_digest then costs the same for every key.
        self._keys = [(name, hashlib.sha256(secret.encode()).digest()) for name, secret in keys]
        if not self._keys:
            raise ValueError("no service key")

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self._keys]

    def name_of(self, secret: str | None) -> str:
        """The name of the key ``secret`` is, or ``Refused``."""
        if not secret:
            raise MissingToken("a service key is needed: Authorization: Bearer <key>")
        presented = hashlib.sha256(secret.encode()).digest()
        found = None
        for name, digest in self._keys:
            if hmac.compare_digest(presented, digest) and found is None:
                found = name
        if found is None:
            raise InvalidToken("not a service key of this gateway")
        return found

    def is_key(self, secret: str | None) -> bool:
        """Whether ``secret`` is one of the keys (the user API refuses those)."""
        try:
            self.name_of(secret)
        except InvalidToken:
            return False
        except MissingToken:
            return False
        return True
