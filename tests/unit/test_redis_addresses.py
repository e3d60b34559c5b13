"""Sentinel addresses from the settings to one URL and back; which Redis topology the
pub/sub adapters are chosen for."""

from __future__ import annotations

import pytest

from presence_gateway.adapters.redis.sentinel import SentinelAddress, sentinel_address
from presence_gateway.entrypoints.wiring.containers import shape_of
from presence_gateway.entrypoints.wiring.settings import ConfigError, Settings


def test_sentinels_and_their_master_become_one_url_every_client_reads() -> None:
    settings = Settings.from_env(
        {"REDIS_SENTINELS": "10.0.0.1:26379, 10.0.0.2:26379", "REDIS_SENTINEL_MASTER": "presence", "CACHE_PASS": "p@ss"}
    )
    assert settings.redis.shared_presence_url == "redis+sentinel://:p%40ss@10.0.0.1:26379,10.0.0.2:26379/0/presence"
    assert sentinel_address(settings.redis.shared_presence_url) == SentinelAddress(
        (("10.0.0.1", 26379), ("10.0.0.2", 26379)), "presence", 0, None, "p@ss"
    )
    assert shape_of(settings) == "redis"


def test_python_socketio_s_sentinel_url_is_read_as_it_is() -> None:
    assert sentinel_address("redis+sentinel://user:pw@h1:1234,h2:2345/2/myredis") == SentinelAddress(
        (("h1", 1234), ("h2", 2345)), "myredis", 2, "user", "pw"
    )
    assert sentinel_address("redis://127.0.0.1:6379/0") is None


@pytest.mark.parametrize("url", ["redis+sentinel://h1:1234/0", "redis+sentinel://h1/0/m", "redis+sentinel://h1:1/x/m"])
def test_a_sentinel_url_without_master_port_or_db_is_refused(url: str) -> None:
    with pytest.raises(ValueError):
        sentinel_address(url)


def test_a_cluster_takes_the_sharded_channels_and_sentinel_or_one_redis_the_plain_ones() -> None:
    assert shape_of(Settings.from_env({"REDIS_CLUSTER_NODES": "10.0.0.1:7000,10.0.0.2:7000"})) == "cluster"
    assert shape_of(Settings.from_env({"REDIS_URL": "redis+cluster://10.0.0.1:7000"})) == "cluster"
    assert shape_of(Settings.from_env({"REDIS_URL": "redis://x:1/0"})) == "redis"


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"REDIS_SENTINELS": "h1:26379"}, "REDIS_SENTINEL_MASTER"),
        ({"REDIS_SENTINELS": "h1", "REDIS_SENTINEL_MASTER": "m"}, "REDIS_SENTINELS"),
        ({"REDIS_CLUSTER_NODES": "h1:99999"}, "REDIS_CLUSTER_NODES"),
        ({"REDIS_SENTINELS": "h1:1", "REDIS_SENTINEL_MASTER": "m/../x"}, "REDIS_SENTINEL_MASTER"),
        ({"REDIS_SENTINELS": "h1:1", "REDIS_SENTINEL_MASTER": "m", "REDIS_CLUSTER_NODES": "h2:2"}, "REDIS_CLUSTER_NODES"),
    ],
)
def test_a_bad_address_setting_is_named(env: dict[str, str], name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env(env)
