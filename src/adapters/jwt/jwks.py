"""The public keys of an identity provider (``JWT_JWKS_URL``), for RS256/ES256/EdDSA
tokens it signs.

Fetched once, then kept. A token naming a key id (``kid``) the set does not hold makes
one refresh (the provider rotated its keys), at most once per ``min_refresh`` seconds, so
tokens with invented ``kid``s cannot turn the gateway into a client hammering the
provider; concurrent connects share one fetch. A provider that cannot be reached keeps
the keys already known; with none known, the token is refused as invalid.

The fetch is a plain HTTPS GET (urllib, in a worker thread, bounded in time and size):
it happens on a key rotation, not per connect.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Callable

import anyio
from joserfc.jwk import KeySet

from ...domain.ports import Clock
from ..clock import SystemClock

log = logging.getLogger(__name__)

MAX_JWKS_BYTES = 1 << 20
FETCH_TIMEOUT = 5.0


def fetch_url(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT) as response:  # noqa: S310 (configured URL)
        body = response.read(MAX_JWKS_BYTES + 1)
    if len(body) > MAX_JWKS_BYTES:
        raise ValueError(f"JWKS larger than {MAX_JWKS_BYTES} bytes")
    return body


class JwksKeys:
    def __init__(
        self,
        url: str,
        *,
        clock: Clock | None = None,
        min_refresh: float = 60.0,
        fetch: Callable[[str], bytes] = fetch_url,
    ) -> None:
        self.url = url
        self._clock = clock or SystemClock()
        self.min_refresh = min_refresh
        self._fetch = fetch
        self._keys: KeySet | None = None
        self._kids: frozenset[str] = frozenset()
        self._next_refresh = 0.0
        self._lock = anyio.Lock()
        self.fetches = 0

    async def key_set(self, kid: str | None) -> KeySet | None:
        """The provider's keys, refreshed first if ``kid`` is new and a refresh is due."""
        if self._keys is None or (kid is not None and kid not in self._kids):
            async with self._lock:
                if (self._keys is None or (kid is not None and kid not in self._kids)) and self._due():
                    await self._refresh()
        return self._keys

    def _due(self) -> bool:
        return self._clock.now() >= self._next_refresh

    async def _refresh(self) -> None:
        self._next_refresh = self._clock.now() + self.min_refresh
        self.fetches += 1
        try:
            body = await anyio.to_thread.run_sync(self._fetch, self.url)
            keys = KeySet.import_key_set(json.loads(body))
        except Exception as error:  # keep what is known; said once per refresh attempt
            log.warning("JWKS %s not refreshed: %r", self.url, error)
            return
        self._keys = keys
        self._kids = frozenset(key.kid for key in keys.keys if key.kid)
        log.info("JWKS %s: %d keys", self.url, len(keys.keys))
