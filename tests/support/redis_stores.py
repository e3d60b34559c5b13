"""Redis presence stores wired as the gateway wires them: redis-py's pool for sweeps and
pipelines, the pipelined connection for the socket events (``pipelined.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from presence_gateway.adapters.redis.client import create_events, create_redis
from presence_gateway.adapters.redis.cluster_url import is_cluster_url
from presence_gateway.adapters.redis.keys import RedisKeys
from presence_gateway.adapters.redis.presence_store import RedisPresenceStore
from presence_gateway.domain.statuses import default_registry


@asynccontextmanager
async def redis_stores(
    url: str, *instances: str, pool_size: int = 64, keys: RedisKeys | None = None
) -> AsyncIterator[dict[str, RedisPresenceStore]]:
    """One store per instance name, each with clients of its own, scripts loaded. A
    ``redis+cluster://`` URL gives the cluster's clients and key layout."""
    if keys is None and is_cluster_url(url):
        keys = RedisKeys(cluster=True)
    hidden = default_registry().seen_offline()
    clients = []
    stores = {}
    try:
        for instance in instances:
            client, events = create_redis(url, pool_size=pool_size), create_events(url)
            clients += [client, events]
            stores[instance] = RedisPresenceStore(
                client, instance=instance, session_ttl=90.0, hidden_statuses=hidden, keys=keys, events=events
            )
            await stores[instance].load_scripts()
        yield stores
    finally:
        for client in clients:
            await client.aclose()
