"""Replaces, for an event with no arguments, no ack id and the default namespace — the
guide's ``ping`` (``42["ping"]``) and its ``pong`` — python-socketio 5.18.1's
``AsyncServer._handle_eio_message`` → ``_handle_event`` → ``_handle_event_internal`` →
``_trigger_event`` (with ``BaseServer._get_event_handler``) on the way in, and
``AsyncServer.emit`` → the manager's ``emit`` → ``AsyncServer._send_eio_packet`` →
python-engineio 4.15.1's ``AsyncServer.send_packet`` and ``Packet.encode`` on the way out;
and ``AsyncServer.get_session`` of both, for the handler's session.

With 1000 sockets pinging once a second, those layers were most of the Python a ping
costs: a Socket.IO ``Packet`` built and its payload parsed as JSON, five coroutine
frames and two log calls to reach the handler; on the way back a list and an orjson
dump per pong, a ``Packet``, its encoding, a frame built, a participants generator and
four more coroutine frames. Here an incoming text equal to a registered event's
encoding (``2["ping"]``: the one form socket.io clients send it in) finds its handler in
one dict lookup, and the pong is one Engine.IO packet encoded once for the process
(``EncodedPacket``), whose WebSocket frame is built once too
(``fast_websocket.text_frame``).

What upstream does that this keeps: the socket must be connected to the namespace (or
the event is dropped with upstream's warning); only a handler registered for exactly
that event and namespace (no catch-all, no namespace class: those take upstream's
path); a cancelled handler ends quietly; the emit goes to a socket of this instance
only (any other room, a socket not connected here, or a ``recipients`` hook that
narrows it, takes the manager's path, publish included), through the server's
``_send_eio_packet`` (so packets held for an ack still wait) and Engine.IO's socket
(so its backlog and slow-client bound still apply); a socket gone meanwhile is skipped.
The info logs are written when the logger would write them.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any

from engineio import packet as eio_packet

from . import json_codec
from .fast_websocket import constant_text

NAMESPACE = "/"


class EncodedPacket(eio_packet.Packet):
    """An Engine.IO packet whose text is computed once: a constant sent again and again."""

    def __init__(self, packet_type: int, data: str) -> None:
        super().__init__(packet_type, data)
        self._encoded = constant_text(super().encode())

    def encode(self, b64: bool = False) -> Any:
        return super().encode(b64) if b64 else self._encoded


class BareEvents:
    """The events of one Socket.IO server taken off its generic path (``register``)."""

    def __init__(self, server: Any) -> None:
        self._server = server
        self._frames: dict[str, str] = {}  # the Socket.IO text of an event → its name
        self._packets: dict[str, EncodedPacket] = {}  # an event emitted bare → its packet
        self._checked: dict[str, Any] = {}  # an event → its handler, once seen to be a coroutine

    def register(self, event: str) -> None:
        """``event``, sent with no arguments and no ack, is dispatched and emitted here (a
        reserved one, ``disconnect`` say, keeps upstream's path and the gateway's guard)."""
        if event in self._server.reserved_events:
            raise ValueError(f"{event!r} is a reserved event")
        self._frames["2" + json_codec.dumps([event])] = event
        self._packets[event] = EncodedPacket(eio_packet.MESSAGE, "2" + json_codec.dumps([event]))

    def event_of(self, data: Any) -> str | None:
        """The registered event ``data`` (an Engine.IO message's payload) is, or None."""
        return self._frames.get(data) if type(data) is str else None

    async def dispatch(self, eio_sid: str, event: str) -> bool:
        """Run ``event``'s handler for the socket; False when upstream's path must (the
        handler is not a coroutine registered for exactly this event)."""
        server = self._server
        handler = server.handlers.get(NAMESPACE, {}).get(event)
        if handler is None:
            return False
        if handler is not self._checked.get(event):  # inspect's check costs more than the rest
            if not inspect.iscoroutinefunction(handler):
                return False
            self._checked[event] = handler
        manager = server.manager
        sid = manager.sid_from_eio_sid(eio_sid, NAMESPACE)
        logger = server.logger
        if logger.isEnabledFor(logging.INFO):
            logger.info('received event "%s" from %s [%s]', event, sid, NAMESPACE)
        if not manager.is_connected(sid, NAMESPACE):
            logger.warning("%s is not connected to namespace %s", sid, NAMESPACE)
            return True
        try:
            await handler(sid)
        except asyncio.CancelledError:
            pass
        return True

    def session_of(self, sid: str) -> Any:
        """``await server.get_session(sid)`` on the default namespace, without its two
        coroutines (python-engineio's ``AsyncServer.get_session`` under it): KeyError for
        a socket that is gone, as upstream raises."""
        server = self._server
        eio_sid = server.manager.eio_sid_from_sid(sid, NAMESPACE)
        return server.eio._get_socket(eio_sid).session.setdefault(NAMESPACE, {})

    async def emit(self, event: str, to: str) -> None:
        """``server.emit(event, to=to)`` for a registered event with no data."""
        server = self._server
        pkt = self._packets.get(event)
        manager = server.manager
        recipients = getattr(manager, "recipients", None)
        if (
            pkt is None
            or not manager.is_connected(to, NAMESPACE)
            or (recipients is not None and recipients.of(NAMESPACE, to, event, None) is not None)
        ):
            await server.emit(event, to=to)
            return
        logger = server.logger
        if logger.isEnabledFor(logging.INFO):
            logger.info('emitting event "%s" to %s [%s]', event, to, NAMESPACE)
        eio_sid = manager.eio_sid_from_sid(to, NAMESPACE)
        try:
            await server._send_eio_packet(eio_sid, pkt)
        except Exception:  # the socket closed meanwhile, as the manager's deliver skips it
            pass
