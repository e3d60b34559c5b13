"""The one place that decides which adapter serves which port."""

from __future__ import annotations

from dependency_injector import containers, providers

from ..adapters.clock import SystemClock
from ..adapters.jwt.verifier import JwtTokenVerifier
from ..adapters.memory.presence_store import InMemoryPresenceStore
from ..adapters.socketio.broadcaster import SocketIOBroadcaster
from ..adapters.socketio.server import PresenceSocketServer
from ..adapters.sql.engine import create_engine, sqlite_url
from ..adapters.sql.status_repository import SqlStatusRepository
from ..domain.durable_writer import DurableWriter
from ..domain.statuses import default_registry
from ..domain.use_cases import PresenceService
from .settings import ConfigError, Settings

# Transport limit: a frame over this closes the connection; presence frames are ~100 bytes.
MAX_FRAME_BYTES = 64 * 1024


def database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    return sqlite_url(settings.data_dir / "presence.sqlite3")


def check_supported(settings: Settings) -> None:
    if settings.cache_host or settings.redis_url:
        raise ConfigError(
            "CACHE_HOST/REDIS_URL is set, but this version keeps presence in-process only; "
            "unset it to run a single instance"
        )


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    jwt_secret = providers.Dependency(instance_of=str)

    clock = providers.Singleton(SystemClock)
    registry = providers.Singleton(default_registry)

    engine = providers.Singleton(create_engine, providers.Callable(database_url, settings))
    status_repository = providers.Singleton(SqlStatusRepository, engine)
    durable_writer = providers.Singleton(DurableWriter, status_repository)

    presence_store = providers.Singleton(InMemoryPresenceStore)

    socket_server = providers.Singleton(
        PresenceSocketServer,
        cors_allowed_origins=settings.provided.cors_origins,
        max_http_buffer_size=MAX_FRAME_BYTES,
    )
    broadcaster = providers.Singleton(SocketIOBroadcaster, socket_server)
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
    check_supported(settings)
    if not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Container(settings=settings, jwt_secret=jwt_secret)
