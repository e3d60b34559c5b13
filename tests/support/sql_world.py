"""The presence service built by the gateway's container — in-process store, write-behind,
SQL repository — on an engine of the caller's, for tests and benchmarks that count what
reaches the database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

from dependency_injector import providers
from sqlalchemy.ext.asyncio import AsyncEngine

from presence_gateway.adapters.sql import migrate
from presence_gateway.adapters.sql.engine import create_engine
from presence_gateway.adapters.sql.status_repository import SqlStatusRepository
from presence_gateway.domain.ports import SessionMeta
from presence_gateway.service_layer.durable_writer import DurableWriter
from presence_gateway.service_layer.use_cases import PresenceService
from tests.fakes import RecordingBroadcaster, TableTokenVerifier
from tests.support.gateway_container import gateway_container
from tests.support.postgres_server import IsolatedSchema

META = SessionMeta(device="web", connected_at=0.0, ip="127.0.0.1")


@dataclass
class SqlWorld:
    service: PresenceService
    writer: DurableWriter
    repository: SqlStatusRepository

    async def stored(self, user_id: str) -> tuple[str, str | None] | None:
        record = await self.repository.get(user_id)
        return None if record is None else (record.status, record.chosen)


def sql_world(engine: AsyncEngine, env: Mapping[str, str] | None = None, **writer_options: float) -> SqlWorld:
    """``env``: settings by their variable names (production's otherwise); ``writer_options``:
    the write-behind's own (``linger`` …), when a test measures against them."""
    container = gateway_container(
        env, engine=engine, broadcaster=RecordingBroadcaster(), token_verifier=TableTokenVerifier()
    )
    if writer_options:
        container.durable_writer.override(
            providers.Singleton(DurableWriter, container.status_repository, **writer_options)
        )
    return SqlWorld(container.presence_service(), container.durable_writer(), container.status_repository())


@asynccontextmanager
async def migrated_postgres(url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a schema of the caller's own, migrated, dropped afterwards."""
    async with IsolatedSchema(url) as schema:
        engine = create_engine(url, schema=schema)
        try:
            await migrate.upgrade(engine)
            yield engine
        finally:
            await engine.dispose()


async def two_tab_cycle(
    service: PresenceService, user: str, settle: Callable[[], Awaitable[None]] | None = None
) -> None:
    """A user opens two tabs, both ping, then closes them; ``settle`` runs after each step."""
    for step in (
        lambda: service.connect(user, "tab1", META),
        lambda: service.connect(user, "tab2", META),
        lambda: service.heartbeat(user, "tab1", META),
        lambda: service.heartbeat(user, "tab2", META),
        lambda: service.disconnect(user, "tab2"),
        lambda: service.disconnect(user, "tab1"),
    ):
        await step()
        if settle is not None:
            await settle()
