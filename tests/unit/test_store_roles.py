"""Each deployment mode has the store roles it really has: one process is the only
instance, so it holds no lease and pretends to hold none."""

from __future__ import annotations

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
    container = build_container(settings, "s" * 32)
    assert isinstance(container.instance_leases(), leases)


async def test_a_single_instance_releases_no_lease_and_renews_none(world: World) -> None:
    await world.service.release_lease()  # shutdown: nothing to give up
    with pytest.raises(RuntimeError, match="single instance"):
        await world.service.renew_lease(10.0)


def roles_each_adapter_plays(
    memory: InMemoryPresenceStore, redis: RedisPresenceStore, recording: RecordingStore, writer: DurableWriter
) -> None:
    """For the type checker (never run): the roles of the table in docs/internals.md."""
    recordable: list[RecordableStore] = [memory, redis]
    sessions: list[SessionStore] = [memory, redis, recording]
    sweeps: list[SessionSweeps] = [memory, redis, recording]
    reads: list[PresenceReads] = [memory, redis]
    seeding: list[ChoiceSeeding] = [memory, redis]
    leases: list[InstanceLeases] = [redis]
    recovery: list[SessionRecovery] = [memory, redis]
    durable: DurableStatuses = writer
    del recordable, sessions, sweeps, reads, seeding, leases, recovery, durable
