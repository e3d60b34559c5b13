"""Every adapter of a port is held to one suite. The fixture params name the adapters;
each builds a fresh, isolated instance on a real backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from presence_gateway.adapters.memory.presence_store import InMemoryPresenceStore
from presence_gateway.adapters.memory.status_repository import InMemoryStatusRepository
from presence_gateway.adapters.sql.engine import create_engine, sqlite_url
from presence_gateway.adapters.sql.status_repository import SqlStatusRepository


@pytest.fixture
def anyio_backend() -> str:
    # SQLAlchemy's async engines (and later redis-py) are asyncio-only.
    return "asyncio"


@pytest.fixture
def memory_store() -> InMemoryPresenceStore:
    return InMemoryPresenceStore()


@pytest.fixture(params=["memory_store"])
def presence_store(request: pytest.FixtureRequest):
    return request.getfixturevalue(request.param)


@pytest.fixture
def memory_repository() -> InMemoryStatusRepository:
    return InMemoryStatusRepository()


@pytest.fixture
async def sqlite_repository(tmp_path: Path):
    engine = create_engine(sqlite_url(tmp_path / "presence.sqlite3"))
    repository = SqlStatusRepository(engine)
    await repository.create_schema()
    yield repository
    await engine.dispose()


@pytest.fixture(params=["memory_repository", "sqlite_repository"])
def status_repository(request: pytest.FixtureRequest):
    return request.getfixturevalue(request.param)
