"""The wiring is the one composition root: it alone reads the deployment's shape, each
shape gets its own start steps and background jobs, its resources open at start and close
at stop in dependency order, and the tests' service is production's (same settings)."""

from __future__ import annotations

import gc
import re
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import pytest

from presence_gateway.entrypoints.process.lifecycle import Gateway, awaited
from presence_gateway.entrypoints.process.single_instance import claim_single_instance
from presence_gateway.entrypoints.wiring.containers import build_container
from presence_gateway.entrypoints.wiring.settings import ConfigError, load_settings
from tests.memory_status_repository import InMemoryStatusRepository
from tests.support.gateway_container import NO_GRACE, SECRET, gateway_container
from tests.unit.conftest import build_world

SRC = Path(__file__).resolve().parents[2] / "src"
REDIS = {"REDIS_URL": "redis://127.0.0.1:1/0"}  # never connected: nothing here is awaited on it
# What tells the deployment's shape: read in entrypoints/wiring/ alone.
SHAPE_READ = re.compile(r"\bshared_presence_url\b|\bshape_of\(|\bredis\.cluster\b")
WIRING = SRC / "entrypoints" / "wiring"


def named(job: Any) -> str:
    """``run_sweeper`` for a partial, ``DurableWriter.run`` for a bound method."""
    function = job.func if isinstance(job, partial) else job
    return getattr(function, "__qualname__", repr(function))


def shape_readers(root: Path) -> list[str]:
    return sorted(
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if WIRING not in path.parents and SHAPE_READ.search(path.read_text())
    )


def test_the_shape_is_read_in_the_wiring_alone() -> None:
    assert shape_readers(SRC) == []


def test_a_module_reading_the_shape_outside_the_wiring_is_found(tmp_path: Path) -> None:
    (tmp_path / "page.py").write_text("if settings.redis.shared_presence_url:\n    store = RedisStore()\n")
    (tmp_path / "other.py").write_text("cluster = settings.redis.cluster\n")
    (tmp_path / "fine.py").write_text("url = settings.database.url\n")
    assert shape_readers(tmp_path) == ["other.py", "page.py"]


@pytest.mark.parametrize(
    ("env", "store", "manager", "broadcaster", "leases"),
    [
        ({}, "InMemoryPresenceStore", "LocalManager", "SocketIOBroadcaster", "NoneType"),
        (REDIS, "RecordingStore", "InterestRedisManager", "FanOutBroadcaster", "RedisPresenceStore"),
        ({"REDIS_CLUSTER_NODES": "127.0.0.1:1"}, "RecordingStore", "InterestClusterManager", "FanOutBroadcaster",
         "RedisPresenceStore"),
    ],
    ids=["embedded", "redis", "cluster"],
)
def test_each_shape_serves_the_ports_with_its_adapters(
    tmp_path: Path, env: dict[str, str], store: str, manager: str, broadcaster: str, leases: str
) -> None:
    container = gateway_container({"PRESENCE_DATA_DIR": str(tmp_path), **env})
    service = container.presence_service()
    assert type(service._sessions).__name__ == store
    assert type(container.socket_server().manager).__name__ == manager
    assert type(container.broadcaster()).__name__ == broadcaster
    assert type(container.instance_leases()).__name__ == leases


EVERY_MODE = ["DurableWriter.run", "run_sweeper", "warm_up", "SocketSweeper.run"]


@pytest.mark.parametrize(
    ("env", "steps", "jobs"),
    [
        ({}, ["prepare_database", "forget_previous_run"], EVERY_MODE),
        (
            REDIS,
            ["prepare_database", "load_scripts", "initialize_manager", "announce_instance"],
            [*EVERY_MODE, "keep_lease", "watch_dead_instances", "RedisHealth.run", "PooledRedisManager.run",
             "keep_sessions_restored"],
        ),
        ({"PRESENCE_LOOP_MONITOR": "1"}, ["prepare_database", "forget_previous_run"], [*EVERY_MODE, "LoopLag.run"]),
    ],
    ids=["embedded", "redis", "embedded-with-loop-monitor"],
)
def test_each_mode_starts_its_own_steps_and_jobs_in_order(
    tmp_path: Path, env: dict[str, str], steps: list[str], jobs: list[str]
) -> None:
    container = gateway_container({"PRESENCE_DATA_DIR": str(tmp_path), **env})

    assert [named(step) for step in container.start_steps()] == steps
    assert [named(job) for job in container.background_jobs()] == jobs


class Engine:
    """Stands in for the SQL engine: notes whether the data directory was still locked
    when it was disposed."""

    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir
        self.disposed_while_locked: bool | None = None

    async def dispose(self) -> None:
        self.disposed_while_locked = locked(self._data_dir)


class Client:
    def __init__(self) -> None:
        self.closed = False

    async def aclose(self) -> None:
        self.closed = True


def locked(data_dir: Path) -> bool:
    try:
        claim_single_instance(data_dir).release()
    except ConfigError:
        return True
    return False


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # dependency-injector gathers async resources with asyncio


@pytest.mark.anyio
async def test_the_embedded_mode_holds_its_data_directory_from_start_to_stop_and_disposes_the_engine_first(
    tmp_path: Path,
) -> None:
    engine = Engine(tmp_path)
    container = gateway_container(
        {"PRESENCE_DATA_DIR": str(tmp_path)}, engine=engine, status_repository=InMemoryStatusRepository()
    )
    container.gateway()  # built, as create_app builds it: nothing held yet

    assert not locked(tmp_path)
    await awaited(container.init_resources())
    assert locked(tmp_path)
    await awaited(container.shutdown_resources())
    assert engine.disposed_while_locked is True
    assert not locked(tmp_path)


@pytest.mark.anyio
async def test_with_redis_every_client_is_closed_at_stop_and_no_directory_is_held(tmp_path: Path) -> None:
    clients = {name: Client() for name in ("redis", "redis_events", "redis_pubsub", "redis_probe")}
    container = gateway_container({"PRESENCE_DATA_DIR": str(tmp_path), **REDIS}, engine=Engine(tmp_path), **clients)

    await awaited(container.init_resources())
    assert not locked(tmp_path)
    assert not any(client.closed for client in clients.values())
    await awaited(container.shutdown_resources())
    assert all(client.closed for client in clients.values())


def test_the_tests_service_is_built_with_production_s_settings() -> None:
    production = load_settings({})
    service = build_world().service
    assert (service.offline_grace, service.session_ttl) == (production.timing.offline_grace, production.timing.session_ttl)
    assert production.timing.offline_grace > 0
    assert build_world(env=NO_GRACE).service.offline_grace == 0


def test_the_gateway_gets_the_service_the_socket_handlers_get(tmp_path: Path) -> None:
    container = build_container(load_settings({"PRESENCE_DATA_DIR": str(tmp_path)}), jwt_secret=SECRET)
    gateway = container.gateway()
    assert gateway._service is container.presence_service()
    assert gateway._writer is container.durable_writer()
    assert gateway._sio is container.socket_server()


class Noted:
    """The gateway's collaborators, each noting when it is used."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.draining = False
        self.pending = 0

    def note(self, event: str) -> Any:
        async def noted(*_: Any, **__: Any) -> int:
            self.events.append(event)
            return 0

        return noted

    def __getattr__(self, name: str) -> Any:  # the service's end_instance, release_lease, ...
        return self.note(name)

    async def flush(self) -> None:
        self.events.append("flush")

    async def job(self, *, task_status: Any) -> None:
        self.events.append("job started")
        task_status.started()
        try:
            await anyio.sleep_forever()
        finally:
            self.events.append("job cancelled")


@pytest.mark.anyio
async def test_the_gateway_opens_resources_before_its_steps_and_jobs_and_closes_them_after_the_last_flush() -> None:
    noted = Noted()
    gateway = Gateway(
        open_resources=noted.note("open resources"),
        close_resources=noted.note("close resources"),
        start_steps=[noted.note("step 1"), noted.note("step 2")],
        jobs=[noted.job],
        service=noted,  # type: ignore[arg-type]
        writer=noted,  # type: ignore[arg-type]
        sio=None,  # type: ignore[arg-type]
        fleet=None,
        clock=None,  # type: ignore[arg-type]
        start_line=("ready", {}),
    )

    await gateway.start()
    assert noted.events == ["open resources", "step 1", "step 2", "job started"]
    gc.unfreeze()  # start froze what the process holds (runtime.py): not this test process's
    noted.events.clear()
    await gateway.stop()
    assert noted.events == [
        "end_instance", "release_lease", "settle_graces", "job cancelled", "flush", "close resources"
    ]
