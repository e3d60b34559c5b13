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
  session lingers until its ping timeout. Read as the client closing, it ends at once
  (``compat/engineio_websocket.py``, which replaces python-engineio's WebSocket).

Each refusal costs one set lookup or one character test on the frame; refusals are
counted and logged at most once per ``interval`` (one line with the count), never once
per frame.
"""

from __future__ import annotations

from typing import Any

# python-socketio dispatches the first two to the server's own handlers; the others are
# what socket.io-client reserves for itself.
RESERVED_EVENTS = frozenset(
    {"connect", "disconnect", "connect_error", "disconnecting", "newListener", "removeListener", "*"}
)
# Socket.IO packet types that announce binary attachments.
_BINARY_PACKETS = frozenset("56")


def dispatchable(data: Any) -> bool:
    """Whether an EVENT packet's data names an event the application may handle."""
    return type(data) is list and bool(data) and type(data[0]) is str and data[0] not in RESERVED_EVENTS


def announces_binary(data: Any) -> bool:
    """A Socket.IO packet that would make python-socketio wait for binary attachments (or
    a raw binary frame itself)."""
    return type(data) is not str or data[:1] in _BINARY_PACKETS
