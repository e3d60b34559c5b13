"""Broadcaster over Socket.IO rooms: a user's sockets share room ``user:{userId}``; the
sockets watching them share ``watchers:{userId}``.

Each emit is encoded once by python-socketio, however many sockets are in the room, and
crosses instances as one message through its Redis manager. When the user's own sockets
and their watchers see the same status (everything but INVISIBLE and other statuses seen
as another), one emit to both rooms serves them all.
"""

from __future__ import annotations

import socketio

from ...domain.presence import PresenceChanged
from ..presence_payload import iso_timestamp, seen_fields

UPDATED = "presence:updated"


def user_room(user_id: str) -> str:
    return f"user:{user_id}"


def watchers_room(user_id: str) -> str:
    return f"watchers:{user_id}"


class SocketIOBroadcaster:
    def __init__(self, server: socketio.AsyncServer) -> None:
        self._server = server

    async def publish(self, change: PresenceChanged) -> None:
        user_id = change.user_id
        timestamp = iso_timestamp(change.at)
        seen = seen_fields(change)
        own = {"userId": user_id, "status": change.status, "timestamp": timestamp, **seen}
        if not change.public_changed:
            await self._server.emit(UPDATED, own, room=user_room(user_id))
        elif change.status == change.public:
            await self._server.emit(UPDATED, own, room=[user_room(user_id), watchers_room(user_id)])
        else:
            await self._server.emit(UPDATED, own, room=user_room(user_id))
            public = {"userId": user_id, "status": change.public, "timestamp": timestamp, **seen}
            await self._server.emit(UPDATED, public, room=watchers_room(user_id))
