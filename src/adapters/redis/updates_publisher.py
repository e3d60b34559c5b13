"""Publishes each change others can see on the Redis channel ``presence:updates``, so
backend services can follow presence without holding a socket (message in the README)."""

from __future__ import annotations

import logging

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from ...domain.presence import PresenceChanged
from ..socketio.broadcaster import iso_timestamp

log = logging.getLogger(__name__)

UPDATES_CHANNEL = "presence:updates"


class RedisUpdatesPublisher:
    def __init__(self, redis: Redis, *, instance: str, channel: str = UPDATES_CHANNEL) -> None:
        self._redis = redis
        self._instance = instance
        self.channel = channel
        self.published = 0  # read by the metrics

    async def publish(self, change: PresenceChanged) -> None:
        if not change.public_changed:
            return  # only the user's own sockets saw a difference (e.g. INVISIBLE → OFFLINE)
        message = orjson.dumps(
            {
                "userId": change.user_id,
                "status": change.public,
                "previous": change.previous_public,
                "timestamp": iso_timestamp(change.at),
                "instance": self._instance,
            }
        )
        try:
            await self._redis.publish(self.channel, message)
            self.published += 1
        except RedisError as error:
            # The sockets have the change already; followers of the channel miss this one.
            log.warning("could not publish %s on %s: %r", change.user_id, self.channel, error)
