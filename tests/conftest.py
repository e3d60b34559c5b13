"""Shared fixtures: unit and contract tests run on both anyio backends."""

from pathlib import Path

import pytest

from tests.support.redis_cluster import RedisCluster
from tests.support.redis_server import RedisServer


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory):
    """One throwaway Redis for the session; tests that share it flush it first."""
    server = RedisServer(Path(tmp_path_factory.mktemp("redis"))).start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session's Redis, emptied and with fresh command statistics."""
    import redis

    with redis.Redis.from_url(redis_server.url) as client:
        client.flushall()
        client.config_resetstat()
    return redis_server.url


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
