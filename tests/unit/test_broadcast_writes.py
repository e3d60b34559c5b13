"""A broadcast writes to each WebSocket recipient at once (``LeanSocket.send_now``), and
only where a send would have written at once: a socket whose packets are held for an
acknowledgement, one that is behind, closed or still polling takes the awaited send, so
what it gets and in which order is what it got before."""

from __future__ import annotations

from typing import Any

import pytest
from engineio import packet

from presence_gateway.adapters.socketio.server import PresenceSocketServer
from presence_gateway.compat.lean_engineio import LeanSocket
from presence_gateway.compat.lean_manager import LocalManager, encode_event

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # python-socketio is asyncio-only


class Wire:
    """What a fast-path WebSocket session wrote, and whether it can write now."""

    def __init__(self) -> None:
        self.written: list[str] = []
        self.open = True

    def send_text_now(self, text: str) -> bool:
        if self.open:
            self.written.append(text)
        return self.open


def websocket(server: PresenceSocketServer, eio_sid: str) -> tuple[LeanSocket, Wire]:
    socket = LeanSocket(server.eio, eio_sid)
    socket.connected = True
    wire = Wire()
    socket._ws, socket._write_now = object(), wire.send_text_now  # upgraded, on the fast path
    server.eio.sockets[eio_sid] = socket
    return socket, wire


async def in_room(server: PresenceSocketServer, eio_sid: str, room: str) -> str:
    sid = await server.manager.connect(eio_sid, "/")
    await server.manager.enter_room(sid, "/", room, eio_sid=eio_sid)
    return sid


async def test_every_recipient_gets_the_one_text_written_at_once() -> None:
    server = PresenceSocketServer(client_manager=LocalManager())
    wires = []
    for n in range(3):
        _, wire = websocket(server, f"e{n}")
        await in_room(server, f"e{n}", "watchers:x")
        wires.append(wire)
    pkt = encode_event("/", "presence:updated", {"userId": "x", "status": "DND"})

    await server.manager.deliver(pkt, "/", "watchers:x")

    assert [wire.written for wire in wires] == [[pkt.encode()]] * 3


async def test_a_socket_held_for_an_ack_closed_or_behind_is_not_written_at_once() -> None:
    server = PresenceSocketServer(client_manager=LocalManager())
    held, held_wire = websocket(server, "held")
    closed, closed_wire = websocket(server, "closed")
    behind, behind_wire = websocket(server, "behind")
    for eio_sid in ("held", "closed", "behind"):
        await in_room(server, eio_sid, "watchers:x")
    server._held["held"] = []  # its subscribe's acknowledgement is being made
    closed.closed = True
    behind_wire.open = False  # its transport holds more than the high-water mark
    sent: list[Any] = []

    async def ws_send(data: Any) -> None:  # the awaited path of a socket that is behind
        sent.append(data)

    behind._ws = type("Ws", (), {"send": staticmethod(ws_send)})()
    pkt = encode_event("/", "presence:updated", {"userId": "x", "status": "DND"})

    await server.manager.deliver(pkt, "/", "watchers:x")

    assert server._held["held"] == [pkt] and held_wire.written == []  # sent after the ack
    assert closed_wire.written == []
    assert behind_wire.written == [] and sent == [pkt.encode()]


async def test_a_polling_socket_is_queued_as_before() -> None:
    server = PresenceSocketServer(client_manager=LocalManager())
    socket = LeanSocket(server.eio, "p")
    socket.connected = True
    server.eio.sockets["p"] = socket
    await in_room(server, "p", "watchers:x")
    pkt = encode_event("/", "presence:updated", {"userId": "x"})

    await server.manager.deliver(pkt, "/", "watchers:x")

    assert socket.queue.get_nowait() is pkt and packet.MESSAGE == pkt.packet_type
