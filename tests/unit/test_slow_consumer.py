"""A long-polling client that stops polling is closed once its outbound queue is full,
instead of queueing without end (a WebSocket client that stops reading: see
test_lean_engineio.py)."""

from __future__ import annotations

import asyncio

import pytest
from engineio import packet

from presence_gateway.adapters.socketio.server import PresenceSocketServer
from presence_gateway.compat.lean_engineio import LeanSocket

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # python-socketio is asyncio-only


async def test_the_socket_is_closed_and_its_queue_freed_at_the_bound() -> None:
    server = PresenceSocketServer(max_queued_packets=10)
    socket = LeanSocket(server.eio, "e1")
    server.eio.sockets["e1"] = socket
    socket.connected = True  # a polling session whose client no longer polls

    for n in range(50):
        try:
            await server._send_eio_packet("e1", packet.Packet(packet.MESSAGE, data=f'2["pong",{n}]'))
        except Exception:
            break  # closed: later sends are refused, as to any closed socket
    async with asyncio.timeout(2):
        while not socket.closed:
            await asyncio.sleep(0.001)

    assert "e1" not in server.eio.sockets
    queue = socket._queue
    assert queue is not None and queue.qsize() == 1 and queue.get_nowait() is None  # only the poll's end
