"""The names the routing by interest needs from the key layout (``keys.py``): each
user's channel, and on a cluster the routes its publisher finds before serving."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from .keys import RedisKeys


def user_channels(keys: RedisKeys, prefix: str) -> Callable[[str], str]:
    """User id → the channel the instances interested in that user hear."""
    return partial(keys.user_channel, prefix)


def shard_routes(keys: RedisKeys, *channels: str) -> list[str]:
    """The fixed channels and one name per bucket's slot: every route a sharded publisher
    needs, looked up before the first publish (``shard_publisher.py``)."""
    return [*channels, *keys.bucket_tags()]
