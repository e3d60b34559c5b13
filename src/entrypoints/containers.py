"""The one place that decides which adapter serves which port."""

from __future__ import annotations

from dependency_injector import containers, providers

from ..adapters.clock import SystemClock
from ..adapters.fanout import FanOutBroadcaster
from ..adapters.jwt.jwks import JwksKeys
from ..adapters.jwt.verifier import JwtTokenVerifier
from ..adapters.memory.presence_store import InMemoryPresenceStore
from ..adapters.open_policy import OpenAudience
from ..adapters.redis.circuit import RedisCircuit
from ..adapters.redis.client import create_redis
from ..adapters.redis.health import RedisHealth
from ..adapters.redis.keys import RedisKeys
from ..adapters.redis.presence_store import RedisPresenceStore
from ..adapters.redis.socketio_manager import PooledRedisManager
from ..adapters.redis.updates_publisher import RedisUpdatesPublisher
from ..adapters.socketio.broadcaster import SocketIOBroadcaster
from ..adapters.status_declarations import load_registry
from ..adapters.socketio.server import PresenceSocketServer
from ..adapters.sql.contacts_policy import SqlContactsAudience
from ..adapters.sql.engine import create_engine, sqlite_url
from ..adapters.sql.status_repository import SqlStatusRepository
from ..domain.durable_writer import DurableWriter
from ..domain.event_budget import EventBudget
from ..domain.sockets_per_user import SocketsPerUser
from ..domain.held_sessions import HeldSessions, RecordingStore
from ..domain.restore import RestoreRequests, SessionRestorer
from ..domain.use_cases import PresenceService
from ..domain.watching import WatchService
from .cors import socket_origins
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


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    jwt_secret = providers.Dependency(instance_of=str)

    clock = providers.Singleton(SystemClock)
    registry = providers.Singleton(load_registry, settings.provided.statuses_file)

    engine = providers.Singleton(create_engine, providers.Callable(database_url, settings))
    status_repository = providers.Singleton(SqlStatusRepository, engine)
    durable_writer = providers.Singleton(DurableWriter, status_repository)

    kind = providers.Callable(presence_kind, settings)
    # Open while Redis is known to be down: every pool refuses at once (circuit.py).
    redis_circuit = providers.Singleton(RedisCircuit)
    redis = providers.Singleton(
        create_redis,
        settings.provided.shared_presence_url,
        pool_size=settings.provided.redis_pool_size,
        circuit=redis_circuit,
    )

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
        ),
    )

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
        memory=providers.Object(None),
        redis=providers.Singleton(
            PooledRedisManager,
            settings.provided.shared_presence_url,
            channel=settings.provided.socketio_channel,
            pool_size=settings.provided.redis_pool_size,
            circuit=redis_circuit,
        ),
    )
    socket_server = providers.Singleton(
        PresenceSocketServer,
        client_manager=client_manager,
        cors_allowed_origins=providers.Callable(socket_origins, settings),
        max_http_buffer_size=MAX_FRAME_BYTES,
        max_queued_packets=settings.provided.max_queued_packets,
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
    broadcaster = providers.Selector(
        kind,
        memory=socket_broadcaster,
        redis=providers.Singleton(
            FanOutBroadcaster,
            socket_broadcaster,
            providers.Singleton(
                RedisUpdatesPublisher,
                redis,
                instance=settings.provided.instance_id,
                channel=settings.provided.updates_channel,
            ),
        ),
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

    presence_service = providers.Singleton(
        PresenceService,
        registry=registry,
        store=service_store,
        durable=durable_writer,
        broadcaster=broadcaster,
        clock=clock,
        verifier=token_verifier,
        session_ttl=settings.provided.session_ttl,
        offline_grace=settings.provided.offline_grace,
    )
    session_restorer = providers.Singleton(SessionRestorer, store=service_store, service=presence_service, clock=clock)
    redis_health = providers.Singleton(
        RedisHealth,
        settings.provided.shared_presence_url,
        redis_circuit,
        on_back=restore_requests.provided.request,
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
