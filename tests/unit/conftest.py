"""A presence service built by the gateway's container (the embedded mode: in-process
store), with fakes for the clock, the durable table, the broadcaster and tokens."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Generic

import pytest
from typing_extensions import TypeVar

from presence_gateway.adapters.memory.presence_store import InMemoryPresenceStore
from presence_gateway.domain.ports import SessionMeta
from presence_gateway.domain.statuses import StatusRegistry
from presence_gateway.service_layer.durable_writer import DurableWriter
from presence_gateway.service_layer.use_cases import PresenceService
from tests.fakes import FakeClock, RecordingBroadcaster, TableTokenVerifier
from tests.memory_status_repository import InMemoryStatusRepository
from tests.support.gateway_container import NO_GRACE, gateway_container

META = SessionMeta(device="web", connected_at=0.0, ip="127.0.0.1")


# The store a world's tests reach past the service; the in-process one unless a module's
# world stands something else in its place.
Store = TypeVar("Store", default=InMemoryPresenceStore)


@dataclass
class World(Generic[Store]):
    service: PresenceService
    store: Store
    repository: InMemoryStatusRepository
    writer: DurableWriter
    broadcaster: RecordingBroadcaster
    clock: FakeClock
    env: Mapping[str, str] = field(default_factory=dict)

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

    def restart(self) -> World:
        """A new process on the same database: the in-process store starts empty."""
        return build_world(self.repository, self.clock, self.service.registry, env=self.env)


def build_world(
    repository: InMemoryStatusRepository | None = None,
    clock: FakeClock | None = None,
    registry: StatusRegistry | None = None,
    *,
    env: Mapping[str, str] | None = None,
) -> World:
    """Production's settings unless ``env`` says otherwise (by variable name)."""
    repository = repository or InMemoryStatusRepository()
    clock = clock or FakeClock()
    broadcaster = RecordingBroadcaster()
    overrides = {"registry": registry} if registry is not None else {}
    container = gateway_container(
        env,
        clock=clock,
        status_repository=repository,
        broadcaster=broadcaster,
        token_verifier=TableTokenVerifier(),
        **overrides,
    )
    return World(
        container.presence_service(),
        container.presence_store(),
        repository,
        container.durable_writer(),
        broadcaster,
        clock,
        dict(env or {}),
    )


@pytest.fixture
def world() -> World:
    """No offline grace: these tests are about what one event does (the grace has its own)."""
    return build_world(env=NO_GRACE)
