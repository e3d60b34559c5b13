"""``presence-gateway serve``: hypercorn with the asyncio worker (python-socketio is
asyncio-only; uvloop when installed) and a shutdown that does not wait on clients."""

from __future__ import annotations

import asyncio
import logging
import signal

from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config

from .asgi import GatewayApp, create_app
from .containers import MAX_FRAME_BYTES
from .settings import Settings

log = logging.getLogger(__name__)

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


def run(settings: Settings) -> None:
    app = create_app(settings)
    config = hypercorn_config(settings)
    log.info("presence-gateway serving on http://%s:%d", settings.host, settings.port)
    try:
        import uvloop
    except ImportError:
        asyncio.run(_serve(app, config))
    else:
        uvloop.run(_serve(app, config))
