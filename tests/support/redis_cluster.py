"""A throwaway Redis Cluster on free ports: primaries (and replicas) started from the same
``redis-server`` binary as the single test Redis, slots assigned by hand, stopped by pid.

Slots are split evenly with ``CLUSTER ADDSLOTSRANGE``, nodes meet through ``CLUSTER MEET``
and each replica follows its primary through ``CLUSTER REPLICATE``; no ``redis-cli`` is
needed. A failover test stops a primary by pid (its replica is promoted) or asks a replica
to take over with ``CLUSTER FAILOVER``.
"""

from __future__ import annotations

import socket
from pathlib import Path

import redis

from .redis_server import RedisServer, free_port, wait_until

SLOTS = 16384


def cluster_port() -> int:
    """A free port whose cluster bus port (the port + 10000) is free too; Redis refuses a
    port above 55535 in cluster mode."""
    for _ in range(200):
        port = free_port()
        if port <= 55535 and _free(port + 10000):
            return port
    raise RuntimeError("no free port pair for a Redis Cluster node")


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait(predicate, timeout: float, what: str) -> None:
    wait_until(predicate, timeout, f"Redis Cluster: {what}")


class RedisCluster:
    def __init__(self, workdir: Path, primaries: int = 3, replicas_per_primary: int = 0) -> None:
        self.workdir = workdir
        self.primaries = [RedisServer(workdir / f"primary-{i}", cluster_port()) for i in range(primaries)]
        self.replicas = [
            RedisServer(workdir / f"replica-{i}-{j}", cluster_port())
            for i in range(primaries)
            for j in range(replicas_per_primary)
        ]
        self.replicas_per_primary = replicas_per_primary

    @property
    def servers(self) -> list[RedisServer]:
        return self.primaries + self.replicas

    @property
    def nodes(self) -> str:
        """The ``REDIS_CLUSTER_NODES`` form: ``host:port,host:port,...``."""
        return ",".join(f"127.0.0.1:{server.port}" for server in self.primaries)

    @property
    def url(self) -> str:
        """The ``redis+cluster://`` form naming the first primary as the seed."""
        return f"redis+cluster://127.0.0.1:{self.primaries[0].port}/0"

    def client(self, server: RedisServer) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=5, decode_responses=True)

    def start(self, timeout: float = 20.0) -> RedisCluster:
        try:
            self._start(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, timeout: float) -> None:
        for server in self.servers:
            server.start(
                10.0, "--cluster-enabled", "yes",
                "--cluster-config-file", str(server.workdir / "nodes.conf"),
                "--cluster-node-timeout", "1000",
            )
        first = self.client(self.primaries[0])
        step = SLOTS // len(self.primaries)
        for i, server in enumerate(self.primaries):
            low = i * step
            high = SLOTS - 1 if i == len(self.primaries) - 1 else (i + 1) * step - 1
            self.client(server).execute_command("CLUSTER", "ADDSLOTSRANGE", low, high)
        for server in self.servers[1:]:
            first.execute_command("CLUSTER", "MEET", "127.0.0.1", server.port)
        _wait(lambda: all(self._knows_all(s) for s in self.servers), timeout, "nodes did not meet")
        for i, primary in enumerate(self.primaries):
            primary_id = self.client(primary).execute_command("CLUSTER", "MYID")
            for j in range(self.replicas_per_primary):
                replica = self.replicas[i * self.replicas_per_primary + j]
                self.client(replica).execute_command("CLUSTER", "REPLICATE", primary_id)
        _wait(lambda: all(self._ok(s) for s in self.servers), timeout, "cluster_state did not become ok")
        _wait(self._replicas_synced, timeout, "replicas did not sync")

    def _replicas_synced(self) -> bool:
        for replica in self.replicas:
            info = self.client(replica).info("replication")
            if info.get("role") != "slave" or info.get("master_link_status") != "up":
                return False
        return True

    def _knows_all(self, server: RedisServer) -> bool:
        nodes = self.client(server).execute_command("CLUSTER", "NODES")
        text = nodes if isinstance(nodes, str) else str(nodes)
        return sum(1 for line in text.splitlines() if line.strip()) >= len(self.servers)

    def _ok(self, server: RedisServer) -> bool:
        info = self.client(server).execute_command("CLUSTER", "INFO")
        text = info if isinstance(info, str) else str(info)
        return "cluster_state:ok" in text

    def wait_ok(self, timeout: float = 20.0) -> None:
        """Every running node reports the cluster healthy (after a failover, say)."""
        running = [s for s in self.servers if s.process is not None and s.process.poll() is None]
        _wait(lambda: all(self._ok(s) for s in running), timeout, "cluster_state did not become ok")

    def flush(self) -> None:
        for server in self.primaries:
            if server.process is not None and server.process.poll() is None:
                try:
                    self.client(server).flushall()
                except redis.ResponseError:
                    pass  # a replica promoted in its place answers READONLY until it is primary

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
