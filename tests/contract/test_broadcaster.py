"""The Broadcaster contract: a change reaches every socket of its user and nobody else,
over a real hypercorn and real Socket.IO clients."""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import datetime

import anyio
import pytest
import socketio
from hypercorn.asyncio import serve
from hypercorn.config import Config

from presence_gateway.adapters.socketio.broadcaster import SocketIOBroadcaster, user_room
from presence_gateway.adapters.socketio.server import PresenceSocketServer
from presence_gateway.domain.presence import PresenceChanged
from tests.e2e.clients import Client
from tests.e2e.gateway_process import free_port

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def socket_server():
    """A bare Socket.IO server whose sockets join their user's room, and its broadcaster."""
    sio = PresenceSocketServer()

    @sio.event
    async def connect(sid, environ, auth):
        await sio.enter_room(sid, user_room(auth["user"]))

    @sio.on("ping")
    async def ping(sid):
        await sio.emit("pong", to=sid)

    config = Config()
    port = free_port()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.graceful_timeout = 0.5
    stop = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: serve(socketio.ASGIApp(sio), config, shutdown_trigger=stop.wait))
        url = f"http://127.0.0.1:{port}"
        with anyio.fail_after(10):
            while True:
                try:
                    probe = await Client().connect(url, {"user": "probe"})
                    await probe.close()
                    break
                except socketio.exceptions.ConnectionError:
                    await anyio.sleep(0.02)
        yield url, SocketIOBroadcaster(sio)
        stop.set()


@pytest.fixture
async def socketio_broadcaster():
    async with socket_server() as served:
        yield served


@pytest.fixture(params=["socketio_broadcaster"])
def broadcaster(request: pytest.FixtureRequest):
    return request.getfixturevalue(request.param)


async def test_a_change_reaches_every_socket_of_the_user_and_nobody_else(broadcaster) -> None:
    url, publisher = broadcaster
    tab1 = await Client().connect(url, {"user": "42"})
    tab2 = await Client().connect(url, {"user": "42"})
    other = await Client().connect(url, {"user": "7"})
    try:
        await publisher.publish(PresenceChanged("42", "DND", "DND", "ONLINE", "ONLINE", 1_800_000_000.5))

        for tab in (tab1, tab2):
            payload = await tab.next("presence:updated")
            assert payload == {"userId": "42", "status": "DND", "timestamp": "2027-01-15T08:00:00.500Z"}
            assert datetime.fromisoformat(payload["timestamp"].replace("Z", "+00:00")).timestamp() == 1_800_000_000.5
        await other.round_trip()
        assert other.received("presence:updated") == []
    finally:
        for client in (tab1, tab2, other):
            await client.close()


async def test_a_user_with_no_socket_is_no_error(broadcaster) -> None:
    _, publisher = broadcaster
    await publisher.publish(PresenceChanged("nobody", "OFFLINE", "OFFLINE", "ONLINE", "ONLINE", 0.0))
