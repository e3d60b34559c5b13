"""The Redis client every Redis adapter shares: a pool that waits instead of failing.

redis-py's asyncio pool raises at once when its 100 connections are busy; in a burst (a
thousand sockets disconnecting together) that silently skipped cleanups. A blocking pool
of a fixed size makes the burst queue for a connection instead.
"""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis

from .circuit import CircuitBreakingPool, RedisCircuit


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
    ``circuit``, commands are refused at once while Redis is known to be down."""
    pool_class = BlockingConnectionPool if circuit is None else CircuitBreakingPool
    extra = {} if circuit is None else {"circuit": circuit}
    pool = pool_class.from_url(
        url,
        **extra,
        max_connections=pool_size,
        timeout=pool_timeout,
        socket_timeout=socket_timeout,
        socket_connect_timeout=connect_timeout,
        health_check_interval=30,
        decode_responses=decode_responses,
    )
    return Redis(connection_pool=pool)
