"""Each deployment mode has the store roles it really has: one process is the only
instance, so it holds no lease and pretends to hold none."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from presence_gateway.adapters.memory.presence_store import InMemoryPresenceStore
from presence_gateway.adapters.redis.presence_store import RedisPresenceStore
from presence_gateway.domain.ports import (
    ChoiceSeeding,
    DurableStatuses,
    InstanceLeases,
    PresenceReads,
    SessionRecovery,
    SessionStore,
    SessionSweeps,
)
from presence_gateway.entrypoints.wiring.containers import build_container
from presence_gateway.entrypoints.wiring.settings import Settings
from presence_gateway.service_layer.durable_writer import DurableWriter
from presence_gateway.service_layer.held_sessions import RecordableStore, RecordingStore
from tests.unit.conftest import World

pytestmark = pytest.mark.anyio


def test_the_in_process_store_has_no_lease_operations() -> None:
    store = InMemoryPresenceStore()
    assert not [name for name in vars(InstanceLeases) if not name.startswith("_") and hasattr(store, name)]


@pytest.mark.parametrize(("env", "leases"), [({}, type(None)), ({"CACHE_HOST": "127.0.0.1"}, RedisPresenceStore)])
def test_the_container_gives_leases_only_to_a_shared_store(tmp_path: Path, env: dict[str, str], leases: type) -> None:
    settings = Settings.from_env({**env, "PRESENCE_DATA_DIR": str(tmp_path)})
    container = build_container(settings, jwt_secret="s" * 32)
    assert isinstance(container.instance_leases(), leases)


async def test_a_single_instance_releases_no_lease_and_renews_none(world: World) -> None:
    await world.service.release_lease()  # shutdown: nothing to give up
    with pytest.raises(RuntimeError, match="single instance"):
        await world.service.renew_lease(10.0)


def methods_of(role: type) -> list[str]:
    """The operations a port declares, its parents' included."""
    names: dict[str, None] = {}
    for cls in role.__mro__:
        if cls.__module__.startswith("presence_gateway."):
            names.update((n, None) for n, v in vars(cls).items() if callable(v) and not n.startswith("_"))
    return list(names)


def mismatches(adapter: type, role: type) -> list[str]:
    """What ``adapter`` lacks of ``role``: a missing operation, one that is async where the
    role's is not (or the other way), or parameters of other names or kinds."""
    found = []
    for name in methods_of(role):
        wanted, given = getattr(role, name), getattr(adapter, name, None)
        if given is None:
            found.append(f"{name}: missing")
            continue
        if inspect.iscoroutinefunction(wanted) != inspect.iscoroutinefunction(given):
            found.append(f"{name}: async differs")
        shape = [(p.name, p.kind) for p in inspect.signature(wanted).parameters.values()]
        if [(p.name, p.kind) for p in inspect.signature(given).parameters.values()] != shape:
            found.append(f"{name}: parameters differ")
    return found


# The roles of the table in docs/internals.md, and who plays them.
ROLES: list[tuple[type, list[type]]] = [
    (RecordableStore, [InMemoryPresenceStore, RedisPresenceStore]),
    (SessionStore, [InMemoryPresenceStore, RedisPresenceStore, RecordingStore]),
    (SessionSweeps, [InMemoryPresenceStore, RedisPresenceStore, RecordingStore]),
    (PresenceReads, [InMemoryPresenceStore, RedisPresenceStore]),
    (ChoiceSeeding, [InMemoryPresenceStore, RedisPresenceStore]),
    (InstanceLeases, [RedisPresenceStore]),
    (SessionRecovery, [InMemoryPresenceStore, RedisPresenceStore]),
    (DurableStatuses, [DurableWriter]),
]


@pytest.mark.parametrize(
    ("role", "adapter"),
    [(role, adapter) for role, adapters in ROLES for adapter in adapters],
    ids=lambda x: x.__name__,
)
def test_each_adapter_plays_its_roles_as_the_port_declares_them(role: type, adapter: type) -> None:
    assert methods_of(role), f"{role.__name__} declares no operation"
    assert mismatches(adapter, role) == []


def test_a_role_played_wrongly_is_found() -> None:
    class Half:
        async def register(self, user_id: str) -> None: ...

        def touch(self, *args: object) -> None: ...

    found = mismatches(Half, SessionStore)
    assert "register: parameters differ" in found and "touch: async differs" in found
    assert any(line.endswith("missing") for line in found)


def roles_as_mypy_checks_them(
    memory: InMemoryPresenceStore, shared: RedisPresenceStore, recording: RecordingStore, writer: DurableWriter
) -> None:
    """Never called: ``make lint`` (mypy over tests/) checks that each adapter plays each
    role with the types the port declares, which the names and kinds above cannot see."""
    for store in (memory, shared):
        recordable: RecordableStore = store
        sessions: SessionStore = store
        sweeps: SessionSweeps = store
        reads: PresenceReads = store
        seeding: ChoiceSeeding = store
        recovery: SessionRecovery = store
    leases: InstanceLeases = shared
    recorded_sessions: SessionStore = recording
    recorded_sweeps: SessionSweeps = recording
    durable: DurableStatuses = writer
    del recordable, sessions, sweeps, reads, seeding, recovery, leases, recorded_sessions, recorded_sweeps, durable
