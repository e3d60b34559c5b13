"""The presence service wired as the container wires it — in-process store, write-behind,
SQL repository — on an engine of the caller's, for tests and benchmarks that count what
reaches the database."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from presence_gateway.adapters.clock import SystemClock
from presence_gateway.adapters.memory.presence_store import InMemoryPresenceStore
from presence_gateway.adapters.sql.status_repository import SqlStatusRepository
from presence_gateway.domain.durable_writer import DurableWriter
from presence_gateway.domain.ports import SessionMeta
from presence_gateway.domain.statuses import default_registry
from presence_gateway.domain.use_cases import PresenceService
from tests.fakes import RecordingBroadcaster, TableTokenVerifier

META = SessionMeta(device="web", connected_at=0.0, ip="127.0.0.1")


@dataclass
class SqlWorld:
    service: PresenceService
    writer: DurableWriter
    repository: SqlStatusRepository

    async def stored(self, user_id: str) -> tuple[str, str | None] | None:
        record = await self.repository.get(user_id)
        return None if record is None else (record.status, record.chosen)


def sql_world(engine: AsyncEngine, **writer_options: float) -> SqlWorld:
    repository = SqlStatusRepository(engine)
    writer = DurableWriter(repository, **writer_options)
    service = PresenceService(
        registry=default_registry(),
        store=InMemoryPresenceStore(),
        durable=writer,
        broadcaster=RecordingBroadcaster(),
        clock=SystemClock(),
        verifier=TableTokenVerifier(),
    )
    return SqlWorld(service, writer, repository)
