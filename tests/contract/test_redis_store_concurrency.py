"""Two gateway instances hammering the same users through two independent Redis clients,
against a model: a seeded random schedule of thousands of operations, run concurrently in
batches, with zero divergence in socket sets, online flags and reported transitions."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable
from dataclasses import dataclass, field

import pytest

from presence_gateway.adapters.redis.cluster_url import is_cluster_url
from presence_gateway.adapters.redis.keys import RedisKeys
from presence_gateway.domain.ports import SessionMeta
from presence_gateway.domain.presence import Transition
from tests.support.redis_stores import redis_client, redis_stores

pytestmark = pytest.mark.anyio

META = SessionMeta(device="web", connected_at=0.0, ip="127.0.0.1")
USERS = [f"user:{n}" for n in range(8)]  # a ':' inside an id must not confuse the index
NOW = 1_000_000.0


@dataclass
class Model:
    sessions: dict[str, dict[str, tuple[str, bool]]] = field(default_factory=lambda: {u: {} for u in USERS})

    def count(self, user: str) -> int:
        return len(self.sessions[user])


def chain_exists(start: int, end: int, steps: list[tuple[int, int]]) -> bool:
    """Is there an order of these (before, after) steps leading from start to end?"""
    if not steps:
        return start == end
    for i, (before, after) in enumerate(steps):
        if before == start and chain_exists(after, end, steps[:i] + steps[i + 1:]):
            return True
    return False


@pytest.fixture
async def two_instances(shared_redis_url: str):
    async with redis_stores(shared_redis_url, "A", "B") as stores:
        yield stores


async def test_concurrent_operations_from_two_instances_never_diverge_from_the_model(two_instances, shared_redis_url) -> None:
    rng = random.Random(20261126)
    model = Model()
    serial = 0
    operations = 0
    inspector = redis_client(shared_redis_url)
    keys = RedisKeys(cluster=is_cluster_url(shared_redis_url))
    try:
        for batch in range(200):
            may_expire = batch % 2 == 1
            calls: list[tuple[str, str, str, int, Awaitable[object]]] = []  # kind, user, session, expected delta, coroutine
            touched: set[tuple[str, str]] = set()
            for _ in range(16):
                user = rng.choice(USERS)
                live = [s for s, (_, due) in model.sessions[user].items() if not due and (user, s) not in touched]
                roll = rng.random()
                if roll < 0.45 or not live:
                    serial += 1
                    instance = rng.choice("AB")
                    session = f"{instance}{serial}"
                    due = not may_expire and rng.random() < 0.2
                    expires = NOW - 1 if due else NOW + 90
                    calls.append(("register", user, session, 1, two_instances[instance].register(user, session, META, expires)))
                    model.sessions[user][session] = (instance, due)
                elif roll < 0.8:
                    session = rng.choice(live)
                    store = two_instances[rng.choice("AB")]
                    calls.append(("end", user, session, -1, store.end(user, session)))
                    del model.sessions[user][session]
                elif roll < 0.9:
                    calls.append(("end-unknown", user, "nobody", 0, two_instances["A"].end(user, "nobody")))
                else:
                    session = rng.choice(live)
                    instance = model.sessions[user][session][0]
                    calls.append(("touch", user, session, 0, two_instances[instance].touch(user, session, META, NOW + 90)))
                touched.add((user, calls[-1][2]))
            expiring = [name for name in "AB" if may_expire and rng.random() < 0.5]
            counts_before = {
                u: model.count(u)
                + sum(1 for c in calls if c[1] == u and c[3] == -1)
                - sum(1 for c in calls if c[1] == u and c[3] == 1)
                for u in USERS
            }
            for name in expiring:
                for user in USERS:
                    for session, (instance, due) in list(model.sessions[user].items()):
                        if due and instance == name:
                            del model.sessions[user][session]

            results = await asyncio.gather(
                *(c[4] for c in calls), *(two_instances[name].expire_due(NOW, limit=10_000) for name in expiring)
            )
            operations += len(results)

            steps: dict[str, list[tuple[int, int]]] = {u: [] for u in USERS}
            for (kind, user, _, delta, _), transition in zip(calls, results[: len(calls)], strict=True):
                assert isinstance(transition, Transition)
                assert transition.after.sessions - transition.before.sessions == delta, (batch, kind, transition)
                steps[user].append((transition.before.sessions, transition.after.sessions))
            for expired in results[len(calls):]:
                for item in expired:
                    t = item.transition
                    assert t.after.sessions == t.before.sessions - 1
                    steps[item.user_id].append((t.before.sessions, t.after.sessions))
            for user in USERS:
                assert chain_exists(counts_before[user], model.count(user), steps[user]), (batch, user, steps[user])
                members = await inspector.smembers(keys.sockets(user))
                assert members == set(model.sessions[user]), (batch, user)
                flag = await inspector.get(keys.online(user))
                assert flag == ("true" if model.count(user) else None), (batch, user)
    finally:
        await inspector.aclose()

    assert operations >= 3000
