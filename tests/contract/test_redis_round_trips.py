"""What a snapshot costs Redis: the states of a thousand users in one round trip and one
script, and no command that walks the keyspace."""

from __future__ import annotations

import pytest
import redis.asyncio
from redis.asyncio import BlockingConnectionPool, Redis

from presence_gateway.adapters.redis.presence_store import RedisPresenceStore
from presence_gateway.domain.ports import SessionMeta
from presence_gateway.domain.statuses import default_registry

pytestmark = pytest.mark.anyio

META = SessionMeta(device="web", connected_at=100.0, ip="127.0.0.1")


class CountingConnection(redis.asyncio.Connection):
    """Counts what it writes to Redis: a write, then its replies, is one round trip."""

    writes = 0

    async def send_packed_command(self, command, check_health: bool = True) -> None:
        CountingConnection.writes += 1
        await super().send_packed_command(command, check_health)


@pytest.fixture
async def counted_store(redis_url: str):
    pool = BlockingConnectionPool.from_url(
        redis_url, max_connections=4, decode_responses=True, connection_class=CountingConnection
    )
    client = Redis(connection_pool=pool)
    store = RedisPresenceStore(client, instance="rt", session_ttl=90.0, hidden_statuses=default_registry().seen_offline())
    await store.load_scripts()
    yield store, client
    await client.aclose()


@pytest.mark.parametrize(("users", "scripts"), [(1000, 1), (2500, 3)])
async def test_the_states_of_many_users_are_one_round_trip(counted_store, users: int, scripts: int) -> None:
    store, client = counted_store
    for n in range(0, users, 7):
        await store.register(f"u{n}", "s1", META, expires_at=190.0)
    await client.config_resetstat()
    CountingConnection.writes = 0

    states = await store.states([f"u{n}" for n in range(users)])

    assert CountingConnection.writes == 1
    assert [n for n, state in enumerate(states) if state.sessions] == list(range(0, users, 7))
    commands = await client.info("commandstats")
    # A thousand users per script, so Redis serves other clients between them.
    assert commands["cmdstat_evalsha"]["calls"] == scripts
    assert not [name for name in commands if name.split("|")[0] in ("cmdstat_keys", "cmdstat_scan")]


async def test_states_come_back_after_redis_forgets_its_scripts(counted_store) -> None:
    store, client = counted_store
    await store.register("u1", "s1", META, expires_at=190.0)
    await client.script_flush()

    assert [state.sessions for state in await store.states(["u1", "u2"])] == [1, 0]
