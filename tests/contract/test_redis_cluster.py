"""The presence store on a real three-primary Redis Cluster: one script call on one slot
per socket event, sweeps that walk the buckets with one instance per bucket, the bucket
count held to what the data was written with, and a primary's loss survived."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import anyio
import pytest
import redis

from presence_gateway.adapters.redis.client import create_redis_cluster
from presence_gateway.adapters.redis.cluster_events import ClusterPipelinedRedis
from presence_gateway.adapters.redis.keys import RedisKeys
from presence_gateway.adapters.redis.presence_store import BucketCountMismatch
from presence_gateway.domain.errors import Unavailable
from presence_gateway.domain.ports import SessionMeta
from presence_gateway.domain.presence import Choice
from tests.support.redis_cluster import RedisCluster
from tests.support.redis_stores import redis_stores

pytestmark = pytest.mark.anyio

META = SessionMeta(device="web", connected_at=100.0, ip="127.0.0.1")
USERS = [f"u{n}" for n in range(200)]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _command_calls(cluster: RedisCluster) -> dict[str, int]:
    """Calls per command, summed over the primaries (every command is counted where it ran)."""
    total: dict[str, int] = {}
    for server in cluster.primaries:
        for name, stats in cluster.client(server).info("commandstats").items():
            total[name] = total.get(name, 0) + stats["calls"]
    return total


def _reset_stats(cluster: RedisCluster) -> None:
    for server in cluster.primaries:
        cluster.client(server).config_resetstat()


async def test_each_socket_event_is_one_script_call_on_one_primary(redis_cluster, redis_cluster_url) -> None:
    async with redis_stores(redis_cluster_url, "A") as stores:
        store = stores["A"]
        await store.register("warm", "s0", META, expires_at=190.0)  # the slot map is read once
        _reset_stats(redis_cluster)

        for user in USERS:
            await store.register(user, "s1", META, expires_at=190.0)
            await store.touch(user, "s1", META, expires_at=200.0)
            await store.choose(user, "s1", META, Choice("DND", True), expires_at=200.0)
            await store.end(user, "s1", grace_until=300.0)

        calls = _command_calls(redis_cluster)
    # The users' buckets span all three primaries; every event is one EVALSHA (the other
    # counts are the scripts' own commands), and the slot map was not read again.
    assert calls["cmdstat_evalsha"] == 4 * len(USERS)
    assert not [name for name in calls if name.startswith(("cmdstat_cluster", "cmdstat_asking", "cmdstat_script"))]


async def test_a_snapshot_reads_every_bucket_in_one_pipeline(redis_cluster, redis_cluster_url) -> None:
    async with redis_stores(redis_cluster_url, "A") as stores:
        store = stores["A"]
        for user in USERS[::3]:
            await store.register(user, "s1", META, expires_at=190.0)
        _reset_stats(redis_cluster)

        states = await store.states(USERS)

        calls = _command_calls(redis_cluster)
    assert [n for n, state in enumerate(states) if state.sessions] == list(range(0, len(USERS), 3))
    # One STATES per bucket holding a watched user (a script touches one slot).
    assert calls["cmdstat_evalsha"] == len({RedisKeys(True).bucket(u) for u in USERS})


async def test_two_instances_sweep_each_bucket_once(redis_cluster_url) -> None:
    """Graces due in every bucket, swept by two instances at once: each user is settled by
    exactly one. Each bucket is then held by the instance that swept it, for the claim's
    TTL: the other leaves it alone meanwhile, while the holder goes on sweeping it."""
    async with redis_stores(redis_cluster_url, "A", "B") as stores:
        a, b = stores["A"], stores["B"]
        for user in USERS:
            await a.register(user, "s1", META, expires_at=190.0)
            await a.end(user, "s1", grace_until=150.0)

        first = await _together(a.settle_due_graces(200.0, 1000), b.settle_due_graces(200.0, 1000))
        settled = [t.user_id for batch in first for t in batch]
        assert sorted(settled) == sorted(USERS)

        # Every bucket is now held by one of them, for the claim's TTL: each sweeps only its own.
        keys = RedisKeys(True)
        inspector = create_redis_cluster(redis_cluster_url)
        try:
            holders = [await inspector.get(keys.sweep_claim("graces", bucket)) for bucket in range(keys.buckets)]
        finally:
            await inspector.aclose()
        assert set(holders) <= {"A", "B"} and None not in holders
        late = USERS[:40]  # in many buckets
        for user in late:
            await a.register(user, "s2", META, expires_at=190.0)
            await a.end(user, "s2", grace_until=150.0)
        for name, store in stores.items():
            mine = sorted(u for u in late if holders[keys.bucket(u)] == name)
            assert sorted(t.user_id for t in await store.settle_due_graces(200.0, 1000)) == mine


async def _together(*calls):
    results = [None] * len(calls)

    async def run(i, call):
        results[i] = await call

    async with anyio.create_task_group() as tg:
        for i, call in enumerate(calls):
            tg.start_soon(run, i, call)
    return results


async def test_a_different_bucket_count_refuses_to_start(redis_cluster_url) -> None:
    async with redis_stores(redis_cluster_url, "A") as stores:
        await stores["A"].register("u1", "s1", META, expires_at=190.0)
    with pytest.raises(BucketCountMismatch, match="PRESENCE_REDIS_BUCKETS=16.*64 buckets"):
        async with redis_stores(redis_cluster_url, "A", keys=RedisKeys(True, 16)):
            pass


async def test_sessions_survive_a_primary_lost_to_its_replica(tmp_path: Path) -> None:
    """A primary killed (SIGKILL): its replica takes over. Meanwhile the sweep still ends
    the sessions due in the other primaries' buckets, and events on the lost primary's
    slots fail fast (``Unavailable``); once the cluster settles every session of the lost
    primary's buckets is still there, and is swept in its turn."""
    cluster = RedisCluster(tmp_path, primaries=3, replicas_per_primary=1).start()
    try:
        url = "redis+cluster://" + cluster.nodes
        keys = RedisKeys(True)
        victim = cluster.primaries[0]  # slots 0 to 5460
        on_victim = {u for u in USERS if redis.crc.key_slot(keys.sockets(u).encode()) < 16384 // 3}
        assert 0 < len(on_victim) < len(USERS)
        async with redis_stores(url, "A") as stores:
            store = stores["A"]
            for user in USERS:
                await store.register(user, "s1", META, expires_at=190.0)
            for primary in cluster.primaries:  # every write on a replica before the loss
                assert cluster.client(primary).execute_command("WAIT", 1, 5000) == 1

            victim.stop(signal.SIGKILL)
            killed = time.monotonic()
            # Failure detection takes the node timeout (1 s): the lost buckets fail, the rest are swept.
            early = await store.expire_due(500.0, limit=1000)
            assert {e.user_id for e in early} == set(USERS) - on_victim
            failures = 0
            probe = sorted(on_victim)[0]
            with anyio.fail_after(30):
                while True:
                    try:
                        await store.touch(probe, "s1", META, expires_at=190.0)
                        break
                    except Unavailable:
                        failures += 1
                        await anyio.sleep(0.02)  # polling the cluster's recovery, bounded above
            gap = time.monotonic() - killed
            cluster.wait_ok()

            states = await store.states(USERS)
            assert {u for u, s in zip(USERS, states, strict=True) if s.sessions == 1} == on_victim
            assert {e.user_id for e in await store.expire_due(500.0, limit=1000)} == on_victim
            print(f"writes to the lost primary's slots failed for {gap:.2f} s ({failures} attempts)")
            assert failures > 0
    finally:
        cluster.stop()


async def test_events_follow_a_bucket_moved_to_another_primary(redis_cluster, redis_cluster_url) -> None:
    """A bucket's slot migrated between primaries: during the move the old primary answers
    ASK (a command goes to the new one after ASKING), after it MOVED (the slot map is
    updated at once); the user's data moved whole."""
    keys = RedisKeys(True)
    user = "u1"
    slot = redis.crc.key_slot(keys.sockets(user).encode())
    step = 16384 // 3
    source = redis_cluster.primaries[min(slot // step, 2)]
    target = next(p for p in redis_cluster.primaries if p is not source)
    src, dst = redis_cluster.client(source), redis_cluster.client(target)
    src_id, dst_id = src.execute_command("CLUSTER", "MYID"), dst.execute_command("CLUSTER", "MYID")
    async with redis_stores(redis_cluster_url, "A") as stores:
        store = stores["A"]
        await store.register(user, "s1", META, expires_at=190.0)
        try:
            dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", src_id)
            src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", dst_id)
            moving = src.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 1000)
            assert len(moving) >= 3
            src.execute_command("MIGRATE", "127.0.0.1", target.port, "", 0, 5000, "KEYS", *moving)

            # A script whose keys are not all on the new primary yet gets TRYAGAIN there
            # (Redis refuses it until the move completes): the event is answered unavailable.
            with pytest.raises(Unavailable):
                await store.register(user, "s2", META, expires_at=190.0)
            # A script whose keys all moved is sent on, after ASKING.
            count = "return redis.call('SCARD', KEYS[1])"
            for server in redis_cluster.primaries:
                sha = redis_cluster.client(server).script_load(count)
            events = ClusterPipelinedRedis(redis_cluster_url)
            try:
                assert await events.evalsha(sha, count, [keys.sockets(user)], []) == 1
            finally:
                await events.aclose()
        finally:
            for server in redis_cluster.primaries:
                redis_cluster.client(server).execute_command("CLUSTER", "SETSLOT", slot, "NODE", dst_id)
        redis_cluster.wait_ok()

        moved = await store.register(user, "s2", META, expires_at=190.0)  # MOVED → the new primary
        assert (moved.before.sessions, moved.after.sessions) == (1, 2)
        ended = await store.end(user, "s1")
        assert (ended.before.sessions, ended.after.sessions) == (2, 1)
        assert dst.smembers(keys.sockets(user)) == {"s2"}
    # Give the slot back, empty, so the session's cluster keeps its even split.
    redis_cluster.flush()
    for server in redis_cluster.primaries:
        redis_cluster.client(server).execute_command("CLUSTER", "SETSLOT", slot, "NODE", src_id)
    redis_cluster.wait_ok()
