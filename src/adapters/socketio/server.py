"""The Socket.IO server, with the one hook python-socketio lacks.

python-socketio runs the ``connect`` handler before it sends the CONNECT packet, so an
event emitted there reaches the client before ``connect`` fires. The guide's clients
expect ``connected`` after ``connect``; ``on_connected`` runs once CONNECT is sent.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

import socketio

from . import json_codec

OnConnected = Callable[[str], Awaitable[None]]


class PresenceSocketServer(socketio.AsyncServer):
    def __init__(self, *, on_connected: OnConnected | None = None, **options: Any) -> None:
        # Named, not detected: with aiohttp installed engineio would pick the aiohttp driver.
        options.setdefault("async_mode", "asgi")
        options.setdefault("json", json_codec)
        # Events of one socket run in order, inline: no task per event, and a ping can
        # never overtake the presence:update sent before it.
        options.setdefault("async_handlers", False)
        super().__init__(**options)
        self.on_connected = on_connected

    async def _handle_connect(self, eio_sid: str, namespace: str | None, data: Any) -> None:
        await super()._handle_connect(eio_sid, namespace, data)
        namespace = namespace or "/"
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        if self.on_connected is not None and sid is not None and self.manager.is_connected(sid, namespace):
            await self.on_connected(sid)
