"""Shared fixtures: unit and contract tests run on both anyio backends."""

from pathlib import Path

import pytest

from tests.support import processes
from tests.support.redis_cluster import RedisCluster
from tests.support.redis_server import SHARED_REDIS_DATABASES, RedisServer, fresh_database


def pytest_configure(config: pytest.Config) -> None:
    """Every process a test or fixture starts is stopped in its finalizer (tests/support/processes.py)."""
    if not config.pluginmanager.has_plugin("processes"):
        config.pluginmanager.register(processes.Finalizers(), "processes")


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory):
    """One throwaway Redis for the session; tests that share it get a database each."""
    server = RedisServer(Path(tmp_path_factory.mktemp("redis"))).start(10.0, "--databases", str(SHARED_REDIS_DATABASES))
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """A database of the session's Redis of this test's own, empty, with fresh command statistics."""
    return fresh_database(redis_server)


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory):
    """One throwaway three-primary Redis Cluster for the session (about 6 s to start)."""
    cluster = RedisCluster(Path(tmp_path_factory.mktemp("redis-cluster"))).start()
    yield cluster
    cluster.stop()


@pytest.fixture
def redis_cluster_url(redis_cluster: RedisCluster) -> str:
    """The session's cluster, emptied: a ``redis+cluster://`` URL naming every primary."""
    redis_cluster.flush()
    return "redis+cluster://" + redis_cluster.nodes
