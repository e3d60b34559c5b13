"""Cross-instance emits on a Redis Cluster: one shard carries them (sharded pub/sub),
and they flow again after that shard's primary dies and its replica takes over."""

from __future__ import annotations

import signal
import uuid
from pathlib import Path

import anyio
import pytest
from redis.cluster import key_slot

from presence_gateway.adapters.redis.client import pubsub_client
from presence_gateway.adapters.redis.shard_publisher import ShardPublisher
from presence_gateway.compat.socketio_cluster_manager import ClusterRedisManager
from tests.support.manager_hearing import Hearing, Sender, across, emit_message
from tests.support.redis_cluster import SLOTS, RedisCluster, _wait

pytestmark = pytest.mark.anyio


@pytest.fixture
def cluster(tmp_path: Path):
    started = RedisCluster(tmp_path / "cluster", primaries=3, replicas_per_primary=1).start()
    yield started
    started.stop()


def owner(cluster: RedisCluster, channel: str) -> int:
    """The index of the primary whose slots hold ``channel`` (slots are split evenly)."""
    return min(key_slot(channel.encode()) // (SLOTS // len(cluster.primaries)), len(cluster.primaries) - 1)


def bus_counters(cluster: RedisCluster) -> dict[int, dict[str, int]]:
    """Each node's cluster-bus pub/sub message counts."""
    counts = {}
    for server in cluster.servers:
        text = cluster.client(server).execute_command("CLUSTER", "INFO")
        info = dict(line.split(":", 1) for line in str(text).splitlines() if ":" in line)
        counts[server.port] = {
            key: int(info.get(f"cluster_stats_messages_{key}", 0))
            for key in ("publish_sent", "publish_received", "publishshard_sent", "publishshard_received")
        }
    return counts


def promoted(cluster: RedisCluster, replica) -> None:
    """The replica took over and the cluster serves every slot again."""
    _wait(lambda: cluster.client(replica).info("replication").get("role") == "master", 30, "no replica promoted")
    cluster.wait_ok()


class Instances:
    """Two gateway instances' managers on one channel, as the container wires them."""

    def __init__(self, url: str) -> None:
        self.channel = f"socketio-{uuid.uuid4().hex[:8]}"
        self.publishers = [ShardPublisher(url), ShardPublisher(url)]
        self.clients = [pubsub_client(url, pool_size=4, cluster=True), pubsub_client(url, pool_size=4, cluster=True)]
        self.a, self.b = (
            ClusterRedisManager(client, channel=self.channel, events=publisher)
            for client, publisher in zip(self.clients, self.publishers, strict=True)
        )

    async def aclose(self) -> None:
        for closing in (*self.publishers, *self.clients):
            await closing.aclose()


async def test_emits_and_updates_travel_on_one_shard(cluster: RedisCluster) -> None:
    instances = Instances(cluster.url)
    heard = Hearing(instances.b)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(heard.run)
            await heard.subscribed(instances.a)
            before = bus_counters(cluster)
            for seq in range(100):
                await instances.a._publish(emit_message(instances.a, seq))
                instances.publishers[0].publish_nowait("presence:updates", b"{}")  # as RedisUpdatesPublisher does
            await heard.until(lambda: set(range(100)) <= heard.seqs(), 10)
            tg.cancel_scope.cancel()
        # Each channel's messages reach its own primary's replica (over the bus), and no other node.
        owners = [owner(cluster, instances.channel), owner(cluster, "presence:updates")]
        replicas = {cluster.replicas[i].port for i in owners}
        expected = {port: 100 * owners.count(i) for i, port in enumerate(r.port for r in cluster.replicas)}

        def moved() -> dict[int, dict[str, int]]:
            after = bus_counters(cluster)
            return {port: {k: after[port][k] - before[port][k] for k in after[port]} for port in after}

        def replicated() -> bool:
            now = moved()
            return all(now[port]["publishshard_received"] >= count for port, count in expected.items() if count)

        await anyio.to_thread.run_sync(_wait, replicated, 10, "the replicas did not receive the sharded messages")
    finally:
        await instances.aclose()
    counts = moved()
    # No plain PUBLISH: it would be copied to every node over the bus.
    assert all(m["publish_sent"] == 0 and m["publish_received"] == 0 for m in counts.values()), counts
    receivers = {port for port, m in counts.items() if m["publishshard_received"] > 0}
    assert receivers == replicas, (counts, replicas)


async def test_emits_flow_again_after_the_shard_primary_dies(cluster: RedisCluster) -> None:
    instances = Instances(cluster.url)
    heard = Hearing(instances.b)
    sender = Sender(instances.a)
    victim = cluster.primaries[owner(cluster, instances.channel)]

    async def kill_the_owner() -> None:
        victim.stop(signal.SIGKILL)  # its replica is promoted after the node timeout (1 s)
        await anyio.to_thread.run_sync(promoted, cluster, cluster.replicas[cluster.primaries.index(victim)])

    try:
        gap, lost, sent, settled = await across(heard, sender, kill_the_owner)
    finally:
        await instances.aclose()
    print(f"cluster failover: delivery stopped {gap:.2f}s, {lost} of {sent} emits lost, cluster ok again after {settled:.2f}s")
    assert instances.b.subscribed
    assert gap < 10.0


async def test_the_manager_finds_the_channels_owners_before_the_gateway_serves(cluster: RedisCluster) -> None:
    """A first emit held while its owner is looked up would reach sockets that joined the
    room after it was sent."""
    instances = Instances(cluster.url)
    publisher = instances.publishers[0]
    publisher._channels = (instances.channel, "presence:updates")  # as the container names them
    try:
        async with anyio.create_task_group() as tg:
            await tg.start(instances.a.run)
            await instances.a._publish(emit_message(instances.a, 0))
            publisher.publish_nowait("presence:updates", b"{}")
            assert publisher.held == 0  # both written at once, on their owners' connections
            publisher.publish_nowait("elsewhere", b"{}")
            assert publisher.held == 1  # an unknown channel waits for its owner
            tg.cancel_scope.cancel()
    finally:
        await instances.aclose()


async def test_owners_not_found_by_the_first_lookup_at_start_are_found_before_the_gateway_serves(
    cluster: RedisCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cluster too slow for the first lookup (its connect timeout, on a loaded machine)
    must not leave the first emits held: held, they reached the user's tab that opened on
    another instance after the change, as news of it."""
    instances = Instances(cluster.url)
    publisher = instances.publishers[0]
    publisher._channels = (instances.channel, "presence:updates")
    route, failed = publisher._route, list[set[str]]()

    async def slow_at_first(channels: set[str]) -> None:
        if not failed:
            failed.append(channels)
            raise TimeoutError("Timeout connecting to server")
        await route(channels)

    monkeypatch.setattr(publisher, "_route", slow_at_first)
    try:
        async with anyio.create_task_group() as tg:
            await tg.start(instances.a.run)
            assert failed  # the first lookup did fail
            await instances.a._publish(emit_message(instances.a, 0))
            assert publisher.held == 0  # written at once: nothing left to arrive late
            tg.cancel_scope.cancel()
    finally:
        await instances.aclose()
