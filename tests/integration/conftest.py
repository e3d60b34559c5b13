"""integration: the domain's use cases on the real SQL adapter and a real PostgreSQL."""

from __future__ import annotations

import pytest

from tests.support.postgres_server import shared_postgres_url
from tests.support.sql_world import migrated_postgres


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # SQLAlchemy's async engines are asyncio-only


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """CI's server, or a throwaway one (tests/support/postgres_server.py); never skipped."""
    return shared_postgres_url()


@pytest.fixture
async def postgres_engine(postgres_url: str):
    """A migrated schema of the test's own."""
    async with migrated_postgres(postgres_url) as engine:
        yield engine
