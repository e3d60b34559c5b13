"""The Redis client every Redis adapter shares: a pool that waits instead of failing.

redis-py's asyncio pool raises at once when its 100 connections are busy; in a burst (a
thousand sockets disconnecting together) that silently skipped cleanups. A blocking pool
of a fixed size makes the burst queue for a connection instead.

A Sentinel URL (``sentinel.py``) gives the same pool, whose connections find the current
primary each time they connect.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster

from .circuit import CircuitBreakingPool, RedisCircuit
from .cluster_url import is_cluster_url, parse_cluster_url
from .sentinel import MasterConnection, SentinelMaster, sentinel_address


def create_redis(
    url: str,
    *,
    pool_size: int = 64,
    pool_timeout: float = 5.0,
    socket_timeout: float | None = 2.0,
    connect_timeout: float = 2.0,
    decode_responses: bool = True,
    circuit: RedisCircuit | None = None,
) -> Redis:
    """``socket_timeout`` bounds a slow Redis: an event fails fast with ``unavailable``
    rather than hanging (None for a pub/sub connection, which waits by design). With a
    ``circuit``, commands are refused at once while Redis is known to be down.

    One Redis, or the primary Sentinel names; a Redis Cluster is ``create_redis_cluster``'s
    (the wiring knows which it has: a cluster URL here is refused, not guessed at)."""
    if is_cluster_url(url):
        raise ValueError("a redis+cluster:// URL names a Redis Cluster: use create_redis_cluster")
    pool_class = BlockingConnectionPool if circuit is None else CircuitBreakingPool
    extra = {} if circuit is None else {"circuit": circuit}
    options: dict[str, Any] = dict(
        extra,
        max_connections=pool_size,
        timeout=pool_timeout,
        socket_timeout=socket_timeout,
        socket_connect_timeout=connect_timeout,
        health_check_interval=30,
        decode_responses=decode_responses,
    )
    sentinel = sentinel_address(url)
    if sentinel is None:
        return Redis(connection_pool=pool_class.from_url(url, **options))
    pool = pool_class(
        connection_class=MasterConnection,
        master=SentinelMaster(sentinel, timeout=connect_timeout),
        db=sentinel.db,
        username=sentinel.username,
        password=sentinel.password,
        **options,
    )
    return Redis(connection_pool=pool)


def create_redis_cluster(
    url: str,
    *,
    pool_size: int = 64,
    socket_timeout: float | None = 2.0,
    connect_timeout: float = 2.0,
    decode_responses: bool = True,
) -> Any:
    """redis-py's ``RedisCluster`` on the nodes of a ``redis+cluster://`` URL, ``pool_size``
    connections per node."""
    address = parse_cluster_url(url)
    return RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in address.nodes],
        username=address.username,
        password=address.password,
        ssl=address.tls,
        max_connections=pool_size,
        socket_timeout=socket_timeout,
        socket_connect_timeout=connect_timeout,
        decode_responses=decode_responses,
    )

def pubsub_client(url: str, *, pool_size: int, circuit: RedisCircuit | None = None, cluster: bool = False) -> Any:
    """The manager's client: bytes, as the manager compares channel names as bytes."""
    if cluster:
        return create_redis_cluster(url, pool_size=pool_size, decode_responses=False)
    return create_redis(url, pool_size=pool_size, decode_responses=False, circuit=circuit)
