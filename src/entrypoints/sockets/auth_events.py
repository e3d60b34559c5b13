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
from ...domain.errors import InvalidToken, PresenceError
from ...service_layer.use_cases import PresenceService
from ..error_body import error_body
from .events import SocketSession, refuse_event
from .gate import SocketGate


def register_auth_events(sio: PresenceSocketServer, service: PresenceService, gate: SocketGate) -> None:
    async def refresh(sid: str, payload: Any = None, *_: Any) -> dict[str, Any]:
        session: SocketSession = await sio.get_session(sid)
        refusal = gate.refusal(session)
        if refusal is not None:
            return await refuse_event(sio, sid, refusal)
        token = payload.get("token") if isinstance(payload, dict) else None
        try:
            identity = await service.identify(token)
            if identity.user_id != session.user_id:
                raise InvalidToken("invalid token: it names another user")
        except PresenceError as error:
            body = error_body(error)
            await sio.emit("error", body, to=sid)
            return {"error": body}
        session.expires_at = identity.expires_at
        expires = None if identity.expires_at == float("inf") else iso_timestamp(identity.expires_at)
        return {"expiresAt": expires}

    sio.on("auth:refresh", refresh)
