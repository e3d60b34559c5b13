"""A socket whose client does not read is closed once its outbound queue is full,
instead of queueing without end."""

from __future__ import annotations

import asyncio

import pytest
from engineio import packet

from presence_gateway.adapters.socketio.server import PresenceSocketServer

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # python-socketio is asyncio-only


class StalledSocket:
    """An Engine.IO socket whose writer never drains its queue (the client reads nothing)."""

    def __init__(self, sid: str) -> None:
        self.sid = sid
        self.queue: asyncio.Queue = asyncio.Queue()
        self.closing = self.closed = False
        self.closes = 0

    async def send(self, pkt) -> None:
        if self.closed:
            raise RuntimeError("sent to a closed socket")
        await self.queue.put(pkt)

    async def close(self, wait: bool = True, abort: bool = False, reason=None) -> None:
        self.closes += 1
        self.closing = self.closed = True


async def test_the_socket_is_closed_and_its_queue_freed_at_the_bound() -> None:
    server = PresenceSocketServer(max_queued_packets=10)
    socket = StalledSocket("e1")
    server.eio.sockets["e1"] = socket
    for n in range(50):
        await server._send_eio_packet("e1", packet.Packet(packet.MESSAGE, data=f"2[\"pong\",{n}]"))

    assert socket.closes == 1
    assert socket.queue.qsize() == 1 and socket.queue.get_nowait() is None  # only the writer's stop
    assert "e1" not in server.eio.sockets
    assert server.refusals.counts == {"outbound queue full: the client does not read": 1}
