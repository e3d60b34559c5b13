"""The embedded default: one process, presence in its memory, the durable record in a
SQLite file. No Redis, so nothing crosses instances: this process is the whole fleet and
holds its data directory while it serves, so a second one cannot split presence."""

from __future__ import annotations

from functools import partial

from dependency_injector import containers, providers

from ...adapters.memory.presence_store import InMemoryPresenceStore
from ...adapters.memory.user_blocks import InMemoryUserBlocks
from ...adapters.sql.change_stream import SqlChangeStream, SqlDeliveryLog
from ...compat.lean_manager import LocalManager
from ..process.start_steps import forget_previous_run
from .resources import disposed_at_stop, flushed_at_stop, held_data_dir


class Embedded(containers.DeclarativeContainer):
    core = providers.DependenciesContainer()

    shape_name = providers.Object("embedded")
    shared_redis_url: providers.Object[None] = providers.Object(None)
    instance_lock = providers.Resource(held_data_dir, core.settings.provided.server.data_dir)
    # Disposed before the lock is released: no other process opens the file meanwhile.
    engine_resource = providers.Resource(disposed_at_stop, core.engine, instance_lock)
    presence_store = providers.Singleton(
        InMemoryPresenceStore,
        core.clock,
        core.shown_decays,
        instance=core.settings.provided.server.instance_id,
        session_ttl=core.settings.provided.timing.session_ttl,
    )
    service_store = presence_store
    pings_may_wait: providers.Object[None] = providers.Object(None)  # a ping costs no round trip here
    server_reads = presence_store
    user_blocks = providers.Singleton(InMemoryUserBlocks)
    # The change stream in the database (the SQLite file, or DATABASE_URL's PostgreSQL).
    change_stream = providers.Singleton(
        SqlChangeStream,
        core.engine,
        core.clock,
        maxlen=core.settings.provided.server_api.stream_maxlen,
        instance=core.settings.provided.server.instance_id,
    )
    change_stream_resource = providers.Resource(flushed_at_stop, change_stream, engine_resource)
    delivery_log = providers.Singleton(SqlDeliveryLog, core.engine, change_stream)
    instance_leases: providers.Object[None] = providers.Object(None)
    fleet: providers.Object[None] = providers.Object(None)
    client_manager = providers.Singleton(LocalManager)
    broadcaster = core.socket_broadcaster
    shared_readiness: providers.Object[None] = providers.Object(None)
    shared_figures: providers.Object[None] = providers.Object(None)
    # The previous run of this process left its users online in the file: nobody is now.
    shape_start_steps = providers.List(providers.Callable(partial, forget_previous_run, core.status_repository, core.clock))
    shape_jobs = providers.List()
    shape_resources = providers.List()
