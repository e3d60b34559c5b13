"""python-socketio's Redis manager, on our blocking pool.

``AsyncRedisManager`` builds its own client with redis-py's default pool, which raises
once 100 connections are busy, and then drops the emit after two tries. The same URL and
pool settings as the presence store make a burst wait for a connection instead.
"""

from __future__ import annotations

import socketio

from .client import create_redis


class PooledRedisManager(socketio.AsyncRedisManager):
    def __init__(self, url: str, *, channel: str, pool_size: int) -> None:
        super().__init__(url, channel=channel)
        self._pool_size = pool_size

    def _redis_connect(self) -> None:
        # Bytes, as the manager compares channel names as bytes; no read timeout, as its
        # listener waits on the same client's pub/sub connection.
        self.redis = create_redis(self.redis_url, pool_size=self._pool_size, socket_timeout=None, decode_responses=False)
        self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        self.connected = True
