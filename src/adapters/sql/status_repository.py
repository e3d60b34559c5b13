"""StatusRepository on SQLAlchemy 2 async; the same statements serve SQLite and PostgreSQL.

Writes are upserts guarded by ``updated_at``: a record completing late (another instance,
a retry after an outage) never overwrites a newer one. The table itself is the
migrations' (``migrate.py``).

A write the database refuses for what a record holds is raised as ``RecordRejected``, so
the writer sets that record aside instead of retrying the batch forever (an outage is
raised as it comes, and retried).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, Table, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DataError, IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine

from ...domain.errors import RecordRejected
from ...domain.presence import DurableStatus
from ...domain.rich_presence import CustomStatus
from .batches import chunks
from .schema import user_presence

# Both dialects' inserts have on_conflict_do_update (the generic Insert has not).
_INSERTS: dict[str, Callable[[Table], Any]] = {"sqlite": sqlite_insert, "postgresql": postgresql_insert}
WRITE_SLICE = 50


def _to_datetime(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def _to_timestamp(value: datetime | None) -> float | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite keeps no zone; everything stored is UTC
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


# SQLSTATE classes 22 (data exception: a NUL byte, a lone surrogate) and 23 (integrity).
_REFUSED_CLASSES = ("22", "23")


def refused_content(error: BaseException) -> bool:
    """Whether ``error`` says the database (or its driver, encoding the parameters)
    refused a value, rather than that it could not be reached."""
    if isinstance(error, (DataError, IntegrityError, UnicodeError, ValueError, OverflowError)):
        return True
    if isinstance(error, StatementError):
        orig = error.orig
        state = str(getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or "")
        if state[:2] in _REFUSED_CLASSES:
            return True
        return orig is not None and isinstance(orig, (UnicodeError, ValueError, OverflowError))
    return False


def _record(row: Row[Any]) -> DurableStatus:
    custom = None
    if row.custom_text is not None:  # rows from before the custom status have none
        custom = CustomStatus(row.custom_text, row.custom_emoji, _to_timestamp(row.custom_expires_at))
    return DurableStatus(
        user_id=row.user_id,
        status=row.status,
        chosen=row.chosen_status,
        last_seen=_to_timestamp(row.last_seen_at),
        at=_to_timestamp(row.updated_at) or 0.0,
        custom=custom,
        custom_known=True,
    )


_CUSTOM_COLUMNS = ("custom_text", "custom_emoji", "custom_expires_at")


def _custom_columns(custom: CustomStatus | None) -> dict[str, object]:
    if custom is None:
        return dict.fromkeys(_CUSTOM_COLUMNS)
    return {
        "custom_text": custom.text,
        "custom_emoji": custom.emoji,
        "custom_expires_at": _to_datetime(custom.expires_at),
    }


class SqlStatusRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        try:
            insert = _INSERTS[engine.dialect.name]
        except KeyError:
            raise ValueError(f"unsupported database {engine.dialect.name!r}: use SQLite or PostgreSQL") from None
        t = user_presence
        stmt = insert(t)
        excluded = stmt.excluded
        updates = {
            "status": excluded.status,
            "chosen_status": excluded.chosen_status,
            "last_seen_at": func.coalesce(excluded.last_seen_at, t.c.last_seen_at),
            "updated_at": excluded.updated_at,
            **{name: getattr(excluded, name) for name in _CUSTOM_COLUMNS},
        }
        newer = t.c.updated_at <= excluded.updated_at
        # A record whose choice is unknown (the store could not learn it) keeps the stored
        # one; one that did not move the custom status keeps the stored custom status.
        self._upserts: dict[tuple[bool, bool], Any] = {}
        for chosen_known in (True, False):
            for custom_known in (True, False):
                kept = set() if chosen_known else {"chosen_status"}
                if not custom_known:
                    kept |= set(_CUSTOM_COLUMNS)
                written = {k: v for k, v in updates.items() if k not in kept}
                self._upserts[chosen_known, custom_known] = stmt.on_conflict_do_update(
                    index_elements=[t.c.user_id], set_=written, where=newer
                )

    async def get(self, user_id: str) -> DurableStatus | None:
        t = user_presence
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(t).where(t.c.user_id == user_id))).first()
        return None if row is None else _record(row)

    async def get_many(self, user_ids: Sequence[str]) -> dict[str, DurableStatus]:
        t = user_presence
        records: dict[str, DurableStatus] = {}
        async with self._engine.connect() as conn:
            for chunk in chunks(user_ids):
                for row in await conn.execute(select(t).where(t.c.user_id.in_(chunk))):
                    records[row.user_id] = _record(row)
        return records

    async def save_many(self, records: Iterable[DurableStatus]) -> None:
        rows: dict[tuple[bool, bool], list[dict[str, object]]] = {kind: [] for kind in self._upserts}
        for r in records:
            rows[r.chosen_known, r.custom_known].append(
                {
                    "user_id": r.user_id,
                    "status": r.status,
                    "chosen_status": r.chosen if r.chosen_known else None,
                    "last_seen_at": _to_datetime(r.last_seen),
                    "updated_at": _to_datetime(r.at),
                    **_custom_columns(r.custom if r.custom_known else None),
                }
            )
        if not any(rows.values()):
            return
        # One transaction, written a slice at a time: preparing a slice's parameters runs
        # on the event loop, and a slice of WRITE_SLICE rows holds it well under a
        # millisecond, where a whole batch of 500 held it for several.
        try:
            async with self._engine.begin() as conn:
                for kind, statement in self._upserts.items():
                    for part in chunks(rows[kind], WRITE_SLICE):
                        await conn.execute(statement, part)
        except Exception as error:
            if refused_content(error):
                raise RecordRejected(str(error).splitlines()[0][:200]) from error
            raise

    async def remembered_choices(self) -> AsyncIterator[tuple[str, str | None, CustomStatus | None]]:
        t = user_presence
        query = select(t.c.user_id, t.c.chosen_status, *(t.c[name] for name in _CUSTOM_COLUMNS)).where(
            or_(t.c.chosen_status.is_not(None), t.c.custom_text.is_not(None))
        )
        async with self._engine.connect() as conn:
            result = await conn.stream(query.execution_options(yield_per=1000))
            async for user_id, chosen, text, emoji, expires in result:
                custom = None if text is None else CustomStatus(text, emoji, _to_timestamp(expires))
                yield user_id, chosen, custom

    async def mark_all_offline(self, offline: str, at: float) -> int:
        t = user_presence
        when = _to_datetime(at)
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(t)
                .where(t.c.status != offline, t.c.updated_at <= when)
                .values(status=offline, last_seen_at=when, updated_at=when)
            )
        return result.rowcount or 0
