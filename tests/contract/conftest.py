"""Every adapter of a port is held to one suite. The fixture params name the adapters;
each builds a fresh, isolated instance on a real backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from presence_gateway.adapters.memory.presence_store import InMemoryPresenceStore
from presence_gateway.adapters.sql import migrate
from presence_gateway.adapters.sql.engine import create_engine, sqlite_url
from presence_gateway.adapters.sql.status_repository import SqlStatusRepository
from tests.memory_status_repository import InMemoryStatusRepository
from tests.support.postgres_server import shared_postgres_url
from tests.support.redis_stores import redis_stores
from tests.support.sql_world import migrated_postgres


@pytest.fixture
def anyio_backend() -> str:
    # SQLAlchemy's async engines (and later redis-py) are asyncio-only.
    return "asyncio"


@pytest.fixture
def memory_store() -> InMemoryPresenceStore:
    return InMemoryPresenceStore()


@pytest.fixture
async def redis_store(redis_url: str):
    async with redis_stores(redis_url, "contract") as stores:
        yield stores["contract"]


@pytest.fixture
async def redis_cluster_store(redis_cluster_url: str):
    async with redis_stores(redis_cluster_url, "contract") as stores:
        yield stores["contract"]


@pytest.fixture(params=["redis", "cluster"])
def shared_redis_url(request: pytest.FixtureRequest) -> str:
    """One Redis, or a three-primary Redis Cluster (``redis+cluster://``), emptied."""
    return request.getfixturevalue("redis_url" if request.param == "redis" else "redis_cluster_url")


@pytest.fixture(params=["memory_store", "redis_store", "redis_cluster_store"])
def presence_store(request: pytest.FixtureRequest):
    return request.getfixturevalue(request.param)


@pytest.fixture
def memory_repository() -> InMemoryStatusRepository:
    return InMemoryStatusRepository()


@pytest.fixture
async def sqlite_repository(tmp_path: Path):
    engine = create_engine(sqlite_url(tmp_path / "presence.sqlite3"))
    await migrate.upgrade(engine)
    yield SqlStatusRepository(engine)
    await engine.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """CI's server, or a throwaway one (tests/support/postgres_server.py); never skipped."""
    return shared_postgres_url()


@pytest.fixture
async def postgres_repository(postgres_url: str):
    async with migrated_postgres(postgres_url) as engine:
        yield SqlStatusRepository(engine)


@pytest.fixture(params=["memory_repository", "sqlite_repository", "postgres_repository"])
def status_repository(request: pytest.FixtureRequest):
    return request.getfixturevalue(request.param)
