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
from typing import Any

from hypercorn.asyncio.run import worker_serve
from hypercorn.config import Config, Sockets
from hypercorn.utils import wrap_app

from ...adapters.addresses import bracketed
from ..asgi import GatewayApp, create_app
from ..limits import MAX_FRAME_BYTES
from ..wiring.containers import database_engine
from ..wiring.secrets import known_secrets
from ..wiring.settings import ConfigError, Settings
from .database import prepare_database
from .logs import configure_logging

log = logging.getLogger(__name__)

APP_FACTORY = "presence_gateway.entrypoints.asgi:create_app()"
LISTEN_BACKLOG = 2048
POLLING_READ_TIMEOUT = 60  # seconds (Engine.IO pings every 25 s); hypercorn waits forever by default


def hypercorn_config(settings: Settings) -> Config:
    config = Config()
    host = bracketed(settings.server.host)
    config.bind = [f"{host}:{settings.server.port}"]
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
    # hypercorn's default accept queue is 100 connections. A browser's polling connect is
    # about five of them, so a storm of 100 clients connecting at once overflowed it: the
    # kernel dropped SYNs (TcpExtListenOverflows) and those clients waited out 1-3 s
    # retransmits. Node's default is 511; the kernel caps it at net.core.somaxconn.
    config.backlog = LISTEN_BACKLOG
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


# After the server stopped, what is left gets this long to end once cancelled.
LEFTOVER_TIMEOUT = 3.0


async def _cancel_leftovers(timeout: float) -> None:
    """asyncio.run waits without bound for every task left when the server returns; one
    that swallows its cancellation (seen once in a few dozen starts stopped at once, under
    load) then keeps the process from exiting. Here they get ``timeout``; one that outlives
    it is logged with where it waits, and left behind."""
    tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        frames = "".join(f"\n  {frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}" for frame in task.get_stack())
        log.error("a task did not end at shutdown and is left behind: %r%s", task, frames)


def _run(main: Any) -> None:
    """``asyncio.run`` (uvloop's when installed), with a bounded end."""
    try:
        import uvloop
    except ImportError:
        loop = asyncio.new_event_loop()
    else:
        loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(main)
        loop.run_until_complete(_cancel_leftovers(LEFTOVER_TIMEOUT))
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def prepare_database_now(settings: Settings) -> None:
    """The schema step of the start (database.py), before hypercorn runs: a refusal is then
    one line and exit code 2 rather than a failed ASGI lifespan."""

    async def prepare() -> None:
        async with database_engine(settings) as engine:
            await prepare_database(engine, settings)

    asyncio.run(prepare())


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
        settings.server.host, settings.server.port, workers,
    )
    return run_workers(config)


def run(settings: Settings, workers: int = 1) -> int:
    configure_logging(settings.server.log_level, settings.server.log_format, known_secrets(settings))
    config = hypercorn_config(settings)
    what = "PORT"
    if settings.server.metrics_port is not None:
        # One server on both ports; the app answers only /metrics on this one (metrics.py).
        config.bind.append(config.bind[0].rsplit(":", 1)[0] + f":{settings.server.metrics_port}")
        what = "PORT and PRESENCE_METRICS_PORT"
    if workers > 1:
        return _run_workers(settings, config, workers)
    app = create_app(settings, hold_instance=True)  # a second process on the data directory stops here
    sockets = _listen(config, what)  # bound, not yet accepting: connections are refused until ready
    prepare_database_now(settings)
    _run(_serve(app, config, sockets))
    return 0
