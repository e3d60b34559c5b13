"""The change stream of the embedded default, in its database (``presence_changes``): the
same entries as the Redis Stream, the id a growing integer. And the webhooks' consumer
group on it (``presence_webhook_cursor``: how far delivery got; ``presence_webhook_dead``).

A socket event never waits on the database: a change is queued in memory (bounded) and
written in batches by ``run``; a read writes what is queued first, so a reader sees every
change made before it asked. Past ``maxlen`` rows the oldest are deleted (a tenth over at
most), as ``MAXLEN ~`` trims the Redis Stream.
"""

from __future__ import annotations

import logging
from collections import deque

import anyio
import orjson
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ...domain.ports import Clock, StreamEntry
from ...domain.presence import PresenceChanged
from ..redis.updates_publisher import updates_message
from .schema import presence_changes, presence_webhook_cursor, presence_webhook_dead

log = logging.getLogger(__name__)

MAX_QUEUED = 100_000  # changes held while the database does not take them
WRITE_BATCH = 500
MAX_ID_DIGITS = 19
TRIM_SHARE = 10  # trimmed each time a tenth of maxlen was written: about 1.1 x maxlen rows at most


def _entry(row: object) -> StreamEntry:
    return StreamEntry(str(row.id), orjson.loads(row.body), row.created_at)  # type: ignore[attr-defined]


class SqlChangeStream:
    def __init__(self, engine: AsyncEngine, clock: Clock, *, maxlen: int, instance: str) -> None:
        self._engine = engine
        self._clock = clock
        self.maxlen = maxlen
        self._instance = instance
        self._queue: deque[dict[str, object]] = deque()
        self._queued = anyio.Event()
        self._lock = anyio.Lock()
        self._since_trim = 0
        self.appended = 0
        self.lost = 0  # dropped from a full queue (the database away for long): metrics

    async def publish(self, change: PresenceChanged) -> None:
        if not change.public_changed:
            return
        if len(self._queue) >= MAX_QUEUED:
            self._queue.popleft()
            self.lost += 1
            if self.lost in (1, 100) or self.lost % 10_000 == 0:
                log.warning("change stream: %d changes dropped, the database is not taking them", self.lost)
        body = orjson.dumps(updates_message(change, self._instance)).decode()
        self._queue.append({"user_id": change.user_id, "body": body, "created_at": change.at})
        self._queued.set()

    async def flush(self) -> int:
        """Write what is queued; how many rows. On a failure the rows stay queued."""
        written = 0
        async with self._lock:
            while self._queue:
                rows = [self._queue[i] for i in range(min(WRITE_BATCH, len(self._queue)))]
                async with self._engine.begin() as conn:
                    await conn.execute(insert(presence_changes), rows)
                for _ in rows:
                    self._queue.popleft()
                written += len(rows)
                self.appended += len(rows)
                self._since_trim += len(rows)
                if self._since_trim >= max(1, self.maxlen // TRIM_SHARE):
                    await self._trim()
                    self._since_trim = 0
        return written

    async def _trim(self) -> None:
        t = presence_changes
        async with self._engine.begin() as conn:
            newest = (await conn.execute(select(func.max(t.c.id)))).scalar()
            if newest is not None and newest > self.maxlen:
                await conn.execute(delete(t).where(t.c.id <= newest - self.maxlen))

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        failing = False
        while True:
            await self._queued.wait()
            self._queued = anyio.Event()
            try:
                await self.flush()
                failing = False
            except Exception as error:
                if not failing:
                    log.warning("change stream not written, retrying: %r", error)
                failing = True
                self._queued.set()
                await anyio.sleep(1.0)  # the database is away: try again in a second

    async def aclose(self) -> None:
        """At stop: what is queued is written (a last try)."""
        try:
            await self.flush()
        except Exception as error:
            log.warning("change stream: %d changes not written at stop: %r", len(self._queue), error)

    def now(self) -> float:
        return self._clock.now()

    def valid_id(self, entry_id: str) -> bool:
        return entry_id.isdigit() and len(entry_id) <= MAX_ID_DIGITS

    async def read(self, after: str, limit: int) -> list[StreamEntry]:
        await self.flush()
        t = presence_changes
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(t).where(t.c.id > int(after)).order_by(t.c.id).limit(limit))
            return [_entry(row) for row in rows]

    async def length(self) -> int:
        async with self._engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(presence_changes))).scalar_one())


class SqlDeliveryLog:
    """The consumer group: a cursor row (``last_id``, the leader and its lease)."""

    def __init__(self, engine: AsyncEngine, stream: SqlChangeStream, *, consumer: str = "webhooks") -> None:
        self._engine = engine
        self._stream = stream
        self._consumer = consumer
        self._followed = False

    async def follow(self) -> None:
        if self._followed:
            return
        c = presence_webhook_cursor
        await self._stream.flush()
        async with self._engine.begin() as conn:
            if (await conn.execute(select(c.c.consumer).where(c.c.consumer == self._consumer))).first() is None:
                # A consumer made now follows what comes from now on, not the stream's past.
                newest = (await conn.execute(select(func.max(presence_changes.c.id)))).scalar() or 0
                await conn.execute(insert(c).values(consumer=self._consumer, last_id=newest, leader=None, lead_until=0.0))
        self._followed = True

    async def lead(self, holder: str, now: float, ttl: float) -> bool:
        c = presence_webhook_cursor
        await self.follow()  # made at start; here too, for a log no start step opened
        async with self._engine.begin() as conn:
            moved = await conn.execute(
                update(c)
                .where(c.c.consumer == self._consumer)
                .where((c.c.leader == holder) | (c.c.lead_until < now) | c.c.leader.is_(None))
                .values(leader=holder, lead_until=now + ttl)
            )
            return bool(moved.rowcount)

    async def _last_id(self, conn: object) -> int:
        c = presence_webhook_cursor
        value = (await conn.execute(select(c.c.last_id).where(c.c.consumer == self._consumer))).scalar()  # type: ignore[attr-defined]
        return int(value or 0)

    async def owed(self, limit: int) -> list[StreamEntry]:
        await self._stream.flush()
        t = presence_changes
        async with self._engine.connect() as conn:
            last = await self._last_id(conn)
            rows = await conn.execute(select(t).where(t.c.id > last).order_by(t.c.id).limit(limit))
            return [_entry(row) for row in rows]

    async def ack(self, entry_id: str) -> None:
        c = presence_webhook_cursor
        async with self._engine.begin() as conn:
            await conn.execute(
                update(c).where(c.c.consumer == self._consumer).where(c.c.last_id < int(entry_id)).values(last_id=int(entry_id))
            )

    async def dead_letter(self, entry: StreamEntry, reason: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(presence_webhook_dead).values(
                    id=int(entry.id), body=orjson.dumps(entry.body).decode(), reason=reason[:255], created_at=entry.at
                )
            )
        await self.ack(entry.id)

    async def dead_letters(self, limit: int) -> list[StreamEntry]:
        d = presence_webhook_dead
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(d).order_by(d.c.id).limit(limit))
            return [_entry(row) for row in rows]

    async def replay_dead_letters(self, limit: int) -> int:
        """Each back on the stream as a new entry (a new id, the same ``seq``)."""
        d = presence_webhook_dead
        async with self._engine.begin() as conn:
            rows = list(await conn.execute(select(d).order_by(d.c.id).limit(limit)))
            for row in rows:
                body = orjson.loads(row.body)
                await conn.execute(
                    insert(presence_changes).values(
                        user_id=str(body.get("userId", "")), body=row.body, created_at=self._stream.now()
                    )
                )
                await conn.execute(delete(d).where(d.c.id == row.id))
        return len(rows)

    async def pending(self) -> int:
        await self._stream.flush()
        t = presence_changes
        async with self._engine.connect() as conn:
            last = await self._last_id(conn)
            return int((await conn.execute(select(func.count()).select_from(t).where(t.c.id > last))).scalar_one())
