"""``auth:refresh``: a socket hands over a fresh token before its own expires, and lives on.

The token must name the same user (a socket never changes identity) and pass every check
a connect's token passes. Acknowledged with ``{expiresAt}`` (ISO-8601 UTC, or null for a
token without ``exp``); refused with ``{error: {code, message}}`` and an ``error`` event,
and the socket keeps the token it had.
"""

from __future__ import annotations

from typing import Any

from ...adapters.socketio.broadcaster import iso_timestamp
from ...adapters.socketio.server import PresenceSocketServer
from ...domain.errors import InvalidToken
from ...service_layer.use_cases import PresenceService
from .counts import SocketCounts
from .events import SocketSession, client_event
from .gate import SocketGate


def register_auth_events(
    sio: PresenceSocketServer, service: PresenceService, gate: SocketGate, counts: SocketCounts | None = None
) -> None:
    counts = counts if counts is not None else SocketCounts()

    @client_event(sio, gate, counts, "auth:refresh")
    async def refresh(sid: str, session: SocketSession, payload: Any) -> dict[str, Any]:
        token = payload.get("token") if isinstance(payload, dict) else None
        identity = await service.identify(token)
        if identity.user_id != session.user_id:
            raise InvalidToken("invalid token: it names another user")
        session.expires_at = identity.expires_at
        expires = None if identity.expires_at == float("inf") else iso_timestamp(identity.expires_at)
        return {"expiresAt": expires}

    sio.on("auth:refresh", refresh)
