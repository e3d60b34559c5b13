"""Alembic, run from code on the gateway's async engine.

The migration scripts ship inside the package (``migrations/``) and are found through
importlib resources, so an installed gateway migrates without a checkout or an ini file.
Alembic is synchronous: it runs inside ``AsyncConnection.run_sync``, which lends it the
async engine's connection (asyncpg or aiosqlite) for the few statements a migration takes.

Processes starting together (hypercorn's workers) migrate one at a time; the later ones
find the work done. PostgreSQL serializes them with an advisory lock. SQLite has none, and
two processes upgrading one fresh file deadlock on its write lock ("database is locked"
kills one of them), so there an exclusive lock on a file beside the database is held from
the first connection to the last statement.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

SCRIPT_LOCATION = "presence_gateway.adapters.sql:migrations"
# Not alembic's default ``alembic_version``: DATABASE_URL may well be the chat backend's
# own database, whose migrations keep their history in that table.
VERSION_TABLE = "presence_gateway_alembic_version"
# PostgreSQL advisory lock key ("presence" in ASCII) held while migrating.
MIGRATION_LOCK = 0x70726573656E6365
# Beside a SQLite database ``x.sqlite3``: ``x.sqlite3-migrate.lock``.
SQLITE_LOCK_SUFFIX = "-migrate.lock"
# How often a process waiting for another's SQLite migration tries the lock again.
SQLITE_LOCK_RETRY = 0.05


class DatabaseNotReady(Exception):
    """The gateway cannot serve on this database as it is; the message says what to do."""


@dataclass(frozen=True)
class SchemaRevision:
    current: str | None
    head: str
    known: bool

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head

    def describe(self) -> str:
        if self.current is None:
            return f"no presence schema yet (this gateway needs revision {self.head})"
        if not self.known:
            return f"revision {self.current}, unknown to this gateway (written by a newer one?); it needs {self.head}"
        if self.up_to_date:
            return f"revision {self.head}, up to date"
        return f"revision {self.current}, behind this gateway's {self.head}"


def _only_steps(record: logging.LogRecord) -> bool:
    return record.getMessage().startswith("Running ")


def _config(connection: Connection | None = None) -> Config:
    # Alembic names its dialect each time a migration context opens, at every start;
    # only the migrations it runs are worth a log line.
    steps = logging.getLogger("alembic.runtime.migration")
    if _only_steps not in steps.filters:
        steps.addFilter(_only_steps)
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.attributes["connection"] = connection
    return config


def _revision(connection: Connection) -> SchemaRevision:
    script = ScriptDirectory.from_config(_config())
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    current = context.get_current_revision()
    known = current is None or current in {r.revision for r in script.walk_revisions()}
    return SchemaRevision(current=current, head=script.get_current_head() or "", known=known)


async def revision(engine: AsyncEngine) -> SchemaRevision:
    async with engine.connect() as connection:
        return await connection.run_sync(_revision)


def sqlite_lock_path(engine: AsyncEngine) -> str | None:
    """The lock file of a SQLite database file; None for PostgreSQL and in-memory SQLite."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database + SQLITE_LOCK_SUFFIX


@contextlib.asynccontextmanager
async def _one_process_at_a_time(engine: AsyncEngine) -> AsyncIterator[None]:
    path = sqlite_lock_path(engine)
    if path is None:
        yield  # PostgreSQL: the advisory lock, inside the upgrade's transaction
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                await anyio.sleep(SQLITE_LOCK_RETRY)  # another process is migrating; its upgrade takes ms
        yield
    finally:
        os.close(fd)  # releases the lock


async def _upgrade(engine: AsyncEngine, target: str) -> None:
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Instances starting together take turns; the later ones find the work done.
            await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        await connection.run_sync(lambda sync: command.upgrade(_config(sync), target))


async def upgrade(engine: AsyncEngine, target: str = "head") -> None:
    async with _one_process_at_a_time(engine):
        await _upgrade(engine, target)


async def downgrade(engine: AsyncEngine, target: str) -> None:
    async with _one_process_at_a_time(engine):
        async with engine.begin() as connection:
            await connection.run_sync(lambda sync: command.downgrade(_config(sync), target))


async def prepare(engine: AsyncEngine, *, may_upgrade: bool, where: str) -> tuple[SchemaRevision, SchemaRevision]:
    """Bring the schema to this gateway's head, or (``may_upgrade=False``) only check that
    it is there; returns the revision before and after. ``where`` names the database in
    messages (without its password)."""
    try:
        async with _one_process_at_a_time(engine):
            before = await revision(engine)
            if before.up_to_date:
                return before, before
            if not before.known:
                raise DatabaseNotReady(f"the database {where} has {before.describe()}; this gateway leaves it alone")
            if not may_upgrade:
                raise DatabaseNotReady(
                    f"the database {where} has {before.describe()}; "
                    "run `presence-gateway db upgrade` against it, then start the gateway"
                )
            await _upgrade(engine, "head")
            return before, await revision(engine)
    except (OSError, TimeoutError, DBAPIError) as error:
        raise DatabaseNotReady(f"the database {where} cannot be used: {describe_error(error)}") from error


def describe_error(error: BaseException) -> str:
    """One line for an operator: the driver's error, not SQLAlchemy's wrapping of it."""
    if isinstance(error, DBAPIError) and error.orig is not None:
        error = error.orig.__cause__ or error.orig  # asyncpg's own error under the DB-API one
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
