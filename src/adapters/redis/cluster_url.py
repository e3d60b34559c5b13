"""The address of a Redis Cluster: ``redis+cluster://[user:password@]host:port[,host:port...]``
(``rediss+cluster://`` for TLS), what ``REDIS_CLUSTER_NODES`` becomes. Any node will do as a
seed: the clients ask it for the others."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote

SCHEMES = ("redis+cluster://", "rediss+cluster://")


@dataclass(frozen=True)
class ClusterAddress:
    nodes: tuple[tuple[str, int], ...]
    username: str | None = None
    password: str | None = None
    tls: bool = False

    @property
    def url(self) -> str:
        scheme = SCHEMES[1] if self.tls else SCHEMES[0]
        auth = ""
        if self.password is not None:
            auth = (quote(self.username, safe="") if self.username else "") + ":" + quote(self.password, safe="") + "@"
        return scheme + auth + ",".join(f"{host}:{port}" for host, port in self.nodes)


def is_cluster_url(url: str | None) -> bool:
    return bool(url) and url.lower().startswith(SCHEMES)  # type: ignore[union-attr]


def parse_nodes(text: str) -> tuple[tuple[str, int], ...]:
    """``host:port,host:port``; ValueError naming the first bad entry."""
    nodes = []
    for entry in text.split(","):
        entry = entry.strip()
        if not entry:
            continue
        host, sep, port = entry.rpartition(":")
        host = host[1:-1] if host.startswith("[") and host.endswith("]") else host  # [::1]:7000
        if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535 or any(c in host for c in "/@, "):
            raise ValueError(f"{entry!r} is not host:port")
        nodes.append((host, int(port)))
    if not nodes:
        raise ValueError("names no node (use host:port,host:port)")
    return tuple(nodes)


def parse_cluster_url(url: str) -> ClusterAddress:
    lowered = url.lower()
    if not lowered.startswith(SCHEMES):
        raise ValueError(f"{url!r} is not a redis+cluster:// URL")
    tls = lowered.startswith(SCHEMES[1])
    rest = url.split("://", 1)[1]
    rest = rest.split("/", 1)[0].split("?", 1)[0]  # a database or options: a cluster has db 0 only
    username = password = None
    if "@" in rest:
        auth, rest = rest.rsplit("@", 1)
        user, sep, secret = auth.partition(":")
        username, password = (unquote(user) or None, unquote(secret)) if sep else (None, unquote(user))
    return ClusterAddress(parse_nodes(rest), username, password, tls)
