"""``presence-gateway serve``: hypercorn with the asyncio worker (python-socketio is
asyncio-only; uvloop when installed) and a shutdown that does not wait on clients.

Whatever can refuse the start is done here, before hypercorn runs the app's lifespan: a
refusal is then one line and exit code 2 (``cli.py``), not a failed lifespan's tracebacks.

One worker is served in this process. Several are hypercorn's own multi-process run, the
very code ``hypercorn --workers N`` runs, so what the README says of one holds for both:
each worker loads the app factory, follows the parent's shutdown (worker_shutdown.py) and
serves WebSocket only (polling_refusal.py).
"""

from __future__ import annotations

import asyncio
import logging
import signal

from hypercorn.asyncio.run import worker_serve
from hypercorn.config import Config, Sockets
from hypercorn.utils import wrap_app

from .asgi import GatewayApp, create_app
from .containers import MAX_FRAME_BYTES, presence_kind
from .database import prepare_database_now
from .logs import configure_logging
from .secrets import known_secrets
from .settings import ConfigError, Settings
from .single_instance import claim_single_instance

log = logging.getLogger(__name__)

APP_FACTORY = "presence_gateway.entrypoints.asgi:create_app()"
POLLING_READ_TIMEOUT = 60  # seconds (Engine.IO pings every 25 s); hypercorn waits forever by default


def hypercorn_config(settings: Settings) -> Config:
    config = Config()
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    config.bind = [f"{host}:{settings.port}"]
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    # By the time hypercorn waits, every socket has been told to close; only clients that
    # vanished without a word are left to wait for.
    config.graceful_timeout = 2.0
    # hypercorn buffers a whole WebSocket message (16 MiB by default) before the app sees
    # it: bound it at the gateway's frame limit, so an unauthenticated client cannot make
    # it hold megabytes. (With a hypercorn command line of your own, set
    # ``websocket_max_message_size = 65536`` in its config.)
    config.websocket_max_message_size = MAX_FRAME_BYTES
    # A polling request that trickles its body, or a client that goes silent, is dropped.
    config.read_timeout = POLLING_READ_TIMEOUT
    return config


async def _serve(app: GatewayApp, config: Config, sockets: Sockets) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    async def shutdown_trigger() -> None:
        await stop.wait()
        log.info("shutting down: disconnecting clients")
        await app.gateway.disconnect_all()

    await worker_serve(
        wrap_app(app, config.wsgi_max_body_size, "asgi"), config, sockets=sockets, shutdown_trigger=shutdown_trigger
    )


def _listen(config: Config, what: str) -> Sockets:
    try:
        return config.create_sockets()
    except OSError as error:
        raise ConfigError(f"cannot listen on {', '.join(config.bind)} ({what}): {error.strerror or error}") from None


def _run_workers(settings: Settings, config: Config, workers: int) -> int:
    from hypercorn.run import run as run_workers

    prepare_database_now(settings)  # once, in the parent
    config.application_path = APP_FACTORY
    config.workers = workers
    try:
        import uvloop  # noqa: F401
    except ImportError:
        config.worker_class = "asyncio"
    else:
        config.worker_class = "uvloop"
    log.info(
        "presence-gateway serving on http://%s:%d with %d workers (WebSocket transport only)",
        settings.host, settings.port, workers,
    )
    return run_workers(config)


def run(settings: Settings, workers: int = 1) -> int:
    configure_logging(settings.log_level, settings.log_format, known_secrets(settings))
    config = hypercorn_config(settings)
    what = "PORT"
    if settings.metrics_port is not None:
        # One server on both ports; the app answers only /metrics on this one (metrics.py).
        config.bind.append(config.bind[0].rsplit(":", 1)[0] + f":{settings.metrics_port}")
        what = "PORT and PRESENCE_METRICS_PORT"
    if workers > 1:
        return _run_workers(settings, config, workers)
    lock = claim_single_instance(settings.data_dir) if presence_kind(settings) == "memory" else None
    sockets = _listen(config, what)  # bound, not yet accepting: connections are refused until ready
    prepare_database_now(settings)
    app = create_app(settings, lock=lock)
    try:
        import uvloop
    except ImportError:
        asyncio.run(_serve(app, config, sockets))
    else:
        uvloop.run(_serve(app, config, sockets))
    return 0
