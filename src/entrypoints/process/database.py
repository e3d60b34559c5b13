"""The durable table's schema at start: upgraded, or only checked.

The embedded SQLite file belongs to this gateway alone, so it is upgraded on every start.
A ``DATABASE_URL`` database is upgraded on start in development; in production its schema
changes only when an operator runs ``presence-gateway db upgrade`` (with the deploy, where
they can watch it), and the gateway refuses to serve a schema that is not the one it was
written for. A database that cannot be reached at start refuses the start as well: once
serving, the gateway rides out an outage (writes queue and are retried), but it does not
begin on a database it has never seen — a mistyped URL would otherwise queue writes quietly
until the process ran out of memory.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from ...adapters.sql import migrate
from ...adapters.sql.engine import printable_url, sqlite_url
from ..wiring.settings import ConfigError, Settings

log = logging.getLogger(__name__)


def database_url(settings: Settings) -> str:
    """``DATABASE_URL``, else the embedded SQLite file in the data directory."""
    if settings.database.url:
        return settings.database.url
    return sqlite_url(settings.server.data_dir / "presence.sqlite3")


def upgrades_on_start(settings: Settings) -> bool:
    return not (settings.production and settings.database.url)


async def prepare_database(engine: AsyncEngine, settings: Settings) -> None:
    where = printable_url(database_url(settings))
    try:
        before, after = await migrate.prepare(engine, may_upgrade=upgrades_on_start(settings), where=where)
    except migrate.DatabaseNotReady as error:
        raise ConfigError(str(error)) from None
    if before.current != after.current:
        log.info("upgraded the schema of %s from %s to revision %s", where, before.current or "empty", after.current)

