"""A presence service wired to in-process adapters and fakes, as the container would."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from presence_gateway.adapters.memory.presence_store import InMemoryPresenceStore
from tests.memory_status_repository import InMemoryStatusRepository
from presence_gateway.service_layer.durable_writer import DurableWriter
from presence_gateway.domain.ports import SessionMeta
from presence_gateway.domain.statuses import StatusRegistry, default_registry
from presence_gateway.service_layer.use_cases import PresenceService
from tests.fakes import FakeClock, RecordingBroadcaster, TableTokenVerifier

META = SessionMeta(device="web", connected_at=0.0, ip="127.0.0.1")


@dataclass
class World:
    service: PresenceService
    store: InMemoryPresenceStore
    repository: InMemoryStatusRepository
    writer: DurableWriter
    broadcaster: RecordingBroadcaster
    clock: FakeClock

    async def durable(self, user_id: str):
        await self.writer.flush()
        return await self.repository.get(user_id)

    async def writes_after(self, action) -> int:
        """Durable writes caused by ``action`` alone."""
        await self.writer.flush()
        before = self.repository.writes
        await action()
        await self.writer.flush()
        return self.repository.writes - before

    def restart(self) -> "World":
        """A new process on the same database: the in-process store starts empty."""
        return build_world(self.repository, self.clock, self.service.registry)


def build_world(
    repository: InMemoryStatusRepository | None = None,
    clock: FakeClock | None = None,
    registry: StatusRegistry | None = None,
    session_ttl: float = 90.0,
) -> World:
    repository = repository or InMemoryStatusRepository()
    clock = clock or FakeClock()
    store = InMemoryPresenceStore()
    writer = DurableWriter(repository, linger=0)
    broadcaster = RecordingBroadcaster()
    service = PresenceService(
        registry=registry or default_registry(),
        sessions=store,
        sweeps=store,
        seeding=store,
        durable=writer,
        broadcaster=broadcaster,
        clock=clock,
        verifier=TableTokenVerifier(),
        session_ttl=session_ttl,
    )
    return World(service, store, repository, writer, broadcaster, clock)


@pytest.fixture
def world() -> World:
    return build_world()
