"""Replaces python-socketio 5.18.1's ``socketio.async_manager.AsyncManager.emit``: emits
that cost one encoding and one write per recipient.

python-socketio 5.x's ``AsyncManager.emit`` scans the payload for binary parts twice,
then creates an asyncio task per recipient and waits for all of them: a ``pong`` costs a
task and an ``asyncio.wait``, a change watched by a thousand sockets a thousand tasks.
Engine.IO sends here never wait on a client (``lean_engineio.py``), so the packet is
encoded once (orjson) and handed to each recipient in turn; a recipient that has gone
is skipped. Emits with a callback (acks) and payloads with binary parts keep upstream's
path.

Who of a room's participants an emit reaches can be narrowed by ``recipients`` (upstream
has no such hook): the gateway drops a presence update a socket already holds something
as new as (``adapters/socketio/fresh_updates.py``), on the one path every local and
cross-instance emit takes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from engineio import packet as eio_packet

from . import json_codec
from .room_index import RoomIndex


def encode_event(namespace: str, event: str, data: Any) -> eio_packet.Packet:
    """The Engine.IO MESSAGE carrying a Socket.IO EVENT; TypeError if ``data`` holds
    bytes (orjson refuses them), which need upstream's binary attachments."""
    if isinstance(data, tuple):
        args = [event, *data]
    elif data is None:
        args = [event]
    else:
        args = [event, data]
    prefix = "2" if namespace == "/" else "2" + namespace + ","
    return eio_packet.Packet(eio_packet.MESSAGE, prefix + json_codec.dumps(args))


Participants = Iterable[tuple[str, str]]  # (sid, engine.io sid)


class Recipients(Protocol):
    def of(self, namespace: str, room: Any, event: str, data: Any) -> Participants | None:
        """The participants of ``room`` this emit is for; None for all of them."""


class LeanEmits(RoomIndex):
    """The local part of an emit; the pub/sub manager adds the publish around it (and
    ``RoomIndex`` the rooms of each socket)."""

    recipients: Recipients | None = None

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        room = to or room
        if callback is not None:
            await super().emit(event, data, namespace, room=room, skip_sid=skip_sid, callback=callback, **kwargs)
            return
        if namespace not in self.rooms:
            return
        try:
            pkt = encode_event(namespace, event, data)
        except TypeError:
            await super().emit(event, data, namespace, room=room, skip_sid=skip_sid, **kwargs)
            return
        await self.deliver(pkt, namespace, room, skip_sid, event, data)

    async def deliver(
        self, pkt: eio_packet.Packet, namespace: str, room: Any, skip_sid: Any = None, event: str = "", data: Any = None
    ) -> None:
        skip = () if skip_sid is None else (skip_sid if isinstance(skip_sid, list) else (skip_sid,))
        send = self.server._send_eio_packet
        # Most recipients are written to at once (``send_eio_now``), without the four
        # coroutines of an awaited send; the rest (held for an ack, behind, polling) await it.
        send_now = getattr(self.server, "send_eio_now", None)
        text = pkt.encode()
        if type(text) is not str:
            send_now = None
        participants = None if self.recipients is None else self.recipients.of(namespace, room, event, data)
        for sid, eio_sid in self.get_participants(namespace, room) if participants is None else participants:
            if sid in skip:
                continue
            if send_now is not None and send_now(eio_sid, text):
                continue
            try:
                await send(eio_sid, pkt)
            except Exception:  # that socket closed meanwhile; the others still get it
                continue


class LocalManager(LeanEmits):
    """The manager of the embedded default: one process, no pub/sub."""
