"""A burst never drops work: a thousand sessions ending at once through a small pool all
end (redis-py's default asyncio pool raises once its connections are busy)."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio

from presence_gateway.domain.ports import SessionMeta
from tests.support.redis_stores import redis_stores

pytestmark = pytest.mark.anyio

META = SessionMeta(device="web", connected_at=0.0, ip="127.0.0.1")


async def test_a_thousand_simultaneous_disconnects_all_end(redis_url: str) -> None:
    inspector = redis.asyncio.Redis.from_url(redis_url)
    async with redis_stores(redis_url, "burst", pool_size=8) as stores:
        store = stores["burst"]
        await asyncio.gather(*(store.register(f"u{n}", f"s{n}", META, expires_at=1e10) for n in range(1000)))

        ended = await asyncio.gather(*(store.end(f"u{n}", f"s{n}") for n in range(1000)))

        assert sum(1 for t in ended if (t.before.sessions, t.after.sessions) == (1, 0)) == 1000
        assert await inspector.zcard("presence:instance:burst:sessions") == 0
        assert [k async for k in inspector.scan_iter("presence:online:*")] == []
    await inspector.aclose()
