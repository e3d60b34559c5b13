"""A Redis Cluster's address: the ``redis+cluster://`` URL and ``REDIS_CLUSTER_NODES``."""

from __future__ import annotations

import pytest

from presence_gateway.adapters.redis.cluster_url import ClusterAddress, is_cluster_url, parse_cluster_url, parse_nodes


def test_nodes_credentials_and_tls_come_out_of_the_url() -> None:
    address = parse_cluster_url("rediss+cluster://presence:p%40ss@r1:7000,10.0.0.2:7001,[::1]:7002/0?x=1")

    assert address == ClusterAddress((("r1", 7000), ("10.0.0.2", 7001), ("::1", 7002)), "presence", "p@ss", True)
    assert parse_cluster_url(address.url) == address


def test_a_password_alone_and_no_credentials() -> None:
    assert parse_cluster_url("redis+cluster://:secret@r1:7000").password == "secret"
    assert parse_cluster_url("redis+cluster://secret@r1:7000").password == "secret"
    plain = parse_cluster_url("REDIS+CLUSTER://r1:7000")
    assert (plain.username, plain.password, plain.tls, plain.nodes) == (None, None, False, (("r1", 7000),))


def test_only_cluster_urls_are_cluster_urls() -> None:
    assert is_cluster_url("redis+cluster://r1:7000")
    assert is_cluster_url("rediss+cluster://r1:7000")
    assert not is_cluster_url("redis://r1:6379/0")
    assert not is_cluster_url(None)
    with pytest.raises(ValueError):
        parse_cluster_url("redis://r1:6379")


@pytest.mark.parametrize("text", ["r1", "r1:", ":7000", "r1:0", "r1:65536", "r1:7000,r2", "a/b:7000", "  ,  ", "r1:-1"])
def test_a_node_list_names_every_node_as_host_and_port(text: str) -> None:
    with pytest.raises(ValueError):
        parse_nodes(text)


def test_a_one_redis_client_is_never_guessed_into_a_cluster_one() -> None:
    """The wiring says which topology it has; a cluster URL given for one Redis is refused."""
    import pytest

    from presence_gateway.adapters.redis.client import create_redis

    with pytest.raises(ValueError, match="create_redis_cluster"):
        create_redis("redis+cluster://r1:7000")
