"""What other backend services read from Redis: the guide's keys, with their TTLs."""

from __future__ import annotations

import pytest
import redis.asyncio
from redis.crc import key_slot

from presence_gateway.adapters.redis.keys import RedisKeys
from presence_gateway.adapters.redis.presence_store import RedisPresenceStore
from presence_gateway.domain.ports import SessionMeta
from presence_gateway.domain.presence import Choice
from tests.support.redis_stores import redis_stores

pytestmark = pytest.mark.anyio

META = SessionMeta(device="ios", connected_at=1_800_000_000.5, ip="10.1.2.3")


@pytest.fixture
async def layout(redis_url: str):
    inspector = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
    async with redis_stores(redis_url, "i-1") as plain, redis_stores(redis_url, "i-1", keys=RedisKeys(True)) as tagged:

        def store(cluster: bool = False) -> RedisPresenceStore:
            return (tagged if cluster else plain)["i-1"]

        yield store, inspector
    await inspector.aclose()


async def test_a_session_is_written_as_the_guide_names_it(layout) -> None:
    make, r = layout
    await make().register("42", "sock1", META, expires_at=1_800_000_090.5)

    assert await r.hgetall("presence:42:sock1") == {
        "device": "ios", "connectedAt": "1800000000500", "ip": "10.1.2.3", "instance": "i-1", "expiresAt": "1800000090500",
    }
    assert 85_000 < await r.pttl("presence:42:sock1") <= 90_000
    assert await r.smembers("presence:sockets:42") == {"sock1"}
    assert await r.get("presence:online:42") == "true"
    assert await r.pttl("presence:online:42") > 90_000  # outlives the session until the sweeper ends it
    assert await r.zscore("presence:instance:i-1:sessions", "sock1:42") == 1_800_000_090_500


async def test_the_last_session_ending_clears_the_user(layout) -> None:
    make, r = layout
    store = make()
    await store.register("42", "a", META, expires_at=1_800_000_090.0)
    await store.register("42", "b", META, expires_at=1_800_000_090.0)
    await store.end("42", "a")
    assert await r.get("presence:online:42") == "true"

    await store.end("42", "b")

    assert await r.exists("presence:42:a", "presence:42:b", "presence:sockets:42", "presence:online:42") == 0
    assert await r.zcard("presence:instance:i-1:sessions") == 0


async def test_an_invisible_user_is_not_flagged_online(layout) -> None:
    make, r = layout
    store = make()
    await store.register("42", "a", META, expires_at=1_800_000_090.0)
    await store.choose("42", "a", META, Choice("INVISIBLE", True), expires_at=1_800_000_090.0)

    assert await r.get("presence:online:42") is None
    assert await r.smembers("presence:sockets:42") == {"a"}

    await store.choose("42", "a", META, Choice("DND", True), expires_at=1_800_000_090.0)
    assert await r.get("presence:online:42") == "true"


async def test_a_remembered_choice_is_kept_without_expiry(layout) -> None:
    make, r = layout
    store = make()
    await store.choose("42", "a", META, Choice("DND", True), expires_at=1_800_000_090.0)
    await store.end("42", "a")

    assert await r.hgetall("presence:status:42") == {"c": "DND", "r": "1"}
    assert await r.ttl("presence:status:42") == -1


async def test_cluster_keys_share_one_hash_slot_per_user(layout) -> None:
    make, r = layout
    await make(cluster=True).register("42", "sock1", META, expires_at=1_800_000_090.0)

    keys = ["presence:{42}:sock1", "presence:sockets:{42}", "presence:online:{42}", "presence:status:{42}"]
    assert await r.exists(*keys[:3]) == 3
    assert len({key_slot(k.encode()) for k in keys}) == 1
    assert await r.exists("presence:sockets:42") == 0
