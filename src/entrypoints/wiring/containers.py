"""The composition root: the one place that decides which adapter serves which port, which
resources an instance opens and closes, and which background jobs it runs.

The deployment mode (``kind``: ``memory`` without Redis, ``redis`` when instances share
presence) is read here and nowhere else; everything that differs between the modes is a
``Selector`` on it. Clients and engines are built synchronously (an app factory runs
before any event loop) and each has a ``Resource`` that owns its lifetime: the lifecycle
opens them with ``init_resources()`` at start and closes them with ``shutdown_resources()``
at stop, which follows their dependencies (the embedded database's engine is disposed
before the data directory's lock is released). Tests build the service from this
container too, with ``.override()`` for the fakes they need.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

from dependency_injector import containers, providers
from sqlalchemy.ext.asyncio import AsyncEngine

from ...adapters.clock import SystemClock
from ...adapters.fanout import FanOutBroadcaster
from ...adapters.jwt.jwks import JwksKeys
from ...adapters.jwt.minter import mint_token
from ...adapters.jwt.verifier import JwtTokenVerifier
from ...adapters.memory.presence_store import InMemoryPresenceStore
from ...adapters.open_policy import OpenAudience
from ...adapters.redis.circuit import RedisCircuit
from ...adapters.redis.client import create_events, create_redis
from ...adapters.redis.cluster_socketio_manager import ClusterRedisManager
from ...adapters.redis.fleet import RedisFleet
from ...adapters.redis.health import RedisHealth, probe_client
from ...adapters.redis.keys import RedisKeys
from ...adapters.redis.presence_store import RedisPresenceStore
from ...adapters.redis.shard_publisher import ShardPublisher
from ...adapters.redis.socketio_manager import PooledRedisManager, pubsub_client
from ...adapters.redis.updates_publisher import RedisUpdatesPublisher
from ...adapters.socketio.broadcaster import SocketIOBroadcaster
from ...adapters.socketio.lean_manager import LocalManager
from ...adapters.socketio.server import PresenceSocketServer
from ...adapters.sql.contacts_policy import SqlContactsAudience
from ...adapters.sql.engine import create_engine
from ...adapters.sql.status_repository import SqlStatusRepository
from ...adapters.status_declarations import load_registry
from ...adapters.timed_writes import TimedWrites
from ...domain.event_budget import EventBudget
from ...domain.sockets_per_user import SocketsPerUser
from ...service_layer.durable_writer import DurableWriter
from ...service_layer.held_sessions import HeldSessions, RecordingStore
from ...service_layer.instance_lease import keep_lease, watch_dead_instances
from ...service_layer.restore import RestoreRequests, SessionRestorer, keep_sessions_restored
from ...service_layer.sweeper import run_sweeper
from ...service_layer.use_cases import PresenceService
from ...service_layer.warm_up import warm_up
from ...service_layer.watching import WatchService
from ..http.cors import socket_origins
from ..http.metrics import GatewayCollector, Latencies, SharedPresenceFigures, metrics_registry
from ..hypercorn_worker import HypercornWorker
from ..limits import MAX_FRAME_BYTES
from ..process.database import database_url, prepare_database
from ..process.lifecycle import Gateway
from ..process.loop_lag import LoopLag
from ..process.single_instance import SingleInstanceLock, claim_single_instance
from ..process.start_line import describe_instance
from ..process.start_steps import forget_previous_run, initialize_manager, load_scripts
from ..sockets.counts import SocketCounts
from ..sockets.gate import SocketGate
from ..sockets.sweeper import SocketSweeper
from .secrets import resolve_jwt_secret
from .settings import Settings


def sql_engine(settings: Settings) -> AsyncEngine:
    """The durable table's engine; the embedded SQLite file's directory made if missing."""
    if not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return create_engine(database_url(settings))


def jwks_keys(url: str | None, clock: SystemClock) -> JwksKeys | None:
    """An identity provider's keys when ``JWT_JWKS_URL`` names one."""
    return JwksKeys(url, clock=clock) if url else None


def presence_kind(settings: Settings) -> str:
    """``redis`` when instances share presence, else the single-process ``memory`` default."""
    return "redis" if settings.shared_presence_url else "memory"


def redis_topology(settings: Settings) -> str:
    """``cluster`` for a Redis Cluster, else ``single`` (one Redis, or one behind Sentinel)."""
    return "cluster" if settings.redis_cluster else "single"


def switch(on: bool) -> str:
    """A flag as a Selector's key."""
    return "on" if on else "off"


def redis_keys(settings: Settings) -> RedisKeys:
    """The cluster layout on a cluster (or when asked for on one Redis), else the guide's."""
    return RedisKeys(settings.redis_cluster_keys or settings.redis_cluster, settings.redis_buckets)


def engineio_transports(settings: Settings) -> list[str]:
    """Long-polling only where every request of a session reaches this process: not with
    several workers on one port (polling_refusal.py)."""
    return ["websocket"] if settings.workers > 1 else ["polling", "websocket"]


def held_data_dir(data_dir: Path | None) -> Iterator[SingleInstanceLock | None]:
    """Without Redis, presence lives in this process: its data directory is locked while it
    serves (single_instance.py). ``None``: nothing to hold (instances share presence)."""
    if data_dir is None:
        yield None
        return
    lock = claim_single_instance(data_dir)
    try:
        yield lock
    finally:
        lock.release()


# The engine and the clients are built by Singletons (their users are built before any
# event loop runs) and connect when first used; these resources own their end.


async def closed_at_stop(client: Any) -> AsyncIterator[Any]:
    """A Redis client, closed at stop (None: not this mode's)."""
    yield client
    if client is not None:
        await client.aclose()


async def disposed_at_stop(engine: AsyncEngine, *outlived: Any) -> AsyncIterator[AsyncEngine]:
    """The engine, disposed at stop. ``outlived``: resources still held while it is
    disposed (``shutdown_resources`` ends a resource's dependents before the resource)."""
    yield engine
    await engine.dispose()


def in_order(*groups: list[Any]) -> list[Any]:
    """The mode's jobs, then the optional ones: one list for the supervisor."""
    return [item for group in groups for item in group]


def redis_only(kind: providers.Provider[str], provider: providers.Provider[Any]) -> providers.Selector[Any]:
    """``provider`` where instances share presence through Redis; nothing in the embedded
    ``memory`` mode."""
    return providers.Selector(kind, memory=providers.Object(None), redis=provider)


class Container(containers.DeclarativeContainer):
    __self__ = providers.Self()
    settings = providers.Dependency(instance_of=Settings)
    # JWT_SECRET_ACCESS, else (outside production) the data directory's development secret.
    jwt_secret = providers.Singleton(resolve_jwt_secret, settings)
    # hypercorn's worker process, when hypercorn's parent runs this one (worker_shutdown.py).
    worker: providers.Object[HypercornWorker | None] = providers.Object(None)

    kind = providers.Callable(presence_kind, settings)

    clock = providers.Singleton(SystemClock)
    registry = providers.Singleton(load_registry, settings.provided.statuses_file)
    latencies = providers.Singleton(Latencies)

    # Resources: built here, opened at start and closed at stop by the lifecycle
    # (init_resources/shutdown_resources).
    instance_lock = providers.Resource(
        held_data_dir, providers.Selector(kind, memory=settings.provided.data_dir, redis=providers.Object(None))
    )
    engine = providers.Singleton(sql_engine, settings)
    engine_resource = providers.Resource(disposed_at_stop, engine, instance_lock)

    # Open while Redis is known to be down: every pool refuses at once (circuit.py).
    redis_circuit = providers.Singleton(RedisCircuit)
    # One client per purpose. Sweeps, leases, scripts: redis-py's pool.
    redis = redis_only(
        kind,
        providers.Singleton(
            create_redis,
            settings.provided.shared_presence_url,
            pool_size=settings.provided.redis_pool_size,
            circuit=redis_circuit,
        ),
    )
    # The socket events' commands and publishes, written together (pipelined.py).
    redis_events = redis_only(
        kind,
        providers.Singleton(create_events, settings.provided.shared_presence_url, circuit=redis_circuit),
    )
    # On a Redis Cluster, cross-instance traffic takes sharded channels (docs/redis.md).
    topology = providers.Callable(redis_topology, settings)
    # python-socketio's manager: its pub/sub listener and, without redis_events, its publishes.
    redis_pubsub = redis_only(
        kind,
        providers.Singleton(
            pubsub_client,
            settings.provided.shared_presence_url,
            pool_size=settings.provided.redis_pool_size,
            circuit=redis_circuit,
        ),
    )
    # Emits and presence:updates leave through the events' connection, or on a cluster
    # through the shard owning each channel (shard_publisher.py).
    redis_shard_publisher = providers.Selector(
        topology,
        single=providers.Object(None),
        cluster=providers.Singleton(
            ShardPublisher,
            settings.provided.shared_presence_url,
            channels=providers.List(settings.provided.socketio_channel, settings.provided.updates_channel),
        ),
    )
    redis_publisher = providers.Selector(topology, single=redis_events, cluster=redis_shard_publisher)
    # The health probe's one connection, outside the circuit (health.py).
    redis_probe = redis_only(
        kind,
        providers.Singleton(probe_client, settings.provided.shared_presence_url),
    )
    redis_resource = providers.Resource(closed_at_stop, redis)
    redis_events_resource = providers.Resource(closed_at_stop, redis_events)
    redis_pubsub_resource = providers.Resource(closed_at_stop, redis_pubsub)
    redis_probe_resource = providers.Resource(closed_at_stop, redis_probe)
    redis_shard_publisher_resource = providers.Resource(closed_at_stop, redis_shard_publisher)

    status_repository = providers.Singleton(SqlStatusRepository, engine)
    durable_writer = providers.Singleton(
        DurableWriter, providers.Singleton(TimedWrites, status_repository, latencies.provided.durable_write.observe)
    )

    # Whether other instances still serve (None: this process is the whole fleet).
    fleet = redis_only(kind, providers.Singleton(RedisFleet, redis))

    presence_store = providers.Selector(
        kind,
        memory=providers.Singleton(InMemoryPresenceStore),
        redis=providers.Singleton(
            RedisPresenceStore,
            redis,
            instance=settings.provided.instance_id,
            session_ttl=settings.provided.session_ttl,
            hidden_statuses=registry.provided.seen_offline.call(),
            keys=providers.Singleton(redis_keys, settings),
            events=redis_events,
        ),
    )

    # The roles each mode's store plays (domain/ports.py): both serve the socket events,
    # sweeps, reads and seeding; only the shared one holds instance leases, and only it
    # can lose this instance's sessions and be given them back (restore.py).
    instance_leases = redis_only(kind, presence_store)

    # With Redis, the use cases' store also keeps what this instance would write back if
    # Redis lost it (held_sessions.py); the restorer does (restore.py).
    restore_requests = providers.Singleton(RestoreRequests)
    service_store = providers.Selector(
        kind,
        memory=presence_store,
        redis=providers.Singleton(
            RecordingStore, presence_store, providers.Singleton(HeldSessions), clock, restore_requests.provided.request
        ),
    )

    # Room emits reach the sockets of every instance through python-socketio's manager.
    client_manager = providers.Selector(
        kind,
        memory=providers.Singleton(LocalManager),
        redis=providers.Selector(
            topology,
            single=providers.Singleton(
                PooledRedisManager,
                redis_pubsub,
                channel=settings.provided.socketio_channel,
                circuit=redis_circuit,
                events=redis_events,
            ),
            # A sharded channel: one shard carries the emits (cluster_socketio_manager.py).
            cluster=providers.Singleton(
                ClusterRedisManager, redis_pubsub, channel=settings.provided.socketio_channel, events=redis_publisher
            ),
        ),
    )
    socket_server = providers.Singleton(
        PresenceSocketServer,
        client_manager=client_manager,
        cors_allowed_origins=providers.Callable(socket_origins, settings),
        cookie=settings.provided.sid_cookie,
        max_http_buffer_size=MAX_FRAME_BYTES,
        max_queued_packets=settings.provided.max_queued_packets,
        transports=providers.Callable(engineio_transports, settings),
    )
    # Per-socket and per-user bounds on what a client may send (sockets/gate.py).
    socket_gate = providers.Singleton(
        SocketGate,
        clock,
        providers.Singleton(EventBudget, settings.provided.events_per_minute),
        providers.Singleton(SocketsPerUser, settings.provided.max_sockets_per_user),
    )
    socket_sweeper = providers.Singleton(SocketSweeper, socket_server, clock, settings.provided.handshake_timeout)
    socket_broadcaster = providers.Singleton(SocketIOBroadcaster, socket_server)
    updates_publisher = providers.Singleton(
        RedisUpdatesPublisher,
        redis_publisher,
        instance=settings.provided.instance_id,
        channel=settings.provided.updates_channel,
    )
    broadcaster = providers.Selector(
        kind,
        memory=socket_broadcaster,
        redis=providers.Singleton(FanOutBroadcaster, socket_broadcaster, updates_publisher),
    )
    token_verifier = providers.Singleton(
        JwtTokenVerifier,
        jwt_secret,
        clock,
        previous_secrets=settings.provided.jwt_previous_secrets,
        issuer=settings.provided.jwt_issuer,
        audience=settings.provided.jwt_audience,
        jwks=providers.Singleton(jwks_keys, settings.provided.jwt_jwks_url, clock),
        jwks_algorithms=settings.provided.jwt_jwks_algorithms,
    )
    loop_lag = providers.Singleton(LoopLag)
    # Development tokens for the demo page, signed as `presence-gateway token` signs them.
    token_minter = providers.Singleton(partial, mint_token, jwt_secret, expires_in=settings.provided.jwt_expires_in)

    presence_service = providers.Singleton(
        PresenceService,
        registry=registry,
        sessions=service_store,
        sweeps=service_store,
        seeding=presence_store,
        durable=durable_writer,
        broadcaster=broadcaster,
        clock=clock,
        verifier=token_verifier,
        leases=instance_leases,
        session_ttl=settings.provided.session_ttl,
        offline_grace=settings.provided.offline_grace,
    )
    session_restorer = providers.Singleton(
        SessionRestorer, recording=service_store, recovery=presence_store, service=presence_service, clock=clock
    )
    redis_health = providers.Singleton(
        RedisHealth,
        redis_probe,
        redis_circuit,
        on_back=restore_requests.provided.request,
        on_round_trip=latencies.provided.store_round_trip.observe,
        listener=client_manager,
    )
    # For /readyz, with Redis: whether it answers and whether this instance hears the others.
    shared_readiness = redis_only(kind, redis_health.provided.readiness
    )

    # Who may watch whom; the contacts table lives in the status repository's database.
    audience_policy = providers.Selector(
        settings.provided.audience,
        open=providers.Singleton(OpenAudience),
        contacts=providers.Singleton(SqlContactsAudience, engine),
    )
    watch_service = providers.Singleton(
        WatchService,
        registry=registry,
        store=presence_store,
        durable=durable_writer,
        policy=audience_policy,
        max_targets=settings.provided.watch_max_targets,
        max_ids=settings.provided.max_ids_per_call,
    )

    socket_counts = providers.Singleton(SocketCounts)
    metrics = providers.Singleton(
        metrics_registry,
        latencies,
        providers.Singleton(
            GatewayCollector,
            socket_server,
            presence_service,
            durable_writer,
            socket_counts,
            redis_only(
                kind,
                providers.Singleton(
                    SharedPresenceFigures,
                    redis_circuit,
                    presence_service,
                    session_restorer,
                    client_manager,
                    updates_publisher,
                ),
            ),
        ),
    )

    # Awaited in order once the resources are open, before the background jobs start.
    start_steps = providers.Selector(
        kind,
        memory=providers.List(
            providers.Callable(partial, prepare_database, engine, settings),  # upgrade, or check in production
            providers.Callable(partial, forget_previous_run, status_repository, clock),
        ),
        redis=providers.List(
            providers.Callable(partial, prepare_database, engine, settings),
            providers.Callable(partial, load_scripts, presence_store),
            providers.Callable(partial, initialize_manager, socket_server),
        ),
    )
    # The supervisor's jobs (background.py), started in this order, each ready when it says.
    _every_mode_jobs = (
        durable_writer.provided.run,
        providers.Callable(partial, run_sweeper, presence_service, settings.provided.sweep_interval),
        providers.Callable(partial, warm_up, presence_service),
        socket_sweeper.provided.run,  # handshake deadline and token expiry, for every socket
    )
    background_jobs = providers.Callable(
        in_order,
        providers.Selector(
            kind,
            memory=providers.List(*_every_mode_jobs),
            redis=providers.List(
                *_every_mode_jobs,
                providers.Callable(partial, keep_lease, presence_service, settings.provided.lease_ttl),
                providers.Callable(
                    partial, watch_dead_instances, presence_service, settings.provided.lease_check_interval
                ),
                # Redis outages: the prober (circuit, /readyz), python-socketio's listener,
                # and the restore of this instance's sessions after Redis lost them.
                redis_health.provided.run,
                client_manager.provided.run,
                providers.Callable(partial, keep_sessions_restored, session_restorer, restore_requests),
            ),
        ),
        providers.Selector(
            providers.Callable(switch, settings.provided.loop_monitor),
            on=providers.List(loop_lag.provided.run),
            off=providers.List(),
        ),
    )
    del _every_mode_jobs

    start_line = providers.Callable(describe_instance, settings, kind)
    gateway = providers.Singleton(
        Gateway,
        open_resources=__self__.provided.init_resources,
        close_resources=__self__.provided.shutdown_resources,
        start_steps=start_steps,
        jobs=background_jobs,
        service=presence_service,
        writer=durable_writer,
        sio=socket_server,
        fleet=fleet,
        clock=clock,
        start_line=start_line,
        worker=worker,
    )


def build_container(settings: Settings, worker: HypercornWorker | None = None) -> Container:
    return Container(settings=settings, worker=worker)


@asynccontextmanager
async def database_engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """The gateway's engine for a one-off task (``db`` commands, the schema check before
    serving), in an event loop of its own, disposed after."""
    engine = Container(settings=settings).engine()
    try:
        yield engine
    finally:
        await engine.dispose()
