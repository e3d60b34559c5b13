"""Behind Sentinel, the store, the prober and python-socketio's manager follow a failover
(one primary, one replica, one sentinel, all started here; ``SENTINEL FAILOVER``)."""

from __future__ import annotations

import uuid
from pathlib import Path

import anyio
import pytest
import redis

from presence_gateway.adapters.redis.circuit import RedisCircuit
from presence_gateway.adapters.redis.client import create_redis, pubsub_client
from presence_gateway.adapters.redis.health import RedisHealth, probe_client
from presence_gateway.adapters.redis.pipelined import PipelinedRedis
from presence_gateway.compat.socketio_redis_manager import PooledRedisManager
from presence_gateway.domain.ports import SessionMeta
from tests.support.manager_hearing import Hearing, Sender, across
from tests.support.redis_sentinel import RedisSentinel
from tests.support.redis_stores import redis_stores

pytestmark = pytest.mark.anyio

META = SessionMeta(device="web", connected_at=100.0, ip="127.0.0.1")


@pytest.fixture
def sentinel(tmp_path: Path):
    setup = RedisSentinel(tmp_path / "sentinel").start()
    yield setup
    setup.stop()


def replicated(server) -> None:
    """Every write so far reached the replica (Sentinel's failover does not wait for it)."""
    with redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=10) as client:
        assert client.execute_command("WAIT", 1, 5000) == 1


async def test_the_store_and_the_prober_follow_a_failover_and_keep_the_sessions(sentinel: RedisSentinel) -> None:
    back = anyio.Event()  # the prober sees a new primary as a Redis that may have lost data
    probe = probe_client(sentinel.url)
    health = RedisHealth(probe, RedisCircuit(), on_back=back.set, interval=0.05)
    async with redis_stores(sentinel.url, "a") as stores, anyio.create_task_group() as tg:
        await tg.start(health.run)
        store = stores["a"]
        await store.register("u1", "s1", META, expires_at=1e9)
        await store.register("u2", "s1", META, expires_at=1e9)
        replicated(sentinel.primary)

        new = await anyio.to_thread.run_sync(sentinel.failover)

        assert new is sentinel.replica
        assert (await store.states(["u1"]))[0].sessions == 1  # the pooled client, on the new primary
        ended = await store.end("u2", "s1")  # the events' connection, on the new primary
        assert (ended.before.sessions, ended.after.sessions) == (1, 0)
        registered = await store.register("u3", "s1", META, expires_at=1e9)
        assert registered.first_session
        with redis.Redis(host="127.0.0.1", port=new.port, decode_responses=True) as direct:
            assert direct.exists("presence:sockets:u3") and direct.exists("presence:sockets:u1")
            assert not direct.exists("presence:sockets:u2")
        # So the restorer writes back what a new primary may lack (restore.py).
        with anyio.fail_after(10):
            await back.wait()
        assert health.available
        tg.cancel_scope.cancel()
    await probe.aclose()


async def test_the_manager_follows_a_failover(sentinel: RedisSentinel) -> None:
    channel = f"socketio-{uuid.uuid4().hex[:8]}"
    events_a, events_b = PipelinedRedis(sentinel.url), PipelinedRedis(sentinel.url)
    clients = [pubsub_client(sentinel.url, pool_size=4), pubsub_client(sentinel.url, pool_size=4)]
    a = PooledRedisManager(clients[0], channel=channel, events=events_a, circuit=RedisCircuit())
    b = PooledRedisManager(clients[1], channel=channel, events=events_b, circuit=RedisCircuit())
    heard = Hearing(b)
    sender = Sender(a)
    try:
        gap, lost, _, settled = await across(heard, sender, lambda: anyio.to_thread.run_sync(sentinel.failover))
    finally:
        await events_a.aclose()
        await events_b.aclose()
        for client in clients:
            await client.aclose()
    print(f"sentinel failover: delivery stopped {gap:.2f}s, {lost} emits lost, failover took {settled:.2f}s")
    assert gap < 10.0


class Located:
    """The sentinels' answers in turn: first a replica (a primary demoted since), then the
    primary — what a client that connected just before a failover meets."""

    def __init__(self, *servers) -> None:
        self.answers = [("127.0.0.1", server.port) for server in servers]

    async def locate(self) -> tuple[str, int]:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


async def test_a_connection_that_meets_a_replica_sends_the_command_to_the_primary(sentinel: RedisSentinel) -> None:
    events = PipelinedRedis(sentinel.url)
    events._master = Located(sentinel.replica, sentinel.primary)
    pooled = create_redis(sentinel.url, pool_size=2)
    pooled.connection_pool.connection_kwargs["master"] = Located(sentinel.replica, sentinel.primary)
    try:
        assert await events.execute("SET", "k1", "v") == "OK"  # sent once more, to the primary
        # redis-py's pool does not send it again (its commands are not retried): that one
        # command fails, its connection is dropped, and the next goes to the primary.
        with pytest.raises(redis.ConnectionError, match="replica"):
            await pooled.set("k2", "v")
        assert await pooled.set("k2", "v") is True
    finally:
        await events.aclose()
        await pooled.aclose()
    with redis.Redis(host="127.0.0.1", port=sentinel.primary.port, decode_responses=True) as direct:
        assert direct.mget("k1", "k2") == ["v", "v"]
