"""What other backend services read from Redis: the guide's keys, with their TTLs."""

from __future__ import annotations

import random

import pytest
import redis.asyncio
from redis.crc import key_slot

from presence_gateway.adapters.redis.keys import RedisKeys
from presence_gateway.adapters.redis.presence_store import RedisPresenceStore
from presence_gateway.domain.errors import Unavailable
from presence_gateway.domain.ports import SessionMeta
from presence_gateway.domain.presence import Choice
from presence_gateway.domain.user_ids import KEY_KIND_WORDS, user_id_problem
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


async def test_cluster_keys_share_one_hash_slot_per_user_and_bucket(layout) -> None:
    """The cluster layout, as other services compute it: bucket = CRC16(id) mod 64 — the
    id's key slot mod 64 — (user 42: bucket 0), the user's keys and that bucket's indexes
    under ``{b0}``."""
    make, r = layout
    assert RedisKeys(True).bucket("42") == 0 == key_slot(b"42") % 64
    await make(cluster=True).register("42", "sock1", META, expires_at=1_800_000_090.0)
    await make(cluster=True).choose("42", "sock1", META, Choice("IDLE", False), expires_at=1_800_000_090.0, decays_at=1.0)

    keys = [
        "presence:{b0}42:sock1", "presence:sockets:{b0}42", "presence:online:{b0}42", "presence:status:{b0}42",
        "presence:instance:{b0}i-1:sessions", "presence:decays:{b0}",
    ]
    assert await r.exists(*keys) == len(keys)
    assert len({key_slot(k.encode()) for k in keys + ["presence:graces:{b0}", "presence:epoch:{b0}"]}) == 1
    assert await r.smembers("presence:sockets:{b0}42") == {"sock1"}
    assert await r.exists("presence:sockets:42", "presence:sockets:{42}") == 0
    assert await r.get("presence:epoch:buckets") == "64"


def _key_kinds() -> set[str]:
    """The word in second place of every key that is not a session key, read off the
    key-naming itself (so a kind added later is covered)."""
    keys = RedisKeys()
    names = [
        keys.sockets("U"), keys.online("U"), keys.choice("U"), keys.leaving("U"), keys.restored_choice("U"),
        RedisKeys.instance_sessions("I"), RedisKeys.decays(), RedisKeys.epoch(), RedisKeys.graces(),
        RedisKeys.instances(), RedisKeys.lease("I"), RedisKeys.instance_restored("I"),
    ]
    return {name.split(":")[1] for name in names}


def test_the_id_rule_refuses_every_word_the_key_layout_puts_where_an_id_goes() -> None:
    kinds = _key_kinds()
    assert kinds <= KEY_KIND_WORDS
    for kind in kinds:
        assert user_id_problem(kind) is not None, kind


async def test_without_the_rule_user_sockets_would_overwrite_another_users_socket_set(layout) -> None:
    """The hazard the rule prevents, on the real store: user ``sockets`` with socket S
    writes ``presence:sockets:S``, the set of user S, whose next write then fails."""
    make, r = layout
    store = make()
    await store.register("sockets", "S1", META, expires_at=1_800_000_090.0)
    assert await r.type("presence:sockets:S1") == "hash"
    with pytest.raises(Unavailable):  # WRONGTYPE inside the script
        await store.register("S1", "a", META, expires_at=1_800_000_090.0)


async def test_ids_the_rule_accepts_never_share_a_key(layout) -> None:
    """Seeded ids the rule accepts, kind words in other cases and with suffixes included,
    registered on the real store with server-like socket ids: every key has the type its
    name says, and there are as many of each as registered."""
    make, r = layout
    store = make()
    rng = random.Random(13)
    alphabet = "aZ09-_.|@+ éü漢" + "".join(sorted(KEY_KIND_WORDS))
    ids = {word.upper() for word in KEY_KIND_WORDS} | {word + "-1" for word in KEY_KIND_WORDS}
    while len(ids) < 300:
        ids.add("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))))
    ids = {i for i in ids if user_id_problem(i) is None}
    sessions = {user: f"{rng.getrandbits(64):016x}" for user in ids}
    for user, sid in sessions.items():
        await store.register(user, sid, META, expires_at=1_800_000_090.0)

    for user, sid in sessions.items():
        assert await r.type(f"presence:{user}:{sid}") == "hash"
        assert await r.smembers(f"presence:sockets:{user}") == {sid}
        assert await r.get(f"presence:online:{user}") == "true"
    session_keys = [k async for k in r.scan_iter("presence:*") if k.split(":")[1] not in KEY_KIND_WORDS]
    assert len(session_keys) == len(sessions)


def test_a_user_sessions_keys_hashed_once_are_the_keys_named_one_by_one() -> None:
    for keys in (RedisKeys(), RedisKeys(True), RedisKeys(True, 16)):
        for user in ("42", "alice@example.com", "漢", "user-7"):
            assert keys.user_session(user, "S") == (
                keys.bucket(user), keys.session(user, "S"), keys.sockets(user), keys.online(user),
                keys.choice(user), keys.leaving(user), keys.devices(user),
            )
