"""Publishes each change others can see on the Redis channel ``presence:updates``, so
backend services can follow presence without holding a socket (message in the README).

On a Redis Cluster the channel is sharded (``shard_publisher.py``): followers subscribe
with ``SSUBSCRIBE``, and only the shard owning the channel carries it."""

from __future__ import annotations

import logging
from typing import Any

import orjson

from ...domain.presence import PresenceChanged
from ..presence_payload import iso_timestamp, seen_fields
from .keys import UPDATES_CHANNEL
from .pipelined import PipelinedRedis
from .shard_publisher import ShardPublisher

log = logging.getLogger(__name__)

def updates_message(change: PresenceChanged, instance: str) -> dict[str, Any]:
    """The channel's message for a change others can see (the README shows one)."""
    return {
        "userId": change.user_id,
        "status": change.public,
        "previous": change.previous_public,
        "timestamp": iso_timestamp(change.at),
        "instance": instance,
        **seen_fields(change),
    }


class RedisUpdatesPublisher:
    def __init__(self, redis: PipelinedRedis | ShardPublisher, *, instance: str, channel: str = UPDATES_CHANNEL) -> None:
        self._redis = redis
        self._instance = instance
        self.channel = channel
        self.published = 0  # read by the metrics

    async def publish(self, change: PresenceChanged) -> None:
        if not change.public_changed:
            return  # only the user's own sockets saw a difference (e.g. INVISIBLE → OFFLINE)
        message = orjson.dumps(updates_message(change, self._instance))
        # Not awaited: the sockets have the change already, and a publish that cannot be
        # sent (Redis down) is lost for the channel's followers either way.
        self._redis.publish_nowait(self.channel, message)
        self.published += 1
