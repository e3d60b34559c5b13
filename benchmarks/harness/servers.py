"""The servers a scenario runs against, each started fresh: the gateway (Redis and
PostgreSQL, or Redis and a shared SQLite file, or the embedded default), the Node peer and
the bare python-socketio peer, on a throwaway redis-server of their own."""

from __future__ import annotations

import asyncio
import getpass
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from . import procs

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.redis_server import RedisServer, free_port  # noqa: E402

NODE_PEER = ROOT / "benchmarks" / "peers" / "node" / "server.mjs"
BARE_PEER = ROOT / "benchmarks" / "peers" / "bare_python" / "server.py"
HEALTH_DEADLINE_S = 45.0

# What each server is, in the report's column order. `embedded` is the gateway with
# neither Redis nor DATABASE_URL; `gateway-sqlite` (cross-instance only) is two gateways
# on Redis sharing one SQLite file.
LABELS = {
    "gateway": "gateway (Redis + PostgreSQL)",
    "embedded": "gateway embedded",
    "gateway-sqlite": "gateway (Redis + shared SQLite)",
    "uvicorn": "gateway under uvicorn (Redis + PostgreSQL)",
    "node": "Node peer",
    "bare": "bare python-socketio peer",
}
USES_REDIS = {"gateway", "gateway-sqlite", "uvicorn", "node", "bare"}
GATEWAY_KINDS = {"gateway", "embedded", "gateway-sqlite", "uvicorn"}
# On PostgreSQL: the bench database is reset before each start.
ON_POSTGRES = {"gateway", "uvicorn"}


class ServerDidNotStart(RuntimeError):
    pass


def admin_postgres_url() -> str:
    return os.environ.get("PRESENCE_BENCH_POSTGRES_URL") or f"postgresql://{getpass.getuser()}@127.0.0.1:5432/postgres"


class BenchDatabase:
    """A database of our own on the PostgreSQL at 127.0.0.1:5432, created at the start and
    dropped at the end; its public schema is emptied before each gateway start."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.name = f"presence_bench_{secrets.token_hex(4)}"
        base, _, _ = admin_url.rpartition("/")
        self.url = f"{base}/{self.name}"
        self.server_version = "?"

    def _run(self, url: str, *statements: str) -> str:
        import asyncpg

        async def go() -> str:
            connection = await asyncpg.connect(url, timeout=10)
            try:
                for statement in statements:
                    await connection.execute(statement)
                return await connection.fetchval("SHOW server_version")
            finally:
                await connection.close()

        return asyncio.run(go())

    def create(self) -> BenchDatabase:
        try:
            self.server_version = self._run(self.admin_url, f'CREATE DATABASE "{self.name}"')
        except Exception as error:  # noqa: BLE001 — any failure here is one clear message
            raise ServerDidNotStart(
                f"PostgreSQL at {self.admin_url} refused to create a database ({error}); the gateway's "
                "Redis + PostgreSQL mode needs one (set PRESENCE_BENCH_POSTGRES_URL to an admin URL)"
            ) from None
        return self

    def reset(self) -> None:
        self._run(self.url, "DROP SCHEMA public CASCADE", "CREATE SCHEMA public")

    def drop(self) -> None:
        try:
            self._run(self.admin_url, f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        except Exception as error:  # noqa: BLE001
            print(f"warning: could not drop database {self.name}: {error}", file=sys.stderr)


@dataclass
class Instance:
    name: str
    process: subprocess.Popen
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def usage(self) -> procs.Usage:
        return procs.usage(self.pid)


@dataclass
class Stack:
    """One server kind, running: its instance(s) and its Redis (None when embedded)."""

    kind: str
    instances: list[Instance]
    redis: RedisServer | None
    workdir: Path
    logs: list[Path] = field(default_factory=list)

    @property
    def main(self) -> Instance:
        return self.instances[0]


def _clean_env() -> dict[str, str]:
    dropped = ("DATABASE_URL", "CACHE_HOST", "CACHE_PORT", "CACHE_PASS", "REDIS_URL", "LOG_LEVEL", "PORT", "HOST")
    return {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith("PRESENCE_")}


def _command(kind: str) -> list[str]:
    if kind in GATEWAY_KINDS:
        # `uvicorn`: the same app under uvicorn (serve --server uvicorn), the opt-in second server.
        server = ["--server", "uvicorn"] if kind == "uvicorn" else []
        return [str(Path(sys.executable).with_name("presence-gateway")), "serve", *server]
    if kind == "node":
        return [shutil.which("node") or "node", str(NODE_PEER)]
    if kind == "bare":
        return [sys.executable, str(BARE_PEER)]
    raise ValueError(kind)


# The gateway's per-socket and per-user limits (docs/security.md) are lifted: the scenarios
# send far more than a person does from one socket (500 updates/s), and the peers have no
# such limits. Everything else is the default.
GATEWAY_LIMITS_LIFTED = {"PRESENCE_EVENTS_PER_MINUTE": "100000000",
    "PRESENCE_USER_EVENTS_PER_MINUTE": "100000000", "PRESENCE_CONNECTS_PER_MINUTE_PER_USER": "100000000",
    "PRESENCE_CONNECTS_PER_MINUTE_PER_ADDRESS": "100000000", "PRESENCE_MAX_SOCKETS_PER_USER": "100000"}


def _env(
    kind: str,
    port: int,
    secret: str,
    redis: RedisServer | None,
    workdir: Path,
    database: BenchDatabase | None,
    gateway_env: dict[str, str] | None = None,
) -> dict[str, str]:
    env = _clean_env()
    env.update(PORT=str(port), JWT_SECRET_ACCESS=secret)
    if kind in GATEWAY_KINDS:
        env.update(PRESENCE_ENV="development", PRESENCE_DATA_DIR=str(workdir / "data"), **GATEWAY_LIMITS_LIFTED)
        env.update(gateway_env or {})
        # PRESENCE_BENCH_FAST_PROTOCOL=false measures the gateway on hypercorn's own protocol path.
        if "PRESENCE_BENCH_FAST_PROTOCOL" in os.environ:
            env["PRESENCE_FAST_PROTOCOL"] = os.environ["PRESENCE_BENCH_FAST_PROTOCOL"]
        if redis is not None:
            env.update(CACHE_HOST="127.0.0.1", CACHE_PORT=str(redis.port))
        if kind in ON_POSTGRES:
            assert database is not None
            env["DATABASE_URL"] = database.url
        elif kind == "gateway-sqlite":
            env["DATABASE_URL"] = f"sqlite:///{workdir / 'shared.sqlite3'}"
    elif redis is not None:
        env["REDIS_URL"] = redis.url
    return env


def wait_healthy(name: str, url: str, process: subprocess.Popen, deadline_s: float = HEALTH_DEADLINE_S) -> None:
    """Until GET /healthz answers 200; ServerDidNotStart when the process exits or time is up."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerDidNotStart(f"{name} exited with {process.returncode} before it answered /healthz")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1.0) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(0.05)  # readiness poll, bounded by the deadline
    raise ServerDidNotStart(f"{name} did not answer 200 on /healthz within {deadline_s:.0f} s")


def _start_instance(kind: str, index: int, env_for, workdir: Path) -> Instance:
    port = free_port()
    log_path = workdir / f"{kind}-{index}.log"
    with log_path.open("wb") as log:
        process = procs.start(
            _command(kind), cwd=workdir, env=env_for(port), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
    instance = Instance(f"{LABELS[kind]} #{index}", process, port, log_path)
    started = time.monotonic()
    try:
        wait_healthy(instance.name, instance.url, process)
        print(f"[bench]   {instance.name} pid {process.pid} healthy in {time.monotonic() - started:.1f} s",
              file=sys.stderr, flush=True)
    except ServerDidNotStart:
        procs.stop(process)
        raise
    return instance


@contextmanager
def running(
    kind: str,
    workdir: Path,
    secret: str,
    database: BenchDatabase | None,
    instances: int = 1,
    gateway_env: dict[str, str] | None = None,
) -> Iterator[Stack]:
    """Start a fresh Redis (when the kind uses one) and ``instances`` servers of ``kind``
    one after the other (the first applies the schema); stop them all by pid on the way out.
    ``gateway_env``: settings for the gateway's instances only."""
    workdir.mkdir(parents=True, exist_ok=True)
    redis = None
    started: list[Instance] = []
    try:
        if kind in USES_REDIS:
            redis = RedisServer(workdir / "redis").start()
            procs.adopt(redis.process)
        if kind in ON_POSTGRES:
            assert database is not None, "the gateway's PostgreSQL mode needs the bench database"
            database.reset()
        for index in range(1, instances + 1):
            env_for = lambda port: _env(kind, port, secret, redis, workdir, database, gateway_env)  # noqa: E731
            try:
                started.append(_start_instance(kind, index, env_for, workdir))
            except ServerDidNotStart as error:
                from .gateway_log import log_tail

                raise ServerDidNotStart(f"{error}\n{log_tail(workdir / f'{kind}-{index}.log')}") from None
        yield Stack(kind, started, redis, workdir, [i.log_path for i in started])
    finally:
        for instance in started:
            procs.stop(instance.process)
        if redis is not None and redis.process is not None:
            procs.stop(redis.process)
