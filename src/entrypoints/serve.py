"""``presence-gateway serve``: hypercorn with the asyncio worker (python-socketio is
asyncio-only; uvloop when installed) and a shutdown that does not wait on clients.

One worker is served in this process. Several are hypercorn's own multi-process run, the
very code ``hypercorn --workers N`` runs, so what the README says of one holds for both:
each worker loads the app factory, follows the parent's shutdown (worker_shutdown.py) and
serves WebSocket only (polling_refusal.py).
"""

from __future__ import annotations

import asyncio
import logging
import signal

from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config

from .asgi import GatewayApp, configure_logging, create_app
from .settings import Settings

log = logging.getLogger(__name__)


def hypercorn_config(settings: Settings) -> Config:
    config = Config()
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    config.bind = [f"{host}:{settings.port}"]
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    # By the time hypercorn waits, every socket has been told to close; only clients that
    # vanished without a word are left to wait for.
    config.graceful_timeout = 2.0
    return config


async def _serve(app: GatewayApp, config: Config) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    async def shutdown_trigger() -> None:
        await stop.wait()
        log.info("shutting down: disconnecting clients")
        await app.gateway.disconnect_all()

    await hypercorn_serve(app, config, shutdown_trigger=shutdown_trigger)  # type: ignore[arg-type]


APP_FACTORY = "presence_gateway.entrypoints.asgi:create_app()"


def run(settings: Settings, workers: int = 1) -> int:
    config = hypercorn_config(settings)
    if workers > 1:
        from hypercorn.run import run as run_workers

        config.application_path = APP_FACTORY
        config.workers = workers
        try:
            import uvloop  # noqa: F401
        except ImportError:
            config.worker_class = "asyncio"
        else:
            config.worker_class = "uvloop"
        configure_logging(settings.log_level)
        log.info(
            "presence-gateway serving on http://%s:%d with %d workers (WebSocket transport only)",
            settings.host, settings.port, workers,
        )
        return run_workers(config)
    app = create_app(settings)
    log.info("presence-gateway serving on http://%s:%d", settings.host, settings.port)
    try:
        import uvloop
    except ImportError:
        asyncio.run(_serve(app, config))
    else:
        uvloop.run(_serve(app, config))
    return 0
