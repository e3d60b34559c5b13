"""Instances sharing one Redis: leases, and exactly one survivor ending a dead one's sessions."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio

from presence_gateway.domain.ports import SessionMeta
from tests.support.redis_stores import redis_stores

pytestmark = pytest.mark.anyio

META = SessionMeta(device="web", connected_at=0.0, ip="127.0.0.1")
NOW = 1_800_000_000.0


@pytest.fixture
async def cluster(redis_url: str):
    inspector = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
    async with redis_stores(redis_url, "A", "B", "C") as stores:
        yield stores, inspector
    await inspector.aclose()


async def test_a_live_instance_is_never_taken_over(cluster) -> None:
    stores, _ = cluster
    await stores["A"].renew_lease(NOW, ttl=10.0)

    assert await stores["B"].claim_dead_instances(NOW + 5) == []
    assert await stores["B"].claim_dead_instances(NOW + 60) == []  # registry says lapsed, but the lease is held


async def test_a_lapsed_lease_is_claimed_by_exactly_one_survivor(cluster) -> None:
    stores, inspector = cluster
    await stores["A"].renew_lease(NOW, ttl=10.0)
    await inspector.delete("presence:instance:A:lease")  # A died: its lease ran out

    claims = await asyncio.gather(*(stores[n].claim_dead_instances(NOW + 11) for n in ("B", "C")))

    assert sorted(claims) == [[], ["A"]]
    assert await stores["B"].claim_dead_instances(NOW + 12) == []


async def test_the_survivor_ends_the_dead_instances_sessions_and_spares_the_others(cluster) -> None:
    stores, inspector = cluster
    await stores["A"].register("only-on-a", "a1", META, expires_at=NOW + 90)
    await stores["A"].register("on-both", "a2", META, expires_at=NOW + 90)
    await stores["B"].register("on-both", "b1", META, expires_at=NOW + 90)

    ended = await stores["B"].end_instance_sessions("A", limit=100)

    outcome = {e.user_id: (e.transition.before.sessions, e.transition.after.sessions) for e in ended}
    assert outcome == {"only-on-a": (1, 0), "on-both": (2, 1)}
    assert await inspector.smembers("presence:sockets:on-both") == {"b1"}
    assert await inspector.exists("presence:instance:A:sessions", "presence:only-on-a:a1") == 0


async def test_releasing_the_lease_leaves_no_trace_of_the_instance(cluster) -> None:
    stores, inspector = cluster
    await stores["A"].renew_lease(NOW, ttl=10.0)
    await stores["A"].register("u1", "a1", META, expires_at=NOW + 90)

    await stores["A"].end_instance_sessions(None, limit=100)
    await stores["A"].release_lease()

    assert [k async for k in inspector.scan_iter("presence:instance:A*")] == []
    assert await inspector.zscore("presence:instances", "A") is None


async def test_renewing_tells_whether_the_lease_had_lapsed(cluster) -> None:
    stores, inspector = cluster
    await stores["A"].renew_lease(NOW, ttl=10.0)
    assert await stores["A"].renew_lease(NOW + 3, ttl=10.0)

    await inspector.delete("presence:instance:A:lease")
    assert not await stores["A"].renew_lease(NOW + 20, ttl=10.0)
