"""The Socket.IO server, with the two hooks python-socketio lacks.

python-socketio runs the ``connect`` handler before it sends the CONNECT packet, so an
event emitted there reaches the client before ``connect`` fires. The guide's clients
expect ``connected`` after ``connect``; ``on_connected`` runs once CONNECT is sent.

An event registered with ``reply_first`` is acknowledged before anything emitted to the
socket while its handler ran. A subscription joins rooms and then reads a snapshot; an
update of a change made after that read can be emitted to the socket before the handler
returns (another instance's message is handled first), and would otherwise overtake the
snapshot it is newer than. Held back until the ack, every update after the ack is at
least as new as the snapshot, so a client applies what arrives in the order it arrives.

What a client may send is checked in ``frame_guard`` (reserved events, binary
attachments, undecodable frames); the two overrides below only call it.

Every ``presence:updated`` goes to the sockets that do not already hold something as
new (``fresh_updates``); the handlers tell it what each snapshot held.

A socket whose client does not read what it is sent would queue it without end: past
``max_queued_packets`` (or ``max_queued_bytes``) waiting the socket is closed as a slow consumer
(``lean_engineio.py`` keeps the count).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import socketio
from engineio.exceptions import SocketIsClosedError
from socketio import packet

from ...compat import json_codec
from ...compat.bare_events import BareEvents
from ...compat.engineio_websocket import guard_engineio
from ...compat.lean_engineio import LeanEngineIOServer, shrink_environ
from ...compat.lean_manager import LeanEmits
from ..refusal_log import RefusalLog
from .frame_guard import announces_binary, dispatchable
from .fresh_updates import FreshUpdates

# Exceptions python-socketio raises on a frame it cannot parse.
_MALFORMED = (ValueError, TypeError, KeyError, IndexError, AttributeError)

# A socket's re-sent CONNECTs, counted in its environ (dropped with the session).
_RESENT_CONNECTS = "presence.resent_connects"
CONNECT_REPEATS_CLOSED = 2  # the second re-sent CONNECT closes the connection
ALREADY_CONNECTED = {"message": "already connected"}

OnConnected = Callable[[str], Awaitable[None]]


class PresenceSocketServer(socketio.AsyncServer):
    def __init__(
        self,
        *,
        on_connected: OnConnected | None = None,
        max_queued_packets: int = 1000,
        max_queued_bytes: int = 1 << 20,
        **options: Any,
    ) -> None:
        # Named, not detected: with aiohttp installed engineio would pick the aiohttp driver.
        options.setdefault("async_mode", "asgi")
        options.setdefault("json", json_codec)
        # Events of one socket run in order, inline: no task per event, and a ping can
        # never overtake the presence:update sent before it.
        options.setdefault("async_handlers", False)
        super().__init__(**options)
        self.eio.max_queued_packets = max_queued_packets
        self.eio.max_queued_bytes = max_queued_bytes
        self.on_connected = on_connected
        self._reply_first: set[str] = set()
        self._held: dict[str, list[Any]] = {}  # engine.io sid → packets waiting for an ack
        self.refusals = RefusalLog("frame from socket")
        guard_engineio(self.eio, self.refusals)
        self.fresh = FreshUpdates(self.manager)
        # Events with no arguments (the guide's ping, its pong) off the generic path.
        self.bare = BareEvents(self)
        if isinstance(self.manager, LeanEmits):
            self.manager.recipients = self.fresh

    def _engineio_server_class(self) -> type:
        return LeanEngineIOServer

    def reply_first(self, event: str) -> None:
        self._reply_first.add(event)

    async def _handle_connect(self, eio_sid: str, namespace: str | None, data: Any) -> None:
        namespace = namespace or "/"
        if self.manager.sid_from_eio_sid(eio_sid, namespace) is not None:
            await self._refuse_connect_again(eio_sid, namespace)
            return
        await super()._handle_connect(eio_sid, namespace, data)
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        if sid is None or not self.manager.is_connected(sid, namespace):
            await self._close_refused(eio_sid)
            return
        environ = self.environ.get(eio_sid)
        if environ is not None:  # read by the connect handler; kept for the session's life
            shrink_environ(environ)
        if self.on_connected is not None:
            await self.on_connected(sid)

    async def _close_refused(self, eio_sid: str) -> None:
        """A connection refused at CONNECT is closed once its ``connect_error`` is
        delivered (the CLOSE packet follows it): socket.io-client closes its side on that
        refusal anyway, and a client that keeps it open would hold a connection (or a
        polling session, until its ping timeout) per attempt: a connect storm's
        thousands, all torn down at once when it leaves. A WebSocket's is written at once;
        a polling session's waits in the queue for the next poll, which ends the session."""
        socket = self.eio.sockets.get(eio_sid)
        if socket is None or socket.upgrading:
            return
        if any(self.manager.sid_from_eio_sid(eio_sid, joined) is not None for joined in self.namespace_handlers):
            return  # another namespace of this connection is in use
        if not socket.upgraded:
            socket.close_once_polled()
            return
        await self.close_engineio_socket(eio_sid, socket)

    async def _refuse_connect_again(self, eio_sid: str, namespace: str) -> None:
        """A CONNECT on a namespace the socket already joined (or is joining) runs no
        connect work: upstream would answer ``44"Unable to connect"`` and our hook would
        register the socket again. The first is refused; the next closes the connection."""
        environ = self.environ.get(eio_sid)
        repeats = environ.get(_RESENT_CONNECTS, 0) + 1 if environ is not None else CONNECT_REPEATS_CLOSED
        if environ is not None:
            environ[_RESENT_CONNECTS] = repeats
        self.refusals.note("CONNECT on a connected socket", eio_sid)
        socket = self.eio.sockets.get(eio_sid)
        if repeats >= CONNECT_REPEATS_CLOSED and socket is not None:
            # Closed now: a polling session's close would wait for a poll, and this runs
            # inside the POST that carried the CONNECT.
            await self.close_engineio_socket(eio_sid, socket)
            return
        await self._send_packet(eio_sid, self.packet_class(packet.CONNECT_ERROR, data=ALREADY_CONNECTED, namespace=namespace))

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        event = self.bare.event_of(data)
        if event is not None and eio_sid not in self._binary_packet and await self.bare.dispatch(eio_sid, event):
            return
        if announces_binary(data):
            self.refusals.note("binary attachment", eio_sid)
            await self.eio.disconnect(eio_sid)
            return
        try:
            await super()._handle_eio_message(eio_sid, data)
        except _MALFORMED as error:
            self.refusals.note(f"malformed Socket.IO packet ({type(error).__name__})", eio_sid)
            if data[:1] == "0":  # a CONNECT it cannot read: refused, so the client is not left waiting
                await self._send_packet(
                    eio_sid, self.packet_class(packet.CONNECT_ERROR, data={"message": "invalid handshake"})
                )

    async def _handle_event(self, eio_sid: str, namespace: str | None, id: int | None, data: Any) -> None:
        if not dispatchable(data):
            self.refusals.note("reserved or unnamed event", eio_sid)
            return
        await super()._handle_event(eio_sid, namespace, id, data)

    async def _handle_event_internal(
        self, server: Any, sid: str, eio_sid: str, data: Any, namespace: str, id: int | None
    ) -> None:
        if id is None or not data or data[0] not in self._reply_first or eio_sid in self._held:
            await super()._handle_event_internal(server, sid, eio_sid, data, namespace, id)
            return
        held = self._held[eio_sid] = []
        self.fresh.hold(sid)
        try:
            await super()._handle_event_internal(server, sid, eio_sid, data, namespace, id)  # sends the ack
        finally:
            told = self.fresh.release(sid)
            try:
                while held:  # what arrives meanwhile joins the queue, in order
                    pkt = held.pop(0)
                    if not self.fresh.stale(told, pkt.data):  # older than the snapshot the ack gave
                        await super()._send_eio_packet(eio_sid, pkt)
            except SocketIsClosedError:
                pass  # the socket left while its event was handled: nobody to send to
            finally:
                del self._held[eio_sid]

    def send_eio_now(self, eio_sid: str, text: str) -> bool:
        """``_send_eio_packet`` of an encoded text packet written at once (``LeanSocket.send_now``):
        False when it is held for an ack or cannot be written now, and the caller awaits
        ``_send_eio_packet``."""
        if eio_sid in self._held:
            return False
        socket = self.eio.sockets.get(eio_sid)
        return socket is not None and socket.send_now(text)

    async def _send_eio_packet(self, eio_sid: str, eio_pkt: Any) -> None:
        held = self._held.get(eio_sid)
        if held is not None:
            held.append(eio_pkt)
            return
        await super()._send_eio_packet(eio_sid, eio_pkt)

    async def close_engineio_socket(self, eio_sid: str, socket: Any, *, tell: bool = True) -> None:
        """Close a session now, whatever its client does (``LeanSocket.terminate``)."""
        await socket.terminate(tell=tell)
        self.eio.sockets.pop(eio_sid, None)  # as engineio's own disconnect() does
