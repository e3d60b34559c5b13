"""Socket events for watching other users: ``presence:subscribe`` and
``presence:unsubscribe``, answered through the Socket.IO acknowledgement.

A refusal is both an ``error`` event (as every other handler answers) and the ack
``{error: {code, message}}``, so a client awaiting the ack is never left waiting.
"""

from __future__ import annotations

from typing import Any

from ...adapters.presence_payload import custom_status_body, iso_timestamp
from ...adapters.socketio.broadcaster import watchers_room
from ...adapters.socketio.server import PresenceSocketServer
from ...adapters.socketio.watch_rooms import SocketWatchRooms
from ...domain.budget import event_cost
from ...domain.errors import InvalidPayload
from ...service_layer.watching import Seen, Snapshot, WatchService
from .counts import SocketCounts
from .events import MAX_PAYLOAD_KEYS, SocketSession, client_event
from .gate import SocketGate


def user_ids_payload(payload: Any, event: str) -> object:
    if not isinstance(payload, dict):
        raise InvalidPayload(f"{event} takes an object: {{userIds}}")
    if len(payload) > MAX_PAYLOAD_KEYS:
        raise InvalidPayload(f"{event} payload is too large")
    if "userIds" not in payload:
        raise InvalidPayload(f"{event} needs userIds")
    return payload["userIds"]


def ids_cost(payload: Any) -> float:
    """What an event naming ``userIds`` costs, read before it is validated (a list's length)."""
    ids = payload.get("userIds") if isinstance(payload, dict) else None
    return event_cost(len(ids) if isinstance(ids, list) else 0)


def seen_body(seen: Seen) -> dict[str, Any]:
    last_seen = None if seen.last_seen is None else iso_timestamp(seen.last_seen)
    return {
        "userId": seen.user_id,
        "status": seen.status,
        "lastSeen": last_seen,
        "devices": dict(seen.devices),
        "customStatus": custom_status_body(seen.custom_status),
        "seq": seen.seq,
    }


def snapshot_body(snapshot: Snapshot) -> dict[str, Any]:
    """``{presence: [{userId, status, lastSeen}], denied: [userId]}``, as the ack and the
    HTTP query answer it."""
    return {"presence": [seen_body(seen) for seen in snapshot.seen], "denied": snapshot.denied}


def register_watch_events(
    sio: PresenceSocketServer, watch: WatchService, gate: SocketGate, counts: SocketCounts | None = None
) -> None:
    counts = counts if counts is not None else SocketCounts()

    @client_event(sio, gate, counts, "presence:subscribe", tally="subscribes", cost=ids_cost)
    async def subscribe(sid: str, session: SocketSession, payload: Any) -> dict[str, Any]:
        user_ids = user_ids_payload(payload, "presence:subscribe")
        snapshot = await watch.subscribe(session.user_id, user_ids, session.watching, SocketWatchRooms(sio, sid))
        for seen in snapshot.seen:  # an update for a seq not above the snapshot's is old news here
            sio.fresh.told(sid, watchers_room(seen.user_id), seen.seq)
        return snapshot_body(snapshot)

    @client_event(sio, gate, counts, "presence:unsubscribe", tally="unsubscribes", cost=ids_cost)
    async def unsubscribe(sid: str, session: SocketSession, payload: Any) -> dict[str, Any]:
        user_ids = user_ids_payload(payload, "presence:unsubscribe")
        await watch.unsubscribe(user_ids, session.watching, SocketWatchRooms(sio, sid))
        return {"watching": len(session.watching)}

    sio.on("presence:subscribe", subscribe)
    # The snapshot is acknowledged before the updates emitted while it was taken, so every
    # update after it is at least as new (see the server's module).
    sio.reply_first("presence:subscribe")
    sio.on("presence:unsubscribe", unsubscribe)
