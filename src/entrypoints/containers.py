"""The one place that decides which adapter serves which port."""

from __future__ import annotations

from functools import partial

from dependency_injector import containers, providers

from ..adapters.clock import SystemClock
from ..adapters.fanout import FanOutBroadcaster
from ..adapters.jwt.jwks import JwksKeys
from ..adapters.jwt.minter import mint_token
from ..adapters.jwt.verifier import JwtTokenVerifier
from ..adapters.memory.presence_store import InMemoryPresenceStore
from ..adapters.open_policy import OpenAudience
from ..adapters.redis.circuit import RedisCircuit
from ..adapters.redis.fleet import RedisFleet
from ..adapters.redis.client import create_redis
from ..adapters.redis.pipelined import PipelinedRedis
from ..adapters.redis.health import RedisHealth
from ..adapters.redis.keys import RedisKeys
from ..adapters.redis.presence_store import RedisPresenceStore
from ..adapters.redis.socketio_manager import PooledRedisManager
from ..adapters.redis.updates_publisher import RedisUpdatesPublisher
from ..adapters.socketio.broadcaster import SocketIOBroadcaster
from ..adapters.socketio.lean_manager import LocalManager
from ..adapters.status_declarations import load_registry
from ..adapters.timed_writes import TimedWrites
from ..adapters.socketio.server import PresenceSocketServer
from ..adapters.sql.contacts_policy import SqlContactsAudience
from ..adapters.sql.engine import create_engine, sqlite_url
from ..adapters.sql.status_repository import SqlStatusRepository
from ..service_layer.durable_writer import DurableWriter
from ..domain.event_budget import EventBudget
from ..domain.sockets_per_user import SocketsPerUser
from ..service_layer.held_sessions import HeldSessions, RecordingStore
from ..service_layer.restore import RestoreRequests, SessionRestorer
from ..service_layer.use_cases import PresenceService
from ..service_layer.watching import WatchService
from .cors import socket_origins
from .loop_lag import LoopLag
from .metrics import Latencies
from .settings import Settings
from .socket_gate import SocketGate
from .socket_sweeper import SocketSweeper

# Transport limit: a frame over this closes the connection; presence frames are ~100 bytes.
MAX_FRAME_BYTES = 64 * 1024


def database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    return sqlite_url(settings.data_dir / "presence.sqlite3")


def jwks_keys(url: str | None, clock: SystemClock) -> JwksKeys | None:
    """An identity provider's keys when ``JWT_JWKS_URL`` names one."""
    return JwksKeys(url, clock=clock) if url else None


def presence_kind(settings: Settings) -> str:
    """``redis`` when instances share presence, else the single-process ``memory`` default."""
    return "redis" if settings.shared_presence_url else "memory"


def engineio_transports(settings: Settings) -> list[str]:
    """Long-polling only where every request of a session reaches this process: not with
    several workers on one port (polling_refusal.py)."""
    return ["websocket"] if settings.workers > 1 else ["polling", "websocket"]


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    jwt_secret = providers.Dependency(instance_of=str)

    clock = providers.Singleton(SystemClock)
    registry = providers.Singleton(load_registry, settings.provided.statuses_file)

    engine = providers.Singleton(create_engine, providers.Callable(database_url, settings))
    status_repository = providers.Singleton(SqlStatusRepository, engine)
    latencies = providers.Singleton(Latencies)
    durable_writer = providers.Singleton(
        DurableWriter, providers.Singleton(TimedWrites, status_repository, latencies.provided.durable_write.observe)
    )

    kind = providers.Callable(presence_kind, settings)
    # Open while Redis is known to be down: every pool refuses at once (circuit.py).
    redis_circuit = providers.Singleton(RedisCircuit)
    redis = providers.Singleton(
        create_redis,
        settings.provided.shared_presence_url,
        pool_size=settings.provided.redis_pool_size,
        circuit=redis_circuit,
    )
    # The socket events' commands and publishes, written together (pipelined.py).
    redis_events = providers.Singleton(
        PipelinedRedis, settings.provided.shared_presence_url, circuit=redis_circuit
    )

    # Whether other instances still serve (None: this process is the whole fleet).
    fleet = providers.Selector(kind, memory=providers.Object(None), redis=providers.Singleton(RedisFleet, redis))

    presence_store = providers.Selector(
        kind,
        memory=providers.Singleton(InMemoryPresenceStore),
        redis=providers.Singleton(
            RedisPresenceStore,
            redis,
            instance=settings.provided.instance_id,
            session_ttl=settings.provided.session_ttl,
            hidden_statuses=registry.provided.seen_offline.call(),
            keys=providers.Singleton(RedisKeys, settings.provided.redis_cluster_keys),
            events=redis_events,
        ),
    )

    # The roles each mode's store plays (domain/ports.py): both serve the socket events,
    # sweeps, reads and seeding; only the shared one holds instance leases, and only it
    # can lose this instance's sessions and be given them back (restore.py).
    instance_leases = providers.Selector(kind, memory=providers.Object(None), redis=presence_store)

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
        redis=providers.Singleton(
            PooledRedisManager,
            settings.provided.shared_presence_url,
            channel=settings.provided.socketio_channel,
            pool_size=settings.provided.redis_pool_size,
            circuit=redis_circuit,
            events=redis_events,
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
    # Per-socket and per-user bounds on what a client may send (socket_gate.py).
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
        redis_events,
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
        settings.provided.shared_presence_url,
        redis_circuit,
        on_back=restore_requests.provided.request,
        on_round_trip=latencies.provided.store_round_trip.observe,
        listener=client_manager,
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

def build_container(settings: Settings, jwt_secret: str) -> Container:
    if not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Container(settings=settings, jwt_secret=jwt_secret)
