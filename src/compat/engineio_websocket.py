"""Patches python-engineio 4.15.1's ``engineio.async_drivers.asgi.WebSocket.wait``: the ASGI
WebSocket, reading a text frame Engine.IO cannot decode (empty,
or not starting with a packet type) as the client closing. Upstream decodes it outside
its receive loop's ``try``: the error escapes to hypercorn, which answers 1011, and the
session lingers until its ping timeout. Read as a close, it ends at once. On the fast
protocol path the frame's text or bytes come straight from the connection's
``WebSocketSession`` (``receive_data``), not through an ASGI message dict.

python-engineio builds the WebSocket from its server's ``_async`` table
(``AsyncSocket._upgrade_websocket``), so ``guard_engineio`` puts this class there.
"""

from __future__ import annotations

from typing import Any, Protocol

from engineio.async_drivers.asgi import WebSocket as _EngineIOWebSocket

from .fast_websocket import WebSocketSession

# Engine.IO text packet types: open, close, ping, pong, message, upgrade, noop.
_ENGINEIO_TYPES = frozenset("0123456")


class Refusals(Protocol):
    def note(self, reason: str, who: object) -> None: ...


class GuardedWebSocket(_EngineIOWebSocket):
    """python-engineio's ASGI WebSocket, reading an undecodable text frame as the client
    closing (``None``) instead of letting the decode error escape to hypercorn."""

    refusals: Refusals | None = None

    async def wait(self) -> Any:
        session = getattr(self.asgi_send, "__self__", None)
        if type(session) is WebSocketSession:
            # On the fast protocol path: upstream's wait without the ASGI message between.
            data = await session.receive_data()
            if type(data) is dict:
                raise OSError()  # not a message, as upstream's wait raises
        else:
            data = await super().wait()
        return self.screen(data)

    def screen(self, data: Any) -> Any:
        """A message as ``wait`` returns it: None for an undecodable text frame (noted)."""
        if type(data) is str and (not data or data[0] not in _ENGINEIO_TYPES):
            if self.refusals is not None:
                self.refusals.note("undecodable Engine.IO frame", "-")
            return None
        return data


def guard_engineio(eio: Any, refusals: Refusals) -> None:
    """Serve WebSockets of this Engine.IO server through ``GuardedWebSocket``."""
    guarded = type("GuardedWebSocket", (GuardedWebSocket,), {"refusals": refusals})
    eio._async = {**eio._async, "websocket": guarded}
