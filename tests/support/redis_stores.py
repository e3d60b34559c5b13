"""Redis presence stores wired as the gateway wires them: redis-py's pool for sweeps and
pipelines, the pipelined connection for the socket events (``pipelined.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from presence_gateway.adapters.redis.client import create_redis, create_redis_cluster
from presence_gateway.adapters.redis.cluster_events import ClusterPipelinedRedis
from presence_gateway.adapters.redis.cluster_url import is_cluster_url
from presence_gateway.adapters.redis.keys import RedisKeys
from presence_gateway.adapters.redis.pipelined import PipelinedRedis
from presence_gateway.adapters.redis.presence_store import RedisPresenceStore
from presence_gateway.domain.statuses import default_registry


def redis_client(url: str, **options: Any) -> Any:
    """A client for the tests' Redis, a cluster's for a ``redis+cluster://`` URL (the tests
    are handed either; the gateway's wiring knows which it has)."""
    return create_redis_cluster(url, **options) if is_cluster_url(url) else create_redis(url, **options)


@asynccontextmanager
async def redis_stores(
    url: str, *instances: str, pool_size: int = 64, keys: RedisKeys | None = None, **options: Any
) -> AsyncIterator[dict[str, RedisPresenceStore]]:
    """One store per instance name, each with clients of its own, scripts loaded. A
    ``redis+cluster://`` URL gives the cluster's clients and key layout; ``options`` go to
    every store (a clock, the shown decays)."""
    if keys is None and is_cluster_url(url):
        keys = RedisKeys(cluster=True)
    hidden = default_registry().seen_offline()
    clients = []
    stores = {}
    try:
        for instance in instances:
            client = redis_client(url, pool_size=pool_size)
            events = ClusterPipelinedRedis(url) if is_cluster_url(url) else PipelinedRedis(url)
            clients += [client, events]
            stores[instance] = RedisPresenceStore(
                client, instance=instance, session_ttl=90.0, hidden_statuses=hidden, keys=keys, events=events, **options
            )
            await stores[instance].load_scripts()
        yield stores
    finally:
        for client in clients:
            await client.aclose()
