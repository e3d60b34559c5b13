"""Broadcaster over Socket.IO rooms: a user's sockets share room ``user:{userId}``."""

from __future__ import annotations

from datetime import datetime, timezone

import socketio

from ...domain.presence import PresenceChanged

UPDATED = "presence:updated"


def user_room(user_id: str) -> str:
    return f"user:{user_id}"


def iso_timestamp(at: float) -> str:
    """ISO-8601 UTC with milliseconds and ``Z``, as JavaScript's ``toISOString`` writes it."""
    return datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="milliseconds")[:-6] + "Z"


class SocketIOBroadcaster:
    def __init__(self, server: socketio.AsyncServer) -> None:
        self._server = server

    async def publish(self, change: PresenceChanged) -> None:
        payload = {"userId": change.user_id, "status": change.status, "timestamp": iso_timestamp(change.at)}
        await self._server.emit(UPDATED, payload, room=user_room(change.user_id))
