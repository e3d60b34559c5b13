"""The one place that decides which adapter serves which port."""

from __future__ import annotations

from dependency_injector import containers, providers

from ..adapters.clock import SystemClock
from ..adapters.fanout import FanOutBroadcaster
from ..adapters.jwt.verifier import JwtTokenVerifier
from ..adapters.memory.presence_store import InMemoryPresenceStore
from ..adapters.redis.client import create_redis
from ..adapters.redis.keys import RedisKeys
from ..adapters.redis.presence_store import RedisPresenceStore
from ..adapters.redis.socketio_manager import PooledRedisManager
from ..adapters.redis.updates_publisher import RedisUpdatesPublisher
from ..adapters.socketio.broadcaster import SocketIOBroadcaster
from ..adapters.status_declarations import load_registry
from ..adapters.socketio.server import PresenceSocketServer
from ..adapters.sql.engine import create_engine, sqlite_url
from ..adapters.sql.status_repository import SqlStatusRepository
from ..domain.durable_writer import DurableWriter
from ..domain.use_cases import PresenceService
from .settings import Settings

# Transport limit: a frame over this closes the connection; presence frames are ~100 bytes.
MAX_FRAME_BYTES = 64 * 1024


def database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    return sqlite_url(settings.data_dir / "presence.sqlite3")


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
    redis = providers.Singleton(
        create_redis, settings.provided.shared_presence_url, pool_size=settings.provided.redis_pool_size
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

    # Room emits reach the sockets of every instance through python-socketio's manager.
    client_manager = providers.Selector(
        kind,
        memory=providers.Object(None),
        redis=providers.Singleton(
            PooledRedisManager,
            settings.provided.shared_presence_url,
            channel=settings.provided.socketio_channel,
            pool_size=settings.provided.redis_pool_size,
        ),
    )
    socket_server = providers.Singleton(
        PresenceSocketServer,
        client_manager=client_manager,
        cors_allowed_origins=settings.provided.cors_origins,
        max_http_buffer_size=MAX_FRAME_BYTES,
    )
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
    token_verifier = providers.Singleton(JwtTokenVerifier, jwt_secret, clock)

    presence_service = providers.Singleton(
        PresenceService,
        registry=registry,
        store=presence_store,
        durable=durable_writer,
        broadcaster=broadcaster,
        clock=clock,
        verifier=token_verifier,
        session_ttl=settings.provided.session_ttl,
    )


def build_container(settings: Settings, jwt_secret: str) -> Container:
    if not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Container(settings=settings, jwt_secret=jwt_secret)
