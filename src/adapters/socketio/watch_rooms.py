"""WatchRooms for one socket: it enters ``watchers:{userId}`` for each user it watches.

Rooms are per instance in python-socketio, and emits to them reach every instance through
its manager, so entering here is enough for changes made anywhere; the rooms are left
with the socket. A manager that routes by interest (``compat/interest_manager.py``) is
given the rooms at once, so that it subscribes in one command and waits once.
"""

from __future__ import annotations

from collections.abc import Sequence

import socketio

from .broadcaster import watchers_room


class SocketWatchRooms:
    __slots__ = ("_server", "_sid")

    def __init__(self, server: socketio.AsyncServer, sid: str) -> None:
        self._server = server
        self._sid = sid

    async def enter(self, user_ids: Sequence[str]) -> None:
        enter_rooms = getattr(self._server.manager, "enter_rooms", None)
        if enter_rooms is not None:
            await enter_rooms(self._sid, "/", [watchers_room(user_id) for user_id in user_ids])
            return
        for user_id in user_ids:
            await self._server.enter_room(self._sid, watchers_room(user_id))

    async def leave(self, user_ids: Sequence[str]) -> None:
        for user_id in user_ids:
            await self._server.leave_room(self._sid, watchers_room(user_id))
