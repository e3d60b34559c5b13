"""Every operation of the Redis store, Redis not answering: the caller gets the core's
``Unavailable`` (what a client is told), never a redis-py error it knows nothing of."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.exceptions import RedisError

from presence_gateway.adapters.redis.client import create_redis
from presence_gateway.adapters.redis.pipelined import PipelinedRedis
from presence_gateway.adapters.redis.presence_store import RedisPresenceStore
from presence_gateway.domain.errors import Unavailable
from presence_gateway.domain.ports import DueDecay, HeldSession, SessionMeta
from presence_gateway.domain.presence import Choice
from presence_gateway.domain.statuses import default_registry

pytestmark = pytest.mark.anyio

META = SessionMeta(device="web", connected_at=0.0, ip="127.0.0.1")
DND = Choice("DND", True)


async def _choices() -> AsyncIterator[tuple[str, Choice, float | None, None]]:
    yield "u1", DND, None, None


OPERATIONS: dict[str, Any] = {
    "register": lambda s: s.register("u1", "s1", META, 100.0),
    "touch": lambda s: s.touch("u1", "s1", META, 100.0),
    "choose": lambda s: s.choose("u1", "s1", META, DND, 100.0),
    "adopt_choice": lambda s: s.adopt_choice("u1", DND),
    "end": lambda s: s.end("u1", "s1"),
    "states": lambda s: s.states(["u1", "u2"]),
    "expire_due": lambda s: s.expire_due(100.0, 10),
    "settle_due_graces": lambda s: s.settle_due_graces(100.0, 10),
    "claim_due_decays": lambda s: s.claim_due_decays(100.0, 10),
    "decay": lambda s: s.decay(DueDecay("u1", "IDLE", 50.0), Choice("AWAY", True), None),
    "end_instance_sessions": lambda s: s.end_instance_sessions(None, 10),
    "renew_lease": lambda s: s.renew_lease(100.0, 10.0),
    "release_lease": lambda s: s.release_lease(),
    "claim_dead_instances": lambda s: s.claim_dead_instances(100.0),
    "needs_seeding": lambda s: s.needs_seeding(),
    "seed_choices": lambda s: s.seed_choices(_choices()),
    "needs_restore": lambda s: s.needs_restore(),
    "restore_sessions": lambda s: s.restore_sessions([HeldSession("u1", "s1", META, 100.0)]),
    "release_restore": lambda s: s.release_restore(),
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def unreachable_store() -> AsyncIterator[RedisPresenceStore]:
    """A store whose Redis refuses connections: a port just freed, nothing listening."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"redis://127.0.0.1:{port}/0"
    client, events = create_redis(url, pool_size=2, connect_timeout=1.0), PipelinedRedis(url)
    hidden = default_registry().seen_offline()
    yield RedisPresenceStore(client, instance="gone", session_ttl=90.0, hidden_statuses=hidden, events=events)
    await client.aclose()
    await events.aclose()


@pytest.mark.parametrize("operation", list(OPERATIONS))
async def test_a_redis_failure_reaches_the_caller_as_unavailable(
    unreachable_store: RedisPresenceStore, operation: str
) -> None:
    with pytest.raises(Unavailable) as raised:
        await OPERATIONS[operation](unreachable_store)
    assert isinstance(raised.value.__cause__, (RedisError, OSError))  # the cause stays in the traceback
