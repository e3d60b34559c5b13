"""The change stream on Redis: a Redis Stream (``presence:changes``), each entry the JSON of
the ``presence:updates`` message (field ``change``), capped with ``MAXLEN ~``; and the
webhooks' consumer group on it.

One Redis: the XADD is written on the socket events' connection in the same write as the
PUBLISH of the same change (pipelined.py), so following the stream costs a socket event no
round trip. On a Redis Cluster the stream's slot has its own node: the XADD is awaited
through redis-py's cluster client.

The consumer group has one consumer name (``deliverer``) whoever delivers: the instance that
holds the lead (``presence:webhooks:leader``, SET PX) reads as it, so a new leader — another
instance, or this one restarted — starts with the entries its predecessor read and never
acknowledged (``XREADGROUP ... 0``), then goes on with new ones (``>``).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import orjson
from redis.exceptions import RedisError, ResponseError

from ...domain.ports import StreamEntry
from ...domain.presence import PresenceChanged
from .unavailable import translates_redis_errors
from .updates_publisher import updates_message

log = logging.getLogger(__name__)

FIELD = "change"
_ID = re.compile(r"(0|[0-9]{1,20}(-[0-9]{1,20})?)")
DEAD_LETTERS_KEPT = 100_000

# KEYS: the leader key. ARGV: 1 holder, 2 ttl ms. Held (or renewed) by one holder at a time.
LEAD = """
local held = redis.call('GET', KEYS[1])
if held and held ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""


def entry_of(entry_id: Any, fields: Any) -> StreamEntry | None:
    """A stream entry as the port gives it; None for one that is not a change (skipped)."""
    entry_id = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
    raw = fields.get(FIELD) if isinstance(fields, dict) else None
    if raw is None and isinstance(fields, dict):
        raw = fields.get(FIELD.encode())
    try:
        body = orjson.loads(raw) if raw is not None else None
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        return None
    return StreamEntry(entry_id, body, int(entry_id.split("-")[0]) / 1000)


def _entries(reply: Any) -> list[StreamEntry]:
    found = (entry_of(entry_id, fields) for entry_id, fields in reply or [])
    return [entry for entry in found if entry is not None]


class RedisChangeStream:
    """Appends every change others can see (a ``Broadcaster``) and reads them back."""

    def __init__(self, redis: Any, *, key: str, maxlen: int, instance: str, events: Any = None) -> None:
        self._redis = redis  # redis-py (one Redis or a cluster): reads, and the cluster's appends
        self._events = events  # one Redis: the pipelined connection the PUBLISH leaves on
        self.key = key
        self.maxlen = maxlen
        self._instance = instance
        self.appended = 0
        self.lost = 0  # appends Redis did not take (an outage): read by the metrics

    async def publish(self, change: PresenceChanged) -> None:
        if not change.public_changed:
            return
        message = orjson.dumps(updates_message(change, self._instance))
        command = ("XADD", self.key, "MAXLEN", "~", self.maxlen, "*", FIELD, message)
        try:
            if self._events is None or not self._events.send_nowait(*command):
                await (self._redis.execute_command(*command) if self._events is None else self._events.execute(*command))
        except RedisError as error:
            self.lost += 1
            if self.lost in (1, 10, 100) or self.lost % 1000 == 0:
                log.warning("change stream %s: %d changes not appended so far: %r", self.key, self.lost, error)
            return
        self.appended += 1

    def valid_id(self, entry_id: str) -> bool:
        return _ID.fullmatch(entry_id) is not None

    @translates_redis_errors
    async def read(self, after: str, limit: int) -> list[StreamEntry]:
        return _entries(await self._redis.xrange(self.key, min=f"({after}" if after != "0" else "-", count=limit))

    @translates_redis_errors
    async def length(self) -> int:
        return int(await self._redis.xlen(self.key))


class RedisDeliveryLog:
    """The webhooks' consumer group on the change stream (see the module)."""

    CONSUMER = "deliverer"

    def __init__(self, redis: Any, *, key: str, group: str = "presence-webhooks") -> None:
        self._redis = redis
        self._key = key
        self._group = group
        self._leader = f"{key}:webhooks:leader"
        self._dead = f"{key}:webhooks:dead"
        self._lead = redis.register_script(LEAD)
        self._group_made = False
        self._pending_read = True  # the predecessor's unacknowledged entries come first

    async def _ensure_group(self) -> None:
        if self._group_made:
            return
        try:
            # "$": a group made now follows what comes from now on, not the stream's past.
            await self._redis.xgroup_create(self._key, self._group, id="$", mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise
        self._group_made = True

    @translates_redis_errors
    async def follow(self) -> None:
        await self._ensure_group()

    @translates_redis_errors
    async def lead(self, holder: str, now: float, ttl: float) -> bool:
        held = bool(await self._lead(keys=[self._leader], args=[holder, int(ttl * 1000)]))
        if held:
            await self._ensure_group()
        else:
            self._pending_read = True
        return held

    @translates_redis_errors
    async def owed(self, limit: int) -> list[StreamEntry]:
        while self._pending_read:
            reply = await self._redis.xreadgroup(self._group, self.CONSUMER, {self._key: "0"}, count=limit)
            read = reply[0][1] if reply else []
            # An entry the cap trimmed before it was delivered comes back with no fields:
            # acknowledged (said in the log), or it would stay owed for ever.
            trimmed = [entry_id for entry_id, fields in read if not fields]
            if trimmed:
                log.warning("webhooks: %d changes were trimmed from %s before delivery", len(trimmed), self._key)
                await self._redis.xack(self._key, self._group, *trimmed)
            entries = _entries(read)
            if entries:
                return entries
            self._pending_read = bool(trimmed)
        reply = await self._redis.xreadgroup(self._group, self.CONSUMER, {self._key: ">"}, count=limit)
        return _entries(reply[0][1]) if reply else []

    @translates_redis_errors
    async def ack(self, entry_id: str) -> None:
        await self._redis.xack(self._key, self._group, entry_id)

    @translates_redis_errors
    async def dead_letter(self, entry: StreamEntry, reason: str) -> None:
        kept = orjson.dumps({"id": entry.id, "body": entry.body, "reason": reason[:255], "at": entry.at})
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.lpush(self._dead, kept)
            pipe.ltrim(self._dead, 0, DEAD_LETTERS_KEPT - 1)
            pipe.xack(self._key, self._group, entry.id)
            await pipe.execute()

    @translates_redis_errors
    async def dead_letters(self, limit: int) -> list[StreamEntry]:
        found = []
        for raw in await self._redis.lrange(self._dead, 0, limit - 1):
            kept = orjson.loads(raw)
            found.append(StreamEntry(kept["id"], kept["body"], kept["at"]))
        return found

    @translates_redis_errors
    async def replay_dead_letters(self, limit: int) -> int:
        """Each back on the stream as a new entry (a new id, the same ``seq``)."""
        replayed = 0
        for _ in range(limit):
            raw = await self._redis.rpop(self._dead)
            if raw is None:
                break
            body = orjson.loads(raw)["body"]
            await self._redis.execute_command("XADD", self._key, "*", FIELD, orjson.dumps(body))
            replayed += 1
        return replayed

    @translates_redis_errors
    async def pending(self) -> int:
        """Read and unacknowledged, plus not yet read. Redis's ``lag`` overcounts once the cap
        trimmed entries the group never read, so it is bounded by what the stream holds, and
        nothing is behind once the group has read up to the newest entry."""
        try:
            groups = await self._redis.xinfo_groups(self._key)
            stream = await self._redis.xinfo_stream(self._key)
        except ResponseError:
            return 0  # no stream yet
        for group in groups:
            if _text(group.get("name")) != self._group:
                continue
            pending = int(group.get("pending") or 0)
            if _text(group.get("last-delivered-id")) == _text(stream.get("last-generated-id")):
                return pending
            length = int(stream.get("length") or 0)
            lag = group.get("lag")
            return pending + (length if lag is None else min(int(lag), length))
        return 0


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
