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
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]
MAX_HEADER = 1024  # a longer header is ignored, not parsed
KNOWN_ADDRESSES = 4096


class TrustedForwarded:
    def __init__(self, app: ASGIApp, proxies: Iterable[str]) -> None:
        self.app = app
        self._networks = [ipaddress.ip_network(proxy, strict=False) for proxy in proxies]
        self._known: dict[str, bool | None] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)

    def _kind(self, address: str) -> bool | None:
        """True for a trusted proxy, False for another address, None for no address;
        remembered, so a known address costs one dict lookup."""
        try:
            return self._known[address]
        except KeyError:
            pass
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            kind = None
        else:
            kind = any(ip in network for network in self._networks)
        if len(self._known) >= KNOWN_ADDRESSES:
            self._known.clear()
        self._known[address] = kind
        return kind

    def client_of(self, peer: str, header: bytes) -> str | None:
        """The address the trusted chain vouches for, or None to keep the peer's."""
        if not self._kind(peer) or len(header) > MAX_HEADER:
            return None
        for hop in reversed(header.decode("latin-1").split(",")):
            kind = self._kind(hop.strip())
            if kind is None:
                return None  # not an address: a forged or broken header, believe none of it
            if not kind:
                return hop.strip()
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
