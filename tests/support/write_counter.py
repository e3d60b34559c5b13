"""Counting what reaches the durable table: rows as PostgreSQL wrote them, and statements
as the gateway sent them.

Rows are counted by an AFTER ROW trigger, which fires once per row actually inserted or
updated: an upsert that its ``updated_at`` guard turns away writes nothing and counts
nothing. Statements are counted on the engine, so a batch of 500 rows is one statement.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

_TRIGGER = [
    "CREATE TABLE row_writes (op text PRIMARY KEY, n bigint NOT NULL)",
    """
    CREATE FUNCTION count_row_write() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO row_writes VALUES (TG_OP, 1) ON CONFLICT (op) DO UPDATE SET n = row_writes.n + 1;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER count_row_writes AFTER INSERT OR UPDATE ON user_presence
    FOR EACH ROW EXECUTE FUNCTION count_row_write()
    """,
]


@dataclass
class Writes:
    inserted: int = 0
    updated: int = 0
    statements: int = 0

    @property
    def rows(self) -> int:
        return self.inserted + self.updated

    def __sub__(self, other: Writes) -> Writes:
        return Writes(self.inserted - other.inserted, self.updated - other.updated, self.statements - other.statements)


class WriteCounter:
    """Install on a migrated PostgreSQL schema (the engine's search path) before the writes."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self.statements = 0
        event.listen(engine.sync_engine, "before_cursor_execute", self._on_statement)

    def _on_statement(self, _conn, _cursor, statement: str, _params, _context, _executemany) -> None:
        words = statement.lstrip().split(None, 3)[:3]
        if words[:3] == ["INSERT", "INTO", "user_presence"] or words[:2] == ["UPDATE", "user_presence"]:
            self.statements += 1

    async def install(self) -> WriteCounter:
        async with self._engine.begin() as connection:
            for statement in _TRIGGER:
                await connection.execute(text(statement))
        return self

    async def read(self) -> Writes:
        async with self._engine.connect() as connection:
            counts: dict[str, int] = dict((await connection.execute(text("SELECT op, n FROM row_writes"))).all())
        return Writes(counts.get("INSERT", 0), counts.get("UPDATE", 0), self.statements)
