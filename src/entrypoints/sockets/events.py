"""Socket event handlers: parse the frame, call the use case, emit the answer."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import socketio

from ...adapters.jwt.claims import claimed_subject
from ...adapters.socketio.broadcaster import user_room
from ...adapters.socketio.server import PresenceSocketServer
from ...domain.devices import device_kind
from ...domain.errors import ExpiredToken, InvalidDevice, InvalidPayload, PresenceError, Refused
from ...domain.ports import Clock, SessionMeta
from ...service_layer.use_cases import PresenceService
from ..error_body import error_body
from .budgets import Row
from .counts import SocketCounts
from .gate import EXPIRED, OVER_BUDGET, SocketGate

log = logging.getLogger(__name__)

MAX_PAYLOAD_KEYS = 16
TOO_MANY_ATTEMPTS = "too many connection attempts"


class SocketSession:
    """What the gateway keeps per socket, in python-socketio's session (not on a namespace)."""

    __slots__ = ("user_id", "meta", "watching", "expires_at", "tokens", "stamp", "user_bucket", "refused")

    def __init__(self, user_id: str, meta: SessionMeta, expires_at: float = float("inf")) -> None:
        self.user_id = user_id
        self.meta = meta
        self.watching: set[str] = set()  # the users whose changes this socket hears
        self.expires_at = expires_at  # the token's exp: the socket lives no longer
        self.tokens = 0.0  # the socket's budget (domain/budget.py)
        self.stamp = 0.0
        self.user_bucket: Row = Row()  # the user's, shared by their sockets (set by the gate)
        self.refused = 0  # events refused in a row


BLOCKED = "blocked"


async def _blocked(blocked: Callable[[str], Awaitable[bool]], user_id: str) -> bool:
    """A block that cannot be read (Redis down) lets the user in: presence degrades, never
    every connect with it."""
    try:
        return await blocked(user_id)
    except Exception as error:
        log.warning("block of user %r not read: %r", user_id, error)
        return False


def _token(auth: Any, environ: dict[str, Any]) -> object:
    if isinstance(auth, dict) and "token" in auth:
        return auth["token"]
    header = environ.get("HTTP_AUTHORIZATION")
    if header:
        return header
    return None


def _address(environ: dict[str, Any]) -> str:
    """The client's address (behind a trusted proxy, the one it forwarded: http/forwarded.py)."""
    client = environ.get("asgi.scope", {}).get("client")
    return client[0] if client else environ.get("REMOTE_ADDR", "")


def _meta(auth: Any, ip: str, now: float) -> SessionMeta:
    device = device_kind(auth.get("device") if isinstance(auth, dict) else None)
    return SessionMeta(device=device, connected_at=now, ip=ip)


def _update_of(payload: Any) -> dict[str, object]:
    if not isinstance(payload, dict):
        raise InvalidPayload("presence:update takes an object: {status?, customStatus?}")
    if len(payload) > MAX_PAYLOAD_KEYS:
        raise InvalidPayload("presence:update payload is too large")
    return payload


async def reply_error(
    sio: PresenceSocketServer, sid: str, event: str, error: Exception, counts: SocketCounts
) -> dict[str, Any]:
    """Answer an event that failed: an ``error`` event, and the acknowledgement's body."""
    counts.count_error(event)
    body = error_body(error, f"{event} from socket {sid}")
    await sio.emit("error", body, to=sid)
    return {"error": body}


async def refuse_event(sio: PresenceSocketServer, sid: str, refusal: PresenceError) -> dict[str, Any]:
    """Answer an event the gate refused. A socket whose token expired is then disconnected;
    one that keeps sending past its budget loses its connection (it is not reading)."""
    body = error_body(refusal)
    await sio.emit("error", body, to=sid)
    if refusal is EXPIRED:
        await sio.disconnect(sid)
    elif refusal is OVER_BUDGET:
        eio_sid = sio.manager.eio_sid_from_sid(sid, "/")
        socket = sio.eio.sockets.get(eio_sid)
        if socket is not None:
            await sio.close_engineio_socket(eio_sid, socket)
    return {"error": body}


SessionHandler = Callable[[str, SocketSession, Any], Awaitable[Any]]
SocketHandler = Callable[..., Awaitable[Any]]


def client_event(
    sio: PresenceSocketServer,
    gate: SocketGate,
    counts: SocketCounts,
    event: str,
    *,
    tally: str | None = None,
    cost: Callable[[Any], float] | None = None,
    acknowledged: bool = True,
) -> Callable[[SessionHandler], SocketHandler]:
    """What every client event goes through before and around its handler, written once:
    counted (``tally``, a field of ``SocketCounts``), the socket's session read, the gate's
    check charged ``cost(payload)`` and its refusal answered, then the handler given the
    session; a failure answered as ``error`` and the ack's body. ``acknowledged=False``
    for an event answered by an emit alone (its ack, if asked for, is empty)."""

    def wrap(handler: SessionHandler) -> SocketHandler:
        async def on_event(sid: str, payload: Any = None, *_: Any) -> Any:
            if tally is not None:
                setattr(counts, tally, getattr(counts, tally) + 1)
            session: SocketSession = sio.bare.session_of(sid)
            refusal = gate.refusal(session) if cost is None else gate.refusal(session, cost(payload))
            if refusal is not None:
                body = await refuse_event(sio, sid, refusal)
            else:
                try:
                    return await handler(sid, session, payload)
                except Exception as error:
                    body = await reply_error(sio, sid, event, error, counts)
            return body if acknowledged else None

        return on_event

    return wrap


def register_socket_events(
    sio: PresenceSocketServer,
    service: PresenceService,
    clock: Clock,
    gate: SocketGate,
    counts: SocketCounts | None = None,
    blocked: Callable[[str], Awaitable[bool]] | None = None,
) -> None:
    """``blocked``: whether the server API keeps a user out (None: it is off, no check)."""
    counts = counts if counts is not None else SocketCounts()

    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = _token(auth, environ)
        ip = _address(environ)
        if not gate.attempt(ip, claimed_subject(token), clock.now()):
            counts.count_refusal(TOO_MANY_ATTEMPTS)
            raise socketio.exceptions.ConnectionRefusedError(TOO_MANY_ATTEMPTS)
        try:
            identity = await service.identify(token)
        except Refused as refused:
            counts.count_refusal(refused.default_message)
            raise socketio.exceptions.ConnectionRefusedError(refused.message) from None
        if blocked is not None and await _blocked(blocked, identity.user_id):
            counts.count_refusal(BLOCKED)
            raise socketio.exceptions.ConnectionRefusedError(BLOCKED)
        now = clock.now()
        if identity.expires_at <= now:
            raise socketio.exceptions.ConnectionRefusedError(ExpiredToken.default_message)
        try:
            meta = _meta(auth, ip, now)
        except InvalidDevice as invalid:
            counts.count_refusal(invalid.default_message)
            raise socketio.exceptions.ConnectionRefusedError(invalid.message) from None
        session = SocketSession(identity.user_id, meta, identity.expires_at)
        if not gate.admit(session, now):
            raise socketio.exceptions.ConnectionRefusedError("too many connections")
        await sio.save_session(sid, session)

    async def connected(sid: str) -> None:
        """After CONNECT, as the guide orders it: join the room, register, confirm."""
        session: SocketSession = await sio.get_session(sid)
        room = user_room(session.user_id)
        await sio.enter_room(sid, room)
        try:
            arrival = await service.connect(session.user_id, sid, session.meta)
        except Exception as error:
            await reply_error(sio, sid, "connect", error, counts)
            await sio.disconnect(sid)
            return
        counts.connects += 1
        sio.fresh.told(sid, room, arrival.seq)  # an update for a seq not above it is old news here
        await sio.emit("connected", {"userId": session.user_id, "socketId": sid, "status": arrival.status}, to=sid)

    @client_event(sio, gate, counts, "ping", tally="pings", acknowledged=False)
    async def ping(sid: str, session: SocketSession, _: Any) -> None:
        await sio.bare.emit("pong", to=sid)
        await service.heartbeat(session.user_id, sid, session.meta)

    @client_event(sio, gate, counts, "presence:update", tally="updates")
    async def presence_update(sid: str, session: SocketSession, payload: Any) -> dict[str, Any]:
        """Answers an acknowledgement when the client asks for one, as the watch events do."""
        await service.update(session.user_id, sid, session.meta, _update_of(payload))
        return {"ok": True}

    async def disconnect(sid: str, *_: Any) -> None:
        session: SocketSession = await sio.get_session(sid)
        gate.release(session.user_id)
        try:
            await service.disconnect(session.user_id, sid)
        except PresenceError as error:  # nothing to answer: the socket is gone; its TTL will expire it
            log.warning("disconnect of %s for user %s not recorded: %s", sid, session.user_id, error)
        except Exception:
            log.exception("disconnect of %s for user %s not recorded", sid, session.user_id)
        # Counted once handled: the count then says the change, its event and its durable
        # record are done or queued (what a scrape that follows a close can rely on).
        counts.disconnects += 1

    sio.on("connect", connect)
    sio.on("ping", ping)
    sio.bare.register("ping")
    sio.bare.register("pong")
    sio.on("presence:update", presence_update)
    sio.on("disconnect", disconnect)
    sio.on_connected = connected
