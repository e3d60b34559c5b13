"""What a client may put on the wire, checked where python-socketio and python-engineio
read it, before anything is buffered, dispatched or logged.

- Reserved event names (``connect``, ``disconnect`` …) are the server's own: python-socketio
  would run its handlers for ``42["disconnect"]`` and ``42["connect", …]``. Refused.
- An event whose name is not a string (``42[["x"]]``, ``42[]``, ``42{}``) cannot be
  dispatched; python-socketio would raise and log a traceback. Refused.
- Binary attachments (``45-[…]`` then raw frames) are not part of the contract: the
  placeholder makes python-socketio buffer every following frame. The socket is closed.
- A WebSocket text frame Engine.IO cannot decode (empty, or not starting with a packet
  type) raises outside python-engineio's receive loop: hypercorn answers 1011 and the
  session lingers until its ping timeout. Read as the client closing, it ends at once.

Each refusal costs one set lookup or one character test on the frame; refusals are
counted and logged at most once per ``interval`` (one line with the count), never once
per frame.
"""

from __future__ import annotations

from typing import Any

from engineio.async_drivers.asgi import WebSocket as _EngineIOWebSocket

from ..refusal_log import RefusalLog

# python-socketio dispatches the first two to the server's own handlers; the others are
# what socket.io-client reserves for itself.
RESERVED_EVENTS = frozenset(
    {"connect", "disconnect", "connect_error", "disconnecting", "newListener", "removeListener", "*"}
)
# Engine.IO text packet types: open, close, ping, pong, message, upgrade, noop.
_ENGINEIO_TYPES = frozenset("0123456")
# Socket.IO packet types that announce binary attachments.
_BINARY_PACKETS = frozenset("56")


def dispatchable(data: Any) -> bool:
    """Whether an EVENT packet's data names an event the application may handle."""
    return type(data) is list and bool(data) and type(data[0]) is str and data[0] not in RESERVED_EVENTS


def announces_binary(data: Any) -> bool:
    """A Socket.IO packet that would make python-socketio wait for binary attachments (or
    a raw binary frame itself)."""
    return type(data) is not str or data[:1] in _BINARY_PACKETS


class GuardedWebSocket(_EngineIOWebSocket):
    """python-engineio's ASGI WebSocket, reading an undecodable text frame as the client
    closing (``None``) instead of letting the decode error escape to hypercorn."""

    refusals: RefusalLog | None = None

    async def wait(self) -> Any:
        data = await super().wait()
        if type(data) is str and (not data or data[0] not in _ENGINEIO_TYPES):
            if self.refusals is not None:
                self.refusals.note("undecodable Engine.IO frame", "-")
            return None
        return data


def guard_engineio(eio: Any, refusals: RefusalLog) -> None:
    """Serve WebSockets of this Engine.IO server through ``GuardedWebSocket``."""
    guarded = type("GuardedWebSocket", (GuardedWebSocket,), {"refusals": refusals})
    eio._async = {**eio._async, "websocket": guarded}
