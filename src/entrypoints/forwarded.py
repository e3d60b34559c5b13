"""The client's address behind a reverse proxy: ``X-Forwarded-For``, believed only when the
connection comes from a proxy named in ``PRESENCE_TRUSTED_PROXIES``.

Anyone can send the header; taken from anyone, it would let a client write any address
into its session's ``ip``. From a trusted proxy, the address is the right-most one in the
header that is not itself a trusted proxy (a chain of proxies appends, one hop each). The
ASGI scope's ``client`` is rewritten, so the socket handlers read it as before.

Cost: one check of the connection's peer per HTTP request or WebSocket handshake (not per
socket event); nothing at all while no proxy is configured (this layer is not installed).
"""

from __future__ import annotations

import ipaddress
from typing import Any, Awaitable, Callable, Iterable

Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]
MAX_HEADER = 1024  # a longer header is ignored, not parsed


class TrustedForwarded:
    def __init__(self, app: ASGIApp, proxies: Iterable[str]) -> None:
        self.app = app
        self._networks = [ipaddress.ip_network(proxy, strict=False) for proxy in proxies]
        self._trusted_cache: dict[str, bool] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)

    def _trusted(self, address: str) -> bool:
        known = self._trusted_cache.get(address)
        if known is None:
            try:
                ip = ipaddress.ip_address(address)
            except ValueError:
                known = False
            else:
                known = any(ip in network for network in self._networks)
            if len(self._trusted_cache) < 1024:
                self._trusted_cache[address] = known
        return known

    def client_of(self, peer: str, header: bytes) -> str | None:
        """The address the trusted chain vouches for, or None to keep the peer's."""
        if not self._trusted(peer) or len(header) > MAX_HEADER:
            return None
        for hop in reversed(header.decode("latin-1").split(",")):
            hop = hop.strip()
            try:
                ipaddress.ip_address(hop)
            except ValueError:
                return None  # not an address: a forged or broken header, believe none of it
            if not self._trusted(hop):
                return hop
        return None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        client = scope.get("client")
        if client and scope["type"] in ("http", "websocket"):
            # Several header lines are one list, in order (a proxy may add its own line).
            values = [value for name, value in scope["headers"] if name == b"x-forwarded-for"]
            if values:
                forwarded = self.client_of(client[0], b",".join(values))
                if forwarded is not None:
                    scope = {**scope, "client": (forwarded, 0)}
        await self.app(scope, receive, send)
