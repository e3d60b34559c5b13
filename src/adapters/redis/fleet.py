"""Whether any other instance still serves, read from the lease registry.

At a clean stop the last instance settles the offline graces still pending (their users
go OFFLINE now): nobody else is left to settle them when they fall due. An instance that
is not the last leaves them to the survivors' sweepers, which settle them on time.
"""

from __future__ import annotations

from redis.asyncio import Redis

from .keys import RedisKeys


class RedisFleet:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def others_serving(self, now: float) -> bool:
        """Asked after this instance released its lease: a lease that has not lapsed is a
        live instance (a lapsed one is dead and its sessions are a survivor's to end)."""
        live = await self._redis.zcount(RedisKeys.instances(), f"({int(now * 1000)}", "+inf")
        return live > 0
