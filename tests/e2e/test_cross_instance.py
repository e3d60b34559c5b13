"""Two gateway instances sharing one Redis behave as one — on one Redis, and on a Redis
Cluster (three primaries; emits and ``presence:updates`` on sharded channels)."""

from __future__ import annotations

import uuid
from pathlib import Path

import anyio
import orjson
import pytest
import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.cluster

from presence_gateway.adapters.redis.keys import RedisKeys
from tests.fakes import known
from tests.support.redis_cluster import RedisCluster

from .clients import Client, connected_client
from .gateway_process import GatewayProcess
from .test_guide_flow import wait_for_durable

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


def start_instance(workdir: Path, redis_url: str, channel: str, data_dir: Path, **env: str) -> GatewayProcess:
    return GatewayProcess(
        workdir, REDIS_URL=redis_url, PRESENCE_SOCKETIO_CHANNEL=channel, PRESENCE_DATA_DIR=str(data_dir), **env
    ).start()


class SharedRedis:
    """What the instances share, as the gateway and a backend service reach it."""

    def __init__(self, env: dict[str, str], url: str, cluster: RedisCluster | None = None) -> None:
        self.env = env
        self.url = url
        self.cluster = cluster
        # The guide's key names on one Redis, the bucketed layout on a cluster (keys.py).
        self.keys = RedisKeys(cluster=cluster is not None)

    def flags(self) -> redis.Redis | redis.cluster.RedisCluster:
        if self.cluster is None:
            return redis.Redis.from_url(self.url, decode_responses=True)
        return redis.cluster.RedisCluster(host="127.0.0.1", port=self.cluster.primaries[0].port, decode_responses=True)


@pytest.fixture(params=["redis", "cluster"])
def shared_redis(request: pytest.FixtureRequest) -> SharedRedis:
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        return SharedRedis({"REDIS_URL": url}, url)
    url = request.getfixturevalue("redis_cluster_url")  # the session's cluster, emptied
    cluster = request.getfixturevalue("redis_cluster")
    return SharedRedis({"REDIS_CLUSTER_NODES": cluster.nodes}, url, cluster)


@pytest.fixture
def pair(tmp_path: Path, shared_redis: SharedRedis):
    channel = f"socketio-{uuid.uuid4().hex[:8]}"
    env = {**shared_redis.env, "PRESENCE_SOCKETIO_CHANNEL": channel, "PRESENCE_DATA_DIR": str(tmp_path / "shared-data")}
    a = GatewayProcess(tmp_path / "a", **env).start()
    b = GatewayProcess(tmp_path / "b", **env).start()
    yield a, b
    for instance in (a, b):
        instance.stop()
        assert "Traceback" not in instance.log(), instance.log()


class UpdatesFollower:
    """A backend service following ``presence:updates`` without a socket (on a cluster,
    a sharded channel: ``SSUBSCRIBE``)."""

    def __init__(self, shared: SharedRedis | str) -> None:
        if isinstance(shared, str):  # one Redis's URL
            shared = SharedRedis({}, shared)
        self.client: redis.asyncio.Redis | redis.asyncio.cluster.RedisCluster
        if shared.cluster is None:
            self.client = redis.asyncio.Redis.from_url(shared.url, decode_responses=True)
        else:
            self.client = redis.asyncio.cluster.RedisCluster(
                host="127.0.0.1", port=shared.cluster.primaries[0].port, decode_responses=True
            )
        self.sharded = shared.cluster is not None
        self.pubsub = self.client.pubsub(ignore_subscribe_messages=True)

    async def __aenter__(self) -> UpdatesFollower:
        if self.sharded:
            await self.client.initialize()
            await self.pubsub.ssubscribe("presence:updates")
        else:
            await self.pubsub.subscribe("presence:updates")
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.pubsub.aclose()
        await self.client.aclose()

    async def next_for(self, user_id: str, timeout: float = 5.0) -> dict:
        with anyio.fail_after(timeout):
            while True:
                if self.sharded:
                    message = await self.pubsub.get_sharded_message(ignore_subscribe_messages=True, timeout=timeout)
                else:
                    message = await self.pubsub.get_message(timeout=timeout)
                if message is not None:
                    data = orjson.loads(message["data"])
                    if data["userId"] == user_id:
                        return data


async def test_a_user_on_two_instances_is_one_user(pair, shared_redis) -> None:
    a, b = pair
    flags = shared_redis.flags()
    async with UpdatesFollower(shared_redis) as follower:
        on_a = await connected_client(a.url, "x")
        online = await follower.next_for("x")
        assert (online["status"], online["previous"]) == ("ONLINE", "OFFLINE")
        on_b = await connected_client(b.url, "x")

        await on_a.sio.emit("presence:update", {"status": "DND"})
        update = await on_b.next("presence:updated")
        assert (update["userId"], update["status"]) == ("x", "DND")
        dnd = await follower.next_for("x")
        assert (dnd["status"], dnd["previous"]) == ("DND", "ONLINE")
        assert dnd["timestamp"] == update["timestamp"] and dnd["instance"]

        await on_b.close()
        await on_a.round_trip()
        assert [u["status"] for u in on_a.received("presence:updated")] == ["ONLINE", "DND"]
        assert flags.get(shared_redis.keys.online("x")) == "true"

        await on_a.close()
        offline = await follower.next_for("x")
        assert (offline["status"], offline["previous"]) == ("OFFLINE", "DND")
        assert flags.get(shared_redis.keys.online("x")) is None
        await wait_for_durable(a, "x", ("OFFLINE", "DND"))
    flags.close()


async def test_a_second_socket_on_the_other_instance_learns_the_status(pair) -> None:
    a, b = pair
    on_a = await connected_client(a.url, "y")
    await on_a.sio.emit("presence:update", {"status": "DND"})
    await on_a.next("presence:updated")
    await on_a.next("presence:updated")

    on_b = await connected_client(b.url, "y")
    try:
        assert [e for e in on_b.events if e[0] == "connected"][0][1]["status"] == "DND"
        await on_b.round_trip()
        # A second web socket changes neither the status nor the devices others see.
        assert on_b.received("presence:updated") == []
    finally:
        await on_a.close()
        await on_b.close()


class CommandLog:
    """Every command clients send to Redis, from MONITOR (commands run inside a Lua script
    are marked ``lua`` and are not round trips)."""

    NOT_STORE = {"PUBLISH", "PING", "INFO", "SUBSCRIBE", "UNSUBSCRIBE", "CLIENT", "HELLO", "SELECT", "MONITOR"}

    def __init__(self) -> None:
        self.commands: list[str] = []

    async def run(self, url: str, *, task_status=anyio.TASK_STATUS_IGNORED) -> None:
        client = redis.asyncio.Redis.from_url(url, decode_responses=True)
        async with client.monitor() as monitor:
            task_status.started()
            async for entry in monitor.listen():
                if entry.get("client_type") != "lua":
                    self.commands.append(entry["command"])
        await client.aclose()

    async def store_calls_of(self, action) -> list[str]:
        """The store commands Redis received for ``action``, once at least one has."""
        mark = len(self.commands)
        await action()
        with anyio.fail_after(5):
            while True:
                calls = [c.split()[0].upper() for c in self.commands[mark:] if c.split()[0].upper() not in self.NOT_STORE]
                if calls:
                    return calls
                await anyio.sleep(0.01)


async def test_each_socket_event_is_one_store_round_trip(tmp_path: Path, redis_url: str) -> None:
    gateway = start_instance(
        tmp_path, redis_url, "socketio-rt", tmp_path / "data", PRESENCE_SWEEP_INTERVAL="3600",
        PRESENCE_LEASE_CHECK_INTERVAL="3600",  # no lease check inside a window
    )
    log = CommandLog()
    try:
        async with anyio.create_task_group() as tg:
            await tg.start(log.run, redis_url)
            first = await connected_client(gateway.url, "rt")  # first sighting: the store learns the user
            await first.close()
            await wait_for_durable(gateway, "rt", ("OFFLINE", None))
            client: Client | None = None

            async def connect() -> None:
                nonlocal client
                client = await connected_client(gateway.url, "rt")

            assert await log.store_calls_of(connect) == ["EVALSHA"]
            tab = known(client)
            assert await log.store_calls_of(lambda: tab.sio.emit("ping")) == ["EVALSHA"]
            assert await log.store_calls_of(lambda: tab.sio.emit("presence:update", {"status": "DND"})) == ["EVALSHA"]
            assert await log.store_calls_of(tab.close) == ["EVALSHA"]
            # Each window above ends where the next begins; a sentinel closes the last one,
            # so a late second call for the disconnect would show up here.
            sentinel = redis.asyncio.Redis.from_url(redis_url)
            assert await log.store_calls_of(lambda: sentinel.get("sentinel")) == ["GET"]
            await sentinel.aclose()
            tg.cancel_scope.cancel()
    finally:
        gateway.stop()
