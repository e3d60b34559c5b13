"""What every instance is made of, whatever its deployment shape: the service, the socket
server and its gate, the durable record, tokens, watching, metrics, the start steps and
the background jobs, in the order the lifecycle runs them.

What differs between shapes — where presence lives, how emits reach other instances, which
clients open and close, which extra steps and jobs run — is a ``Dependency`` below, given
by the shape's container (``embedded.py``, ``redis.py``), which ``containers.py`` chooses
once and lays over this one.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from dependency_injector import containers, providers
from sqlalchemy.ext.asyncio import AsyncEngine

from ...adapters.clock import SystemClock
from ...adapters.jwt.jwks import JwksKeys
from ...adapters.jwt.minter import mint_token
from ...adapters.jwt.verifier import JwtTokenVerifier
from ...adapters.open_policy import OpenAudience
from ...adapters.socketio.broadcaster import SocketIOBroadcaster
from ...adapters.socketio.server import PresenceSocketServer
from ...adapters.socketio.socket_control import SocketIOControl
from ...adapters.sql.contacts_policy import SqlContactsAudience
from ...adapters.sql.engine import create_engine
from ...adapters.sql.status_repository import SqlStatusRepository
from ...adapters.status_declarations import load_registry
from ...adapters.timed_writes import TimedWrites
from ...compat.hypercorn_worker import HypercornWorker
from ...domain.budget import Budget
from ...domain.rich_presence import ShownDecays
from ...domain.sockets_per_user import SocketsPerUser
from ...service_layer.durable_writer import DurableWriter
from ...service_layer.held_pings import HeldPings
from ...service_layer.server_api import ServerPresence
from ...service_layer.sweeper import run_sweeper
from ...service_layer.use_cases import PresenceService
from ...service_layer.warm_up import warm_up
from ...service_layer.watching import WatchService
from ..http.cors import socket_origins
from ..http.metrics import GatewayCollector, Latencies, metrics_registry
from ..http.server_api import ServerApiCounts
from ..http.server_api_metrics import ServerApiFigures
from ..limits import MAX_FRAME_BYTES
from ..process.database import database_url, prepare_database
from ..process.lifecycle import Gateway
from ..process.loop_lag import LoopLag
from ..process.start_line import describe_instance
from ..sockets.counts import SocketCounts
from ..sockets.gate import SocketGate
from ..sockets.sweeper import SocketSweeper
from . import server_api as api
from .secrets import resolve_jwt_secret
from .service_keys import service_keys
from .settings import Settings


def sql_engine(settings: Settings) -> AsyncEngine:
    """The durable table's engine; the embedded SQLite file's directory made if missing."""
    if not settings.database.url:
        settings.server.data_dir.mkdir(parents=True, exist_ok=True)
    return create_engine(database_url(settings))


def jwks_keys(url: str | None, clock: SystemClock) -> JwksKeys | None:
    """An identity provider's keys when ``JWT_JWKS_URL`` names one."""
    return JwksKeys(url, clock=clock) if url else None


def engineio_transports(worker: HypercornWorker | None) -> list[str]:
    """Long-polling only where every request of a session reaches this process: not with
    several workers on one port (polling_refusal.py)."""
    return ["websocket"] if worker is not None and worker.workers > 1 else ["polling", "websocket"]


def in_order(*groups: list[Any]) -> list[Any]:
    """One list for the supervisor: every shape's jobs, the shape's own, the optional ones."""
    return [item for group in groups for item in group]


def optional_jobs(loop_monitor: bool, loop_lag: LoopLag) -> list[Any]:
    return [loop_lag.run] if loop_monitor else []


def held_pings(
    store_answers: Callable[[], bool] | None, sweep_interval: float, session_ttl: float
) -> HeldPings | None:
    return None if store_answers is None else HeldPings(store_answers, sweep_interval, session_ttl)


class Core(containers.DeclarativeContainer):
    __self__ = providers.Self()
    settings = providers.Dependency(instance_of=Settings)
    # hypercorn's worker process, when hypercorn's parent runs this one (worker_shutdown.py).
    worker: providers.Object[HypercornWorker | None] = providers.Object(None)

    # Given by the deployment shape (embedded.py, redis.py).
    shape_name = providers.Dependency(instance_of=str)
    shared_redis_url: providers.Dependency[str | None] = providers.Dependency()  # None: nothing is shared
    engine_resource: providers.Dependency[Any] = providers.Dependency()  # disposes the engine at stop
    instance_lock: providers.Dependency[Any] = providers.Dependency()  # what this process holds, or None
    presence_store: providers.Dependency[Any] = providers.Dependency()  # every role but the use cases' sessions and sweeps
    service_store: providers.Dependency[Any] = providers.Dependency()  # the use cases' sessions and sweeps
    # Whether the store answers, so a ping may wait for the next sweep (held_pings.py); None: never.
    pings_may_wait: providers.Dependency[Any] = providers.Dependency()
    instance_leases: providers.Dependency[Any] = providers.Dependency()  # None: this process is the only instance
    fleet: providers.Dependency[Any] = providers.Dependency()  # whether other instances still serve, or None
    client_manager: providers.Dependency[Any] = providers.Dependency()  # python-socketio's manager: room emits everywhere
    broadcaster: providers.Dependency[Any] = providers.Dependency()  # every change, to sockets (and beyond)
    shared_readiness: providers.Dependency[Any] = providers.Dependency()  # for /readyz: None, or Redis's answer
    shared_figures: providers.Dependency[Any] = providers.Dependency()  # metrics only the shared store has, or None
    # The server API's: its reads, the blocks of disconnected users, the change stream and
    # the webhooks' consumer group on it.
    server_reads: providers.Dependency[Any] = providers.Dependency()
    user_blocks: providers.Dependency[Any] = providers.Dependency()
    change_stream: providers.Dependency[Any] = providers.Dependency()
    delivery_log: providers.Dependency[Any] = providers.Dependency()
    shape_start_steps: providers.Dependency[list[Any]] = providers.Dependency()
    shape_jobs: providers.Dependency[list[Any]] = providers.Dependency()
    shape_resources: providers.Dependency[list[Any]] = providers.Dependency()  # their clients, closed at stop

    # JWT_SECRET_ACCESS, else (outside production) the data directory's development secret.
    jwt_secret = providers.Singleton(resolve_jwt_secret, settings)
    clock = providers.Singleton(SystemClock)
    registry = providers.Singleton(load_registry, settings.provided.statuses.statuses_file)
    # The stores apply decay to the shown status in the socket events' own call.
    shown_decays = providers.Singleton(ShownDecays.of, registry)
    latencies = providers.Singleton(Latencies)

    # The durable record. Its engine's end is the shape's (the embedded one disposes it
    # while the data directory is still held).
    engine = providers.Singleton(sql_engine, settings)
    status_repository = providers.Singleton(SqlStatusRepository, engine)
    durable_writer = providers.Singleton(
        DurableWriter, providers.Singleton(TimedWrites, status_repository, latencies.provided.durable_write.observe)
    )

    socket_server = providers.Singleton(
        PresenceSocketServer,
        client_manager=client_manager,
        cors_allowed_origins=providers.Callable(socket_origins, settings),
        cookie=settings.provided.server.sid_cookie,
        max_http_buffer_size=MAX_FRAME_BYTES,
        max_queued_packets=settings.provided.limits.max_queued_packets,
        max_queued_bytes=settings.provided.limits.max_queued_bytes,
        transports=providers.Callable(engineio_transports, worker),
    )
    # Per-socket and per-user bounds on what a client may send (sockets/gate.py).
    socket_gate = providers.Singleton(
        SocketGate,
        clock,
        providers.Singleton(Budget, settings.provided.limits.socket_budget),
        providers.Singleton(SocketsPerUser, settings.provided.limits.max_sockets_per_user),
        providers.Singleton(Budget, settings.provided.limits.user_budget),
        providers.Singleton(Budget, settings.provided.limits.connects_per_user),
        providers.Singleton(Budget, settings.provided.limits.connects_per_address),
    )
    socket_sweeper = providers.Singleton(
        SocketSweeper, socket_server, clock, settings.provided.limits.handshake_timeout
    )
    socket_broadcaster = providers.Singleton(SocketIOBroadcaster, socket_server)
    tokens = settings.provided.tokens
    token_verifier = providers.Singleton(
        JwtTokenVerifier,
        jwt_secret,
        clock,
        previous_secrets=tokens.previous_secrets,
        issuer=tokens.issuer,
        audience=tokens.audience,
        jwks=providers.Singleton(jwks_keys, tokens.jwks_url, clock),
        jwks_algorithms=tokens.jwks_algorithms,
    )
    # Development tokens for the demo page, signed as `presence-gateway token` signs them.
    token_minter = providers.Singleton(partial, mint_token, jwt_secret, expires_in=tokens.expires_in)
    del tokens
    loop_lag = providers.Singleton(LoopLag)

    # The server API: off (None) without a service key.
    service_keys = providers.Singleton(service_keys, settings)
    stream_kept = providers.Singleton(api.stream_kept, settings, service_keys)
    changes_broadcaster = providers.Singleton(api.with_stream, broadcaster, change_stream, stream_kept)

    presence_service = providers.Singleton(
        PresenceService,
        registry=registry,
        sessions=service_store,
        sweeps=service_store,
        seeding=presence_store,
        durable=durable_writer,
        broadcaster=changes_broadcaster,
        clock=clock,
        verifier=token_verifier,
        leases=instance_leases,
        session_ttl=settings.provided.timing.session_ttl,
        offline_grace=settings.provided.timing.offline_grace,
        held_pings=providers.Singleton(
            held_pings, pings_may_wait, settings.provided.timing.sweep_interval, settings.provided.timing.session_ttl
        ),
    )

    # Who may watch whom; the contacts table lives in the status repository's database.
    audience_policy = providers.Selector(
        settings.provided.statuses.audience,
        open=providers.Singleton(OpenAudience),
        contacts=providers.Singleton(SqlContactsAudience, engine),
    )
    watch_service = providers.Singleton(
        WatchService,
        registry=registry,
        store=presence_store,
        durable=durable_writer,
        policy=audience_policy,
        max_targets=settings.provided.limits.watch_max_targets,
        max_ids=settings.provided.limits.max_ids_per_call,
    )

    server_presence = providers.Singleton(
        ServerPresence,
        registry=registry,
        service=presence_service,
        store=presence_store,
        reads=server_reads,
        durable=durable_writer,
        blocks=user_blocks,
        sockets=providers.Singleton(SocketIOControl, socket_server),
        clock=clock,
        max_ids=settings.provided.limits.max_ids_per_call,
    )
    server_api_counts = providers.Singleton(ServerApiCounts)
    webhook_sender = providers.Singleton(api.webhook_sender, settings)
    webhook_sender_resource = providers.Resource(api.closed_sender, webhook_sender)
    webhook_deliverer = providers.Singleton(api.webhook_deliverer, settings, delivery_log, webhook_sender, clock)
    server_api_figures = providers.Singleton(
        ServerApiFigures,
        server_api_counts,
        providers.Callable(lambda kept, stream: stream if kept else None, stream_kept, change_stream),
        webhook_deliverer,
    )

    socket_counts = providers.Singleton(SocketCounts)
    metrics = providers.Singleton(
        metrics_registry,
        latencies,
        providers.Singleton(
            GatewayCollector, socket_server, presence_service, durable_writer, socket_counts, shared_figures
        ),
        server_api_figures,
    )

    # Awaited in order once the resources are open, before the background jobs start.
    start_steps = providers.Callable(
        in_order,
        providers.List(providers.Callable(partial, prepare_database, engine, settings)),  # upgrade, or check
        shape_start_steps,
    )
    # The supervisor's jobs (background.py), started in this order, each ready when it says.
    background_jobs = providers.Callable(
        in_order,
        providers.List(
            durable_writer.provided.run,
            providers.Callable(partial, run_sweeper, presence_service, settings.provided.timing.sweep_interval),
            providers.Callable(partial, warm_up, presence_service),
            socket_sweeper.provided.run,  # handshake deadline and token expiry, for every socket
        ),
        shape_jobs,
        providers.Callable(optional_jobs, settings.provided.server.loop_monitor, loop_lag),
        providers.Callable(api.server_api_jobs, stream_kept, change_stream, server_api_figures, webhook_deliverer),
    )

    start_line = providers.Callable(describe_instance, settings, shape_name, shared_redis_url, service_keys)
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
