"""Extends ``socketio_redis_manager.PooledRedisManager`` (python-socketio 5.18.1's
``AsyncRedisManager``, which has no cluster support) for a Redis Cluster, through a
sharded channel.

python-socketio has no cluster manager. On a cluster a plain ``PUBLISH`` is copied to
every node over the cluster bus, so each message costs every primary and replica; a
sharded channel (Redis 7: ``SPUBLISH`` / ``SSUBSCRIBE``) lives on the shard owning its
slot, and only that shard carries it. This is ``PooledRedisManager`` — its emits, its
listener that cannot go deaf, its dropping of this instance's own emits — with three
differences: the listener subscribes with ``SSUBSCRIBE`` through redis-py's cluster
client, emits leave through ``ShardPublisher`` (``SPUBLISH`` to the owner, buffered and
not awaited), and after a loss the listener refreshes the slot map before subscribing
again, so a failover sends it to the promoted replica. Redis ends a sharded subscription
itself (``sunsubscribe``) when the slot leaves the node; that too means subscribe again.

Every instance must use the same channel name, hence the same shard: one shard carries
all of a fleet's cross-instance emits, as one Redis does without a cluster.
"""

from __future__ import annotations

from typing import Any, Protocol

import anyio
from redis.asyncio.cluster import RedisCluster

from .socketio_redis_manager import PooledRedisManager, Publishes


class ShardPublishes(Publishes, Protocol):
    """Publishes through the shard owning each channel, once it knows the owners
    (the adapters' ``ShardPublisher``)."""

    async def prepare(self) -> None: ...


class ClusterRedisManager(PooledRedisManager):
    # A failover takes the cluster's node timeout and an election (seconds): try often,
    # so the listener is back soon after the promoted replica serves the slot.
    RETRY_MAX = 0.5
    MESSAGE = "smessage"
    UNSUBSCRIBED = "sunsubscribe"

    def __init__(self, client: RedisCluster, *, channel: str, events: ShardPublishes) -> None:
        super().__init__(client, channel=channel, events=events)  # type: ignore[arg-type]
        self._shards = events

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        await self._shards.prepare()  # routes known before the first emit (shard_publisher.py)
        await super().run(task_status=task_status)

    def _new_pubsub(self) -> Any:
        return self.redis.pubsub(ignore_subscribe_messages=False)

    async def _subscribe(self, pubsub: Any) -> None:
        await self.redis.initialize()  # the slot map, once
        await pubsub.ssubscribe(self.channel)

    async def _get_message(self, pubsub: Any, timeout: float) -> dict[str, Any] | None:
        return await pubsub.get_sharded_message(ignore_subscribe_messages=False, timeout=timeout)

    async def _ping(self, pubsub: Any) -> None:
        for node_pubsub in list(pubsub.node_pubsub_mapping.values()):
            await node_pubsub.ping()

    async def _after_loss(self) -> None:
        try:
            await self.redis.nodes_manager.initialize()  # the slot map as it is now
        except Exception:  # no node answers yet: the next subscription fails and retries
            pass
