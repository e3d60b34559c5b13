"""A throwaway Redis behind Sentinel on free ports: one primary, one replica and one
sentinel, all from the same ``redis-server`` binary (the sentinel is ``redis-server
<conf> --sentinel``), stopped by pid.

One sentinel is a quorum of one: enough to test that clients follow a failover, not a
production layout (that wants three). The old primary learns it was demoted at the
sentinel's next INFO to it (every 10 s), so a failover takes about 11 s to settle. ``failover()`` asks the sentinel for one
(``SENTINEL FAILOVER``) and returns once it has settled: the replica is the primary, the
old primary follows it, and the sentinel names the new one.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import redis

from tests.support import processes

from .redis_server import RedisServer, free_port, redis_server_binary, wait_answering, wait_until


def _wait(predicate, timeout: float, what: str) -> None:
    wait_until(predicate, timeout, f"Redis Sentinel: {what}")


class SentinelProcess:
    def __init__(self, workdir: Path, master: str, primary_port: int) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.master = master
        self.primary_port = primary_port
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> SentinelProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "sentinel.conf"
        conf.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self.workdir}\nlogfile {self.workdir / 'sentinel.log'}\n"
            f"sentinel monitor {self.master} 127.0.0.1 {self.primary_port} 1\n"
            f"sentinel down-after-milliseconds {self.master} 1000\n"
            f"sentinel failover-timeout {self.master} 5000\n"
        )
        self.process = subprocess.Popen(
            [redis_server_binary(), str(conf), "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        processes.track(self.process)
        wait_answering(self.process, self.port, timeout, "sentinel", self.workdir / "sentinel.log")
        return self

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5, decode_responses=True)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class RedisSentinel:
    def __init__(self, workdir: Path, master: str = "presence") -> None:
        self.master = master
        self.primary = RedisServer(workdir / "primary")
        self.replica = RedisServer(workdir / "replica")
        self.sentinel = SentinelProcess(workdir / "sentinel", master, self.primary.port)

    @property
    def url(self) -> str:
        """The ``redis+sentinel://`` form (python-socketio's): sentinels, db, master."""
        return f"redis+sentinel://127.0.0.1:{self.sentinel.port}/0/{self.master}"

    @property
    def sentinels(self) -> str:
        """The ``REDIS_SENTINELS`` form."""
        return f"127.0.0.1:{self.sentinel.port}"

    def start(self, timeout: float = 20.0) -> RedisSentinel:
        try:
            fast_sync = ("--repl-diskless-sync-delay", "0")  # a demoted primary resyncs at once
            self.primary.start(10.0, *fast_sync)
            self.replica.start(10.0, *fast_sync, "--replicaof", "127.0.0.1", str(self.primary.port))
            _wait(lambda: self._follows(self.replica, self.primary), timeout, "the replica did not sync")
            self.sentinel.start()
            _wait(self._sentinel_sees_replica, timeout, "the sentinel did not find the replica")
        except BaseException:
            self.stop()
            raise
        return self

    def master_port(self) -> int:
        address = self.sentinel.client().sentinel_get_master_addr_by_name(self.master)
        if not isinstance(address, tuple):
            raise RuntimeError(f"the sentinel names no primary for {self.master!r}")
        return int(address[1])

    def current_primary(self) -> RedisServer:
        return self.primary if self.master_port() == self.primary.port else self.replica

    def failover(self, timeout: float = 30.0) -> RedisServer:
        """Promote the replica; return the new primary once the old one follows it."""
        old = self.current_primary()
        new = self.replica if old is self.primary else self.primary
        _wait(self._sentinel_sees_replica, timeout, "the sentinel did not see a healthy replica")
        self.sentinel.client().execute_command("SENTINEL", "FAILOVER", self.master)
        _wait(lambda: self.master_port() == new.port, timeout, "the sentinel did not name the new primary")
        _wait(lambda: self._role(new) == "master", timeout, "the replica was not promoted")
        _wait(lambda: self._follows(old, new), timeout, "the old primary did not follow the new one")
        return new

    def _role(self, server: RedisServer) -> str:
        with redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=5, decode_responses=True) as client:
            return client.info("replication").get("role", "")

    def _follows(self, replica: RedisServer, primary: RedisServer) -> bool:
        with redis.Redis(host="127.0.0.1", port=replica.port, socket_timeout=5, decode_responses=True) as client:
            info = client.info("replication")
        return (
            info.get("role") == "slave" and int(info.get("master_port", 0)) == primary.port
            and info.get("master_link_status") == "up"
        )

    def _sentinel_sees_replica(self) -> bool:
        replicas = self.sentinel.client().sentinel_slaves(self.master)
        return any(
            "s_down" not in r.get("flags", "") and "disconnected" not in r.get("flags", "")
            and r.get("master-link-status") == "ok"
            for r in replicas
        )

    def stop(self) -> None:
        self.sentinel.stop()
        self.replica.stop()
        self.primary.stop()
