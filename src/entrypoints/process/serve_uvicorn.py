"""``presence-gateway serve --server uvicorn``: the same app under uvicorn, for teams who
can choose their server and want to compare.

hypercorn stays the deployment the README documents (its config, ``--workers``, TLS, and
the transport defences of docs/security.md, which live in its protocol path). Under
uvicorn the app, its events and its store calls are the same; the HTTP/1.1 parser is
llhttp (httptools) and WebSocket framing is websockets' sans-I/O protocol, as uvicorn
ships them. What differs, said where it matters:

- one process only (uvicorn's multi-process supervisor is not hypercorn's: no parent
  shutdown to follow, no shared listen socket set up here);
- the request deadline and the handshake slots are hypercorn-path code; uvicorn has its
  own keep-alive timeout and backlog, and nothing that cuts a trickled body;
- uvicorn's own WebSocket pings are off: Engine.IO pings every 25 s already.

The stop is the gateway's, as under hypercorn: on SIGINT/SIGTERM every socket is told to
close first, then the server stops accepting and ends, so clients do not wait out a
graceful timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ...adapters.addresses import bracketed
from ..asgi import GatewayApp, create_app
from ..limits import MAX_FRAME_BYTES
from ..wiring.settings import ConfigError, Settings
from .serve import LISTEN_BACKLOG, _run, prepare_database_now

if TYPE_CHECKING:  # uvicorn is an optional dependency: imported where it serves
    import uvicorn

log = logging.getLogger(__name__)

# What is left of open connections gets this long once every socket was told to close.
GRACEFUL_TIMEOUT = 2


def uvicorn_config(app: GatewayApp, settings: Settings) -> uvicorn.Config:
    import uvicorn

    return uvicorn.Config(
        app,
        http="httptools",
        ws="websockets-sansio",
        ws_max_size=MAX_FRAME_BYTES,
        ws_per_message_deflate=settings.server.ws_deflate,
        ws_ping_interval=None,
        ws_ping_timeout=None,
        lifespan="on",
        log_config=None,  # logs.py configured logging already
        access_log=False,
        proxy_headers=False,  # the app believes X-Forwarded-For only from PRESENCE_TRUSTED_PROXIES
        server_header=False,
        backlog=LISTEN_BACKLOG,
        timeout_graceful_shutdown=GRACEFUL_TIMEOUT,
        log_level=logging.WARNING,  # uvicorn logs every WebSocket accept and close at INFO
    )


def _listen(settings: Settings) -> list[socket.socket]:
    """The public port and, when set, the metrics port: bound before the app starts, so a
    port in use is one line and exit code 2."""
    ports = [settings.server.port]
    if settings.server.metrics_port is not None:
        ports.append(settings.server.metrics_port)
    sockets: list[socket.socket] = []
    try:
        for port in ports:
            infos = socket.getaddrinfo(settings.server.host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
            family, kind, proto, _, address = infos[0]
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
            sock.listen(LISTEN_BACKLOG)
            sock.setblocking(False)
    except OSError as error:
        for sock in sockets:
            sock.close()
        where = f"{bracketed(settings.server.host)}:{ports[len(sockets) - 1] if sockets else ports[0]}"
        raise ConfigError(f"cannot listen on {where}: {error.strerror or error}") from None
    return sockets


def _server_class() -> type[uvicorn.Server]:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's signal handling replaced by the gateway's: uvicorn's would stop
        accepting at once and re-raise the signal after serving, killing the process
        before its leftovers end."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return Server


async def _serve(app: GatewayApp, settings: Settings, sockets: list[socket.socket]) -> None:
    server = _server_class()(uvicorn_config(app, settings))
    loop = asyncio.get_running_loop()
    stopping: list[asyncio.Task[None]] = []

    async def stop() -> None:
        log.info("shutting down: disconnecting clients")
        try:
            await app.gateway.disconnect_all()
        finally:
            server.should_exit = True

    def on_signal() -> None:
        if stopping:
            server.force_exit = True  # a second signal: stop now
            return
        stopping.append(loop.create_task(stop()))

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal)
    try:
        await server.serve(sockets=sockets)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        for task in stopping:
            await task


def run(settings: Settings) -> int:
    try:
        import uvicorn  # noqa: F401
    except ImportError:
        raise ConfigError("--server uvicorn needs uvicorn: pip install 'presence-gateway[uvicorn]'") from None
    from ..wiring.secrets import known_secrets
    from .logs import configure_logging

    configure_logging(settings.server.log_level, settings.server.log_format, known_secrets(settings))
    app = create_app(settings, hold_instance=True)
    sockets = _listen(settings)
    prepare_database_now(settings)
    _run(_serve(app, settings, sockets))
    return 0
