"""Engine construction: URL normalisation, the SQLite settings a write-heavy table needs,
and the PostgreSQL timeouts that turn a slow or unreachable server into an error the
write-behind can retry, instead of a wait nobody bounds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from .tls import libpq_tls

# asyncpg's own connect timeout is 60 s and statements have none: a server that stops
# answering (a partition, a stuck failover) would hold the writer and every first
# connect of a user for that long.
CONNECT_TIMEOUT = 5.0
STATEMENT_TIMEOUT = 10.0
# Waiting for a pooled connection while every one is stuck on such a server.
POOL_TIMEOUT = 5.0


def async_database_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` (what operators paste) mean asyncpg here."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix):]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///"):]
    return url


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def printable_url(url: str) -> str:
    """The URL for a log line or an error message: the password is never shown."""
    return make_url(async_database_url(url)).render_as_string(hide_password=True)


def create_engine(url: str, *, schema: str | None = None) -> AsyncEngine:
    """``schema`` puts the table (and its migration history) in a PostgreSQL schema of its
    own instead of the first one on the server's search path."""
    url = async_database_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if schema is not None:
            raise ValueError("SQLite has no schemas: give the table its own file instead")
        engine = create_async_engine(url)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.close()

        return engine
    connect_args: dict[str, object] = {}
    if parsed.get_driver_name() == "asyncpg":
        parsed, tls = libpq_tls(parsed)
        connect_args = {"timeout": CONNECT_TIMEOUT, "command_timeout": STATEMENT_TIMEOUT}
        if tls is not None:
            connect_args["ssl"] = tls
        if schema is not None:
            connect_args["server_settings"] = {"search_path": schema}
    elif schema is not None:
        raise ValueError(f"a schema is only supported on PostgreSQL through asyncpg, not {parsed.drivername}")
    return create_async_engine(parsed, pool_pre_ping=True, pool_timeout=POOL_TIMEOUT, connect_args=connect_args)
