"""The Broadcaster contract: a change reaches every socket of its user, what others see
reaches whoever follows the user when it changes, in the order published and once each,
and nobody else hears anything.

Held to it: the Socket.IO broadcaster over a real hypercorn and real Socket.IO clients; the
fan-out the gateway runs with Redis (those sockets and the ``presence:updates`` channel,
which must both hear what followers hear); the unit tests' recording fake; and the Redis
updates publisher alone, whose followers are the channel's subscribers on a real Redis
(it reaches no socket, so only the followers' half of the contract is its)."""

from __future__ import annotations

import uuid
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace
from datetime import datetime
from itertools import count
from typing import Protocol

import anyio
import orjson
import pytest
import redis.asyncio
import socketio

from presence_gateway.adapters.fanout import FanOutBroadcaster
from presence_gateway.adapters.redis.pipelined import PipelinedRedis
from presence_gateway.adapters.redis.updates_publisher import RedisUpdatesPublisher
from presence_gateway.adapters.socketio.broadcaster import SocketIOBroadcaster, user_room, watchers_room
from presence_gateway.adapters.socketio.server import PresenceSocketServer
from presence_gateway.domain.ports import Broadcaster
from presence_gateway.domain.presence import PresenceChanged
from presence_gateway.domain.rich_presence import CustomStatus
from tests.e2e.clients import Client
from tests.fakes import RecordingBroadcaster
from tests.support.served import served

pytestmark = pytest.mark.anyio

AT = 1_800_000_000.5


def change(user: str, status: str, public: str, previous: str = "ONLINE", previous_public: str = "ONLINE") -> PresenceChanged:
    return PresenceChanged(user, status, public, previous, previous_public, AT)


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

    async with served(socketio.ASGIApp(sio), {"user": "probe"}) as url:
        yield url, broadcaster


class Listener(Protocol):
    async def heard(self) -> list[tuple[str, str]]:
        """(user, status) of every update this listener received, once whatever was
        published before the call has had time to arrive."""


class SocketListener:
    def __init__(self, client: Client) -> None:
        self.client = client

    async def heard(self) -> list[tuple[str, str]]:
        await self.client.round_trip()  # the pong comes after whatever was emitted before it
        return [(u["userId"], u["status"]) for u in self.client.received("presence:updated")]


class ChannelFollower:
    """A backend service following one user on the updates channel."""

    def __init__(self, url: str, channel: str, publisher_connection: PipelinedRedis, user_id: str) -> None:
        self._client = redis.asyncio.Redis.from_url(url)
        self._pubsub = self._client.pubsub()
        self._channel = channel
        self._publisher_connection = publisher_connection
        self._user_id = user_id
        self._heard: list[tuple[str, str]] = []

    async def start(self) -> ChannelFollower:
        await self._pubsub.subscribe(self._channel)
        with anyio.fail_after(5):
            while (await self._pubsub.get_message(timeout=5)) is None:
                pass  # the subscription's confirmation: from now on, every publish reaches us
        return self

    async def heard(self) -> list[tuple[str, str]]:
        marker = f"marker-{uuid.uuid4()}".encode()
        self._publisher_connection.publish_nowait(self._channel, marker)  # after the publisher's, on its connection
        with anyio.fail_after(5):
            while True:
                message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
                if message is None:
                    continue
                if message["data"] == marker:
                    return list(self._heard)
                if message["data"].startswith(b"marker-"):
                    continue  # another follower's
                update = orjson.loads(message["data"])
                if update["userId"] == self._user_id:
                    self._heard.append((update["userId"], update["status"]))

    async def aclose(self) -> None:
        await self._pubsub.aclose()
        await self._client.aclose()


class BothListen:
    """A follower of the fan-out: the socket watching the user and the channel's follower
    must hear the same."""

    def __init__(self, socket: Listener, channel: Listener) -> None:
        self._socket, self._channel = socket, channel

    async def heard(self) -> list[tuple[str, str]]:
        on_socket, on_channel = await self._socket.heard(), await self._channel.heard()
        return on_socket if on_socket == on_channel else [("sockets", str(on_socket)), ("channel", str(on_channel))]


class RecordingListener:
    def __init__(self, broadcaster: RecordingBroadcaster, socket: str) -> None:
        self._broadcaster, self._socket = broadcaster, socket

    async def heard(self) -> list[tuple[str, str]]:
        return list(self._broadcaster.inboxes.get(self._socket, []))


class Delivery:
    """A broadcaster under test and how a socket of it, or a follower of a user, listens."""

    def __init__(self, broadcaster: Broadcaster, stack: AsyncExitStack) -> None:
        self.broadcaster = broadcaster
        self.stack = stack

    async def publish(self, *changes: PresenceChanged) -> None:
        for one in changes:
            await self.broadcaster.publish(one)

    async def socket(self, user: str | None = None, watch: tuple[str, ...] = ()) -> Listener:
        raise NotImplementedError

    async def follower(self, user: str) -> Listener:
        return await self.socket(watch=(user,))


class SocketDelivery(Delivery):
    url: str

    async def socket(self, user: str | None = None, watch: tuple[str, ...] = ()) -> Listener:
        auth: dict = {"watch": list(watch)}
        if user is not None:
            auth["user"] = user
        client = await Client().connect(self.url, auth)
        self.stack.push_async_callback(client.close)
        return SocketListener(client)


class FanOutDelivery(SocketDelivery):
    redis_url: str
    channel: str
    connection: PipelinedRedis

    async def follower(self, user: str) -> Listener:
        channel = await ChannelFollower(self.redis_url, self.channel, self.connection, user).start()
        self.stack.push_async_callback(channel.aclose)
        return BothListen(await self.socket(watch=(user,)), channel)


class ChannelDelivery(Delivery):
    broadcaster: RedisUpdatesPublisher
    redis_url: str
    channel: str
    connection: PipelinedRedis

    async def follower(self, user: str) -> Listener:
        channel = await ChannelFollower(self.redis_url, self.channel, self.connection, user).start()
        self.stack.push_async_callback(channel.aclose)
        return channel


class RecordingDelivery(Delivery):
    broadcaster: RecordingBroadcaster
    _sockets = count()

    async def socket(self, user: str | None = None, watch: tuple[str, ...] = ()) -> Listener:
        socket = f"socket-{next(self._sockets)}"
        if user is not None:
            self.broadcaster.join(socket, user)
        await self.broadcaster.rooms(socket).enter(list(watch))
        return RecordingListener(self.broadcaster, socket)


@asynccontextmanager
async def updates_publisher(redis_url: str):
    """The gateway's publisher on a channel of this test's own (the Redis is shared)."""
    connection = PipelinedRedis(redis_url)
    await connection.execute("PING")  # connected: publishes leave in order from here
    try:
        yield RedisUpdatesPublisher(connection, instance="contract", channel=f"presence:updates:{uuid.uuid4()}"), connection
    finally:
        await connection.aclose()


@pytest.fixture
async def socketio_delivery():
    async with socket_server() as (url, broadcaster), AsyncExitStack() as stack:
        delivery = SocketDelivery(broadcaster, stack)
        delivery.url = url
        yield delivery


@pytest.fixture
async def fanout_delivery(redis_url: str):
    async with (
        socket_server() as (url, sockets),
        updates_publisher(redis_url) as (channel, connection),
        AsyncExitStack() as stack,
    ):
        delivery = FanOutDelivery(FanOutBroadcaster(sockets, channel), stack)
        delivery.url, delivery.redis_url, delivery.channel, delivery.connection = url, redis_url, channel.channel, connection
        yield delivery


@pytest.fixture
async def channel_delivery(redis_url: str):
    async with updates_publisher(redis_url) as (channel, connection), AsyncExitStack() as stack:
        delivery = ChannelDelivery(channel, stack)
        delivery.redis_url, delivery.channel, delivery.connection = redis_url, channel.channel, connection
        yield delivery


@pytest.fixture
async def recording_delivery():
    async with AsyncExitStack() as stack:
        yield RecordingDelivery(RecordingBroadcaster(), stack)


@pytest.fixture(params=["socketio_delivery", "fanout_delivery", "recording_delivery"])
def to_sockets(request: pytest.FixtureRequest) -> Delivery:
    """Broadcasters that reach the user's own sockets."""
    return request.getfixturevalue(request.param)


@pytest.fixture(params=["socketio_delivery", "fanout_delivery", "recording_delivery", "channel_delivery"])
def to_followers(request: pytest.FixtureRequest) -> Delivery:
    """Every broadcaster, through those who follow a user."""
    return request.getfixturevalue(request.param)


# ---------------------------------------------------------------- followers: every broadcaster


async def test_a_follower_hears_what_others_see_of_the_user_it_follows_only(to_followers: Delivery) -> None:
    follows_42 = await to_followers.follower("42")
    follows_99 = await to_followers.follower("99")

    await to_followers.publish(change("42", "INVISIBLE", "OFFLINE"), change("7", "DND", "DND"))

    assert await follows_42.heard() == [("42", "OFFLINE")]
    assert await follows_99.heard() == []


async def test_a_change_others_cannot_see_reaches_no_follower(to_followers: Delivery) -> None:
    follower = await to_followers.follower("42")

    # Invisible, then "appear offline": everyone else saw OFFLINE already.
    await to_followers.publish(change("42", "OFFLINE", "OFFLINE", "INVISIBLE", "OFFLINE"))

    assert await follower.heard() == []


async def test_followers_hear_each_change_once_in_the_order_published(to_followers: Delivery) -> None:
    followers = [await to_followers.follower("42") for _ in range(3)]

    await to_followers.publish(
        change("42", "DND", "DND"), change("42", "IDLE", "IDLE", "DND", "DND"), change("42", "ONLINE", "ONLINE", "IDLE", "IDLE")
    )

    for follower in followers:
        assert await follower.heard() == [("42", "DND"), ("42", "IDLE"), ("42", "ONLINE")]


async def test_a_user_nobody_follows_is_no_error(to_followers: Delivery) -> None:
    follower = await to_followers.follower("42")

    await to_followers.publish(change("nobody", "OFFLINE", "OFFLINE"), change("42", "DND", "DND"))

    assert await follower.heard() == [("42", "DND")]  # the change after it still arrives, alone


# ---------------------------------------------------------------- the user's own sockets


async def test_a_change_reaches_every_socket_of_the_user_and_nobody_else(to_sockets: Delivery) -> None:
    tab1, tab2 = await to_sockets.socket("42"), await to_sockets.socket("42")
    other, watching_another = await to_sockets.socket("7"), await to_sockets.socket(watch=("99",))

    await to_sockets.publish(change("42", "DND", "DND"))

    assert (await tab1.heard(), await tab2.heard()) == ([("42", "DND")], [("42", "DND")])
    assert (await other.heard(), await watching_another.heard()) == ([], [])


async def test_the_user_hears_what_they_are_and_followers_what_others_see(to_sockets: Delivery) -> None:
    own, follower = await to_sockets.socket("42"), await to_sockets.follower("42")

    await to_sockets.publish(change("42", "INVISIBLE", "OFFLINE"))

    assert (await own.heard(), await follower.heard()) == ([("42", "INVISIBLE")], [("42", "OFFLINE")])


async def test_a_change_others_cannot_see_reaches_the_users_sockets_only(to_sockets: Delivery) -> None:
    own, follower = await to_sockets.socket("42"), await to_sockets.follower("42")

    await to_sockets.publish(change("42", "OFFLINE", "OFFLINE", "INVISIBLE", "OFFLINE"))

    assert (await own.heard(), await follower.heard()) == ([("42", "OFFLINE")], [])


async def test_a_socket_that_is_the_users_and_follows_them_hears_a_change_seen_alike_once(to_sockets: Delivery) -> None:
    both = await to_sockets.socket("42", watch=("42",))

    await to_sockets.publish(change("42", "DND", "DND"), change("42", "INVISIBLE", "OFFLINE", "DND", "DND"))

    assert await both.heard() == [("42", "DND"), ("42", "INVISIBLE"), ("42", "OFFLINE")]


# ---------------------------------------------------------------- Socket.IO and the channel: the wire


@pytest.fixture
async def socketio_broadcaster():
    async with socket_server() as served:
        yield served


async def test_a_socket_receives_the_update_as_the_protocol_writes_it(socketio_broadcaster) -> None:
    url, publisher = socketio_broadcaster
    tab = await Client().connect(url, {"user": "42"})
    try:
        rich = replace(change("42", "DND", "DND"), seq=7, devices={"web": "IDLE", "mobile": "ONLINE"})
        rich = replace(rich, custom_status=CustomStatus("lunch", "🍜", AT + 1800))
        await publisher.publish(rich)

        payload = await tab.next("presence:updated")
        assert payload == {
            "userId": "42", "status": "DND", "timestamp": "2027-01-15T08:00:00.500Z",
            "devices": {"web": "IDLE", "mobile": "ONLINE"},
            "customStatus": {"text": "lunch", "emoji": "🍜", "expiresAt": "2027-01-15T08:30:00.500Z"},
            "seq": 7,
        }
        assert datetime.fromisoformat(payload["timestamp"].replace("Z", "+00:00")).timestamp() == AT
    finally:
        await tab.close()


async def test_the_channel_carries_the_message_the_readme_describes(channel_delivery: ChannelDelivery) -> None:
    client = redis.asyncio.Redis.from_url(channel_delivery.redis_url)
    pubsub = client.pubsub()
    try:
        await pubsub.subscribe(channel_delivery.channel)
        await pubsub.get_message(timeout=5)  # subscribed
        await channel_delivery.publish(replace(change("42", "INVISIBLE", "OFFLINE"), seq=9))
        with anyio.fail_after(5):
            while (message := await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)) is None:
                pass
        assert orjson.loads(message["data"]) == {
            "userId": "42", "status": "OFFLINE", "previous": "ONLINE",
            "timestamp": "2027-01-15T08:00:00.500Z", "instance": "contract",
            "devices": {}, "customStatus": None, "seq": 9,
        }
        assert channel_delivery.broadcaster.published == 1
    finally:
        await pubsub.aclose()
        await client.aclose()


async def test_an_update_emitted_while_a_snapshot_is_answered_arrives_after_the_answer(socketio_broadcaster) -> None:
    url, _ = socketio_broadcaster
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

