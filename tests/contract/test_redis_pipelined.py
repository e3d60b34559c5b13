"""The socket events' Redis connection: commands of one turn leave together, replies come
back to the right caller, and a dropped, frozen or forgetful Redis fails or recovers the
way the store's callers rely on (``Unavailable`` fast, no command lost to a stale
connection, scripts loaded again)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest
import redis.asyncio
from redis.exceptions import ConnectionError, ResponseError, TimeoutError

from presence_gateway.adapters.redis.circuit import RedisCircuit
from presence_gateway.adapters.redis.pipelined import PipelinedRedis
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.anyio

ECHO = "return ARGV[1] .. KEYS[1]"


@pytest.fixture
async def client(redis_url: str):
    events = PipelinedRedis(redis_url)
    yield events
    await events.aclose()


@pytest.fixture
async def inspector(redis_url: str):
    client = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


async def test_concurrent_commands_share_writes_and_get_their_own_replies(client, inspector) -> None:
    await client.execute("PING")
    before = (await inspector.info("stats"))["total_net_input_bytes"]
    writes_before = await _calls(inspector, "incr")

    replies = await asyncio.gather(*(client.execute("INCR", f"n{i % 10}") for i in range(1000)))

    assert sorted(replies) == sorted(k for _ in range(10) for k in range(1, 101))
    assert await _calls(inspector, "incr") - writes_before == 1000
    assert (await inspector.info("stats"))["total_net_input_bytes"] > before


async def test_one_turn_of_commands_is_one_write(client, redis_url: str) -> None:
    """Counted at the transport: a thousand commands issued in one turn leave in one write."""
    await client.execute("PING")
    protocol = client._protocol
    writes: list[int] = []
    real_write = protocol._transport.write

    def counted_write(data: bytes) -> None:
        writes.append(len(data))
        real_write(data)

    protocol._transport.write = counted_write

    await asyncio.gather(*(client.execute("SET", f"k{i}", "v") for i in range(1000)))

    assert len(writes) == 1


async def test_an_error_reply_fails_only_its_own_command(client) -> None:
    await client.execute("SET", "text", "x")

    replies = await asyncio.gather(
        client.execute("GET", "text"), client.execute("INCR", "text"), client.execute("GET", "text"),
        return_exceptions=True,
    )
    ok, bad, ok_again = replies

    assert (ok, ok_again) == ("x", "x")
    assert isinstance(bad, ResponseError)


async def test_scripts_run_by_sha_and_are_loaded_again_after_a_flush(client, inspector) -> None:
    sha = await inspector.script_load(ECHO)
    assert await client.evalsha(sha, ECHO, ["k"], ["v"]) == "vk"

    await inspector.script_flush()

    assert await client.evalsha(sha, ECHO, ["k2"], ["v"]) == "vk2"


async def test_publish_nowait_reaches_subscribers(client, inspector) -> None:
    pubsub = inspector.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe("news")
    client.publish_nowait("news", b"one")
    client.publish_nowait("news", "two")  # before any connection exists: sent once it does
    got: list[str] = []
    async with asyncio.timeout(5):
        while len(got) < 2:
            message = await pubsub.get_message(timeout=1.0)
            if message is not None:
                got.append(message["data"])
    await pubsub.aclose()
    assert sorted(got) == ["one", "two"]


async def test_a_command_on_a_killed_connection_is_sent_again_on_a_new_one(client, inspector) -> None:
    await client.execute("CLIENT", "SETNAME", "doomed")
    await inspector.client_kill_filter(_type="normal", skipme=True)

    assert await client.execute("PING") == "PONG"


@pytest.fixture
def own_redis(tmp_path: Path):
    server = RedisServer(tmp_path / "redis").start()
    yield server
    if server.process is not None and server.process.poll() is None:
        os.kill(server.process.pid, signal.SIGCONT)
    server.stop()


async def test_a_frozen_redis_fails_waiting_commands_within_the_timeout_and_trips_the_circuit(own_redis) -> None:
    circuit = RedisCircuit()
    client = PipelinedRedis(own_redis.url, circuit=circuit, reply_timeout=0.2)
    try:
        await client.execute("PING")
        os.kill(own_redis.process.pid, signal.SIGSTOP)
        started = time.monotonic()

        with pytest.raises(TimeoutError):
            await client.execute("PING")

        assert time.monotonic() - started < 1.0  # at most two timeouts
        assert circuit.is_open
        with pytest.raises(ConnectionError):  # refused at once while the circuit is open
            await client.execute("PING")
    finally:
        os.kill(own_redis.process.pid, signal.SIGCONT)
        await client.aclose()


async def test_a_stopped_redis_fails_fast_and_a_restarted_one_is_used_again(own_redis) -> None:
    client = PipelinedRedis(own_redis.url)
    try:
        await client.execute("PING")
        own_redis.stop()

        with pytest.raises(ConnectionError):
            await client.execute("PING")

        own_redis.start()
        assert await client.execute("PING") == "PONG"
    finally:
        await client.aclose()


async def _calls(inspector, command: str) -> int:
    stats = await inspector.info("commandstats")
    return stats.get(f"cmdstat_{command}", {}).get("calls", 0)
