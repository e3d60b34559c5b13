"""The Broadcaster contract: a change reaches every socket of its user, what others see
reaches the sockets watching the user when it changes, and nobody else hears anything —
over a real hypercorn and real Socket.IO clients."""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import datetime

import anyio
import pytest
import socketio
from hypercorn.asyncio import serve
from hypercorn.config import Config

from presence_gateway.adapters.socketio.broadcaster import SocketIOBroadcaster, user_room, watchers_room
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
        if "user" in auth:
            await sio.enter_room(sid, user_room(auth["user"]))
        for watched in auth.get("watch", []):
            await sio.enter_room(sid, watchers_room(watched))

    @sio.on("ping")
    async def ping(sid):
        await sio.emit("pong", to=sid)

    async def watch(sid, user_id):
        """Join, then a change of the user lands while the snapshot is being answered."""
        await sio.enter_room(sid, watchers_room(user_id))
        await broadcaster.publish(PresenceChanged(user_id, "DND", "DND", "ONLINE", "ONLINE", 1_800_000_000.5))
        return {"snapshot": "ONLINE"}

    broadcaster = SocketIOBroadcaster(sio)
    sio.on("watch", watch)
    sio.on("watch-unordered", watch)
    sio.reply_first("watch")

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
        yield url, broadcaster
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


def statuses(client: Client) -> list[str]:
    return [update["status"] for update in client.received("presence:updated")]


async def test_watchers_hear_what_others_see_and_the_user_what_they_are(broadcaster) -> None:
    url, publisher = broadcaster
    own = await Client().connect(url, {"user": "42"})
    watcher = await Client().connect(url, {"user": "7", "watch": ["42"]})
    watching_another = await Client().connect(url, {"watch": ["99"]})
    try:
        await publisher.publish(PresenceChanged("42", "INVISIBLE", "OFFLINE", "ONLINE", "ONLINE", 1_800_000_000.5))

        assert await watcher.next("presence:updated") == {
            "userId": "42", "status": "OFFLINE", "timestamp": "2027-01-15T08:00:00.500Z",
        }
        assert (await own.next("presence:updated"))["status"] == "INVISIBLE"
        for client in (own, watcher, watching_another):
            await client.round_trip()
        assert (statuses(own), statuses(watcher), statuses(watching_another)) == (["INVISIBLE"], ["OFFLINE"], [])
    finally:
        for client in (own, watcher, watching_another):
            await client.close()


async def test_a_change_others_cannot_see_reaches_the_users_sockets_only(broadcaster) -> None:
    url, publisher = broadcaster
    own = await Client().connect(url, {"user": "42"})
    watcher = await Client().connect(url, {"user": "7", "watch": ["42"]})
    try:
        # Invisible, then "appear offline": the user sees the change, everyone else saw OFFLINE already.
        await publisher.publish(PresenceChanged("42", "OFFLINE", "OFFLINE", "INVISIBLE", "OFFLINE", 1_800_000_000.5))

        assert (await own.next("presence:updated"))["status"] == "OFFLINE"
        await watcher.round_trip()
        assert statuses(watcher) == []
    finally:
        await own.close()
        await watcher.close()


async def test_a_change_seen_alike_reaches_every_socket_once(broadcaster) -> None:
    url, publisher = broadcaster
    own = await Client().connect(url, {"user": "42"})
    watching_themselves = await Client().connect(url, {"user": "42", "watch": ["42"]})
    watchers = [await Client().connect(url, {"user": f"w{n}", "watch": ["42"]}) for n in range(3)]
    everyone = [own, watching_themselves, *watchers]
    try:
        await publisher.publish(PresenceChanged("42", "DND", "DND", "ONLINE", "ONLINE", 1_800_000_000.5))

        for client in everyone:
            assert (await client.next("presence:updated"))["status"] == "DND"
        for client in everyone:
            await client.round_trip()
            assert statuses(client) == ["DND"]
    finally:
        for client in everyone:
            await client.close()


async def test_an_update_emitted_while_a_snapshot_is_answered_arrives_after_the_answer(broadcaster) -> None:
    url, _ = broadcaster
    ordered = await Client().connect(url, {"user": "7"})
    unordered = await Client().connect(url, {"user": "8"})
    try:
        await ordered.call("watch", "42")
        await unordered.call("watch-unordered", "43")

        for client in (ordered, unordered):
            await client.next("presence:updated")
        assert [name for name, _ in ordered.events] == ["ack", "presence:updated"]
        # python-socketio's own order, which a client would apply the stale snapshot last in:
        assert [name for name, _ in unordered.events] == ["presence:updated", "ack"]
    finally:
        await ordered.close()
        await unordered.close()

