"""What the server API reads from Redis beyond the watchers' states: each socket of a
user (its hash ``presence:{userId}:{socketId}``), the live instances and their socket
counts, the users online; and the blocks of disconnected users (``presence:blocked:{userId}``).

Costs, for docs/server-api.md: a user's sockets are two round trips (the socket set, then
every socket's hash and the grace marker pipelined); the instances are one ZRANGE and one
ZCARD per instance (and per bucket in the cluster layout), pipelined; the users online are
read from the instances' session indexes, so they cost O(sockets).
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from ...domain.ports import InstanceCount, SessionDetail, UserSessions
from ...domain.presence import Transition, Update
from .keys import RedisKeys, split_member
from .presence_store import RedisPresenceStore
from .unavailable import translates_redis_errors

MAX_SOCKETS_READ = 1000  # a user's sockets listed at most (the per-user bound is far below)


def _seconds(value: Any) -> float:
    try:
        return int(value) / 1000
    except (TypeError, ValueError):
        return 0.0


class RedisServerReads:
    def __init__(self, redis: Redis, store: RedisPresenceStore, keys: RedisKeys, *, instance: str) -> None:
        self._redis = redis
        self._store = store
        self._keys = keys
        self.instance = instance
        self._started = f"{store.instance_registry}:started"

    @translates_redis_errors
    async def announce(self, started_at: float) -> None:
        """Note when this instance started (for /stats), next to the instance registry."""
        await self._redis.hset(self._started, self.instance, int(started_at * 1000))

    @translates_redis_errors
    async def sessions_of(self, user_id: str) -> UserSessions:
        k = self._keys
        members: Any = await self._redis.smembers(k.sockets(user_id))
        session_ids = sorted(str(member) for member in members)[:MAX_SOCKETS_READ]
        async with self._redis.pipeline(transaction=False) as pipe:
            for session_id in session_ids:
                pipe.hgetall(k.session(user_id, session_id))
            pipe.hgetall(k.devices(user_id))
            pipe.get(k.leaving(user_id))
            replies = await pipe.execute()
        devices, leaving = replies[-2], replies[-1]
        ttl = self._store.session_ttl
        details = []
        for session_id, fields in zip(session_ids, replies, strict=False):
            if not fields:
                continue  # expired between the two reads
            state = str(devices.get(session_id, "")).partition("\x1f")[2] or "ONLINE"
            details.append(
                SessionDetail(
                    session_id, str(fields.get("device", "")), str(fields.get("instance", "")),
                    _seconds(fields.get("connectedAt")), _seconds(fields.get("expiresAt")) - ttl, state,
                )
            )
        grace = _seconds(leaving) if leaving and not details else None
        return UserSessions(details, grace)

    @translates_redis_errors
    async def instances(self) -> list[InstanceCount]:
        registry = self._store.instance_registry
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zrange(registry, 0, -1)
            pipe.hgetall(self._started)
            names, started = await pipe.execute()
        names = sorted(names)
        indexes = {name: self._store.session_indexes(name) for name in names}
        async with self._redis.pipeline(transaction=False) as pipe:
            for name in names:
                for index in indexes[name]:
                    pipe.zcard(index)
            counts = iter(await pipe.execute())
        result = []
        for name in names:
            sockets = sum(next(counts) for _ in indexes[name])
            at = started.get(name)
            result.append(InstanceCount(name, sockets, _seconds(at) if at is not None else None))
        return result

    @translates_redis_errors
    async def online_users(self, limit: int) -> list[str]:
        users: dict[str, None] = {}
        names: Any = await self._redis.zrange(self._store.instance_registry, 0, -1)
        for name in names:
            for index in self._store.session_indexes(str(name)):
                members: Any = await self._redis.zrange(index, 0, limit)
                for member in members:
                    users[split_member(member)[0]] = None
                    if len(users) >= limit:
                        return list(users)
        return list(users)

    async def end_grace(self, user_id: str) -> Transition | None:
        return await self._store.end_grace(user_id)

    async def impose(self, user_id: str, update: Update) -> Transition:
        return await self._store.impose(user_id, update)


class RedisUserBlocks:
    """``presence:blocked:{userId}`` until the block ends (PXAT): it expires by itself."""

    def __init__(self, redis: Any, keys: RedisKeys) -> None:
        self._redis = redis
        self._keys = keys

    @translates_redis_errors
    async def block(self, user_id: str, until: float) -> None:
        await self._redis.set(self._keys.blocked(user_id), "1", pxat=int(until * 1000))

    @translates_redis_errors
    async def blocked(self, user_id: str, now: float) -> bool:
        return bool(await self._redis.exists(self._keys.blocked(user_id)))
