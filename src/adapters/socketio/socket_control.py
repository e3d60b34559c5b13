"""Sockets closed by id on whichever instance holds them: python-socketio's manager
carries an emit and a disconnect of a socket it does not hold to the one that does, in
the order they were sent, so the reason arrives before the close."""

from __future__ import annotations

from collections.abc import Sequence

from .server import PresenceSocketServer


class SocketIOControl:
    def __init__(self, sio: PresenceSocketServer) -> None:
        self._sio = sio

    async def disconnect(self, session_ids: Sequence[str], event: str, payload: dict[str, str]) -> None:
        for sid in session_ids:
            await self._sio.emit(event, payload, to=sid)
            await self._sio.disconnect(sid)
