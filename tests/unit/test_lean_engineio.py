"""The Engine.IO socket the gateway serves WebSockets with: packets leave in the order they
were sent, a client that stops reading delays nobody and is let go once its backlog is
full, and the heartbeat closes a client that stops answering (``lean_engineio.py``)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from engineio import packet

from presence_gateway.compat.lean_engineio import LeanEngineIOServer, LeanSocket

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # python-engineio is asyncio-only


class FakeWebSocket:
    """What hypercorn gives engine.io: ``send`` waits while the client is not reading."""

    def __init__(self) -> None:
        self.sent: list[Any] = []
        self.incoming: asyncio.Queue[Any] = asyncio.Queue()
        self.reading = asyncio.Event()
        self.reading.set()
        self.closed = asyncio.Event()

    async def send(self, data: Any) -> None:
        await self.reading.wait()
        self.sent.append(data)

    async def wait(self) -> Any:
        data = await self.incoming.get()
        if data is None:
            raise OSError("closed by the client")
        return data

    async def close(self) -> None:
        self.closed.set()


async def until(condition, timeout: float = 2.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.001)


@pytest.fixture
async def served(request: pytest.FixtureRequest):
    """A socket connected over a fake WebSocket, with what disconnected recorded; the
    heartbeat every ``heartbeat`` seconds (mark), else out of the way."""
    marker = request.node.get_closest_marker("heartbeat")
    every = marker.args[0] if marker else 60.0
    server = LeanEngineIOServer(async_mode="asgi", ping_interval=every, ping_timeout=every)
    gone: list[tuple[str, Any]] = []

    async def disconnect(sid: str, reason: Any) -> None:
        gone.append((sid, reason))

    server.on("disconnect", disconnect)
    socket = LeanSocket(server, "s1")
    server.sockets["s1"] = socket
    await socket.send(packet.Packet(packet.OPEN, {"sid": "s1"}))  # queued before the WebSocket takes over
    socket.schedule_ping()  # as the server does once the connect handler accepted
    ws = FakeWebSocket()
    handler = asyncio.create_task(socket._websocket_handler(ws))
    await until(lambda: socket._ws is ws)
    yield server, socket, ws, gone
    ws.incoming.put_nowait(None)
    await asyncio.wait_for(handler, 2)


async def test_packets_queued_before_the_websocket_go_first_then_in_order(served) -> None:
    server, socket, ws, _ = served
    for n in range(3):
        await socket.send(packet.Packet(packet.MESSAGE, f"m{n}"))

    assert ws.sent == ['0{"sid":"s1"}', "4m0", "4m1", "4m2"]


async def test_a_client_that_stops_reading_delays_no_sender_and_gets_everything_in_order(served) -> None:
    server, socket, ws, _ = served
    ws.reading.clear()

    async with asyncio.timeout(1):  # each send returns at once, the first write still waiting
        for n in range(10):
            await socket.send(packet.Packet(packet.MESSAGE, f"m{n}"))
    assert ws.sent == ['0{"sid":"s1"}']

    ws.reading.set()
    await until(lambda: len(ws.sent) == 11)
    assert ws.sent[1:] == [f"4m{n}" for n in range(10)]


async def test_a_client_whose_backlog_fills_is_disconnected(served) -> None:
    server, socket, ws, gone = served
    server.max_queued_packets = 5
    ws.reading.clear()

    for n in range(7):
        await socket.send(packet.Packet(packet.MESSAGE, f"m{n}"))

    await until(lambda: gone)
    assert gone[0][0] == "s1"
    assert "s1" not in server.sockets


@pytest.mark.heartbeat(0.05)
async def test_a_client_that_answers_pings_stays(served) -> None:
    server, socket, ws, gone = served
    for _ in range(3):
        await until(lambda: ws.sent[-1] == "2")  # PING
        ws.sent.append("answered")
        ws.incoming.put_nowait("3")  # PONG
    assert gone == []


@pytest.mark.heartbeat(0.05)
async def test_a_client_that_stops_answering_pings_is_closed(served) -> None:
    server, socket, ws, gone = served
    await until(lambda: ws.sent[-1] == "2")

    await until(lambda: gone)  # no PONG within the ping timeout

    assert gone[0][0] == "s1"
    assert ws.sent[-1] == "1"  # CLOSE
    await until(ws.closed.is_set)
