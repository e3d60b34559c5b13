"""The ASGI app factory: ``hypercorn 'presence_gateway.entrypoints.asgi:create_app()'``.

Nothing is built at import time; everything is built here, in the worker process.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import socketio
from quart import Quart

from ..compat.hypercorn_server import patch_hypercorn
from ..compat.hypercorn_worker import HypercornWorker, hypercorn_worker
from ..domain.errors import InvalidStatuses
from .http.cors import apply_http_cors, origin_check
from .http.demo_page import announce_demo, demo_blueprint
from .http.forwarded import TrustedForwarded
from .http.health import health_blueprint
from .http.metrics import MetricsPort, metrics_blueprint
from .http.openapi import openapi_blueprint
from .http.polling_guard import polling_post_refusal, send_refusal
from .http.polling_refusal import PollingRefusal
from .http.presence_api import presence_api_blueprint
from .http.server_api import server_api_blueprint
from .limits import MAX_FRAME_BYTES
from .process.lifecycle import Gateway
from .process.log_escaping import escape_log_records, quiet_socket_libraries
from .process.logs import configure_logging
from .process.loop_lag import loop_lag_blueprint
from .process.runtime import tune_interpreter
from .sockets.auth_events import register_auth_events
from .sockets.events import register_socket_events
from .sockets.watch_events import register_watch_events
from .wiring.containers import build_container, refuse_split_presence
from .wiring.core import Core
from .wiring.secrets import known_secrets
from .wiring.service_keys import configured_keys
from .wiring.settings import ConfigError, Settings, load_settings


class GatewayApp(socketio.ASGIApp):
    """The Socket.IO ASGI app with its gateway attached, for the server runner."""

    gateway: Gateway

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"].startswith(self.engineio_path):
            refusal = polling_post_refusal(scope, MAX_FRAME_BYTES)
            if refusal is not None:
                await send_refusal(send, *refusal)
                return
        await super().__call__(scope, receive, send)


class WebSocketOnlyGatewayApp(GatewayApp):
    """Several workers on one port: every plain HTTP request to the Socket.IO path (only
    long-polling makes those) is answered with the reason and the fix (polling_refusal.py)."""

    refusal: PollingRefusal

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.refusal.refuses(scope):
            await self.refusal.respond(scope, send)
            return
        await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None, *, hold_instance: bool = False) -> Any:
    """The gateway's ASGI app. ``hold_instance``: claim what this instance holds (the data
    directory's lock, without Redis) now rather than at start, as ``serve`` does so that
    a refusal is one line, not a failed lifespan."""
    worker = hypercorn_worker()
    try:
        if settings is None:
            settings = load_settings()
        if worker is not None:
            settings = _as_worker(settings, worker.workers)
        refuse_split_presence(settings, worker.workers if worker is not None else 1)
        return _build(settings, worker, hold_instance)
    except (ConfigError, InvalidStatuses) as error:
        if worker is None:
            raise
        # In each of hypercorn's workers: one line and exit code 2, not a traceback.
        print(f"presence-gateway: {error}", file=sys.stderr)
        raise SystemExit(2) from None


def _as_worker(settings: Settings, workers: int) -> Settings:
    """Each worker is an instance of its own: a PRESENCE_INSTANCE_ID given to all of them
    gets the worker's pid, or they would share one lease and one session index."""
    instance_id = settings.server.instance_id
    if workers > 1 and str(os.getpid()) not in instance_id.split("-"):
        instance_id = f"{instance_id}-{os.getpid()}"
    return settings.changed("server", instance_id=instance_id)


def _build(settings: Settings, worker: HypercornWorker | None, hold_instance: bool) -> Any:
    configure_logging(settings.server.log_level, settings.server.log_format, known_secrets(settings))
    tune_interpreter()
    patch_hypercorn(settings.server.ws_deflate, settings.server.fast_protocol, settings.limits.request_deadline)
    container = build_container(settings, worker)
    if hold_instance:
        container.instance_lock()  # held now, before anything else touches the data directory
    file_keys = [secret for _, secret in configured_keys(settings)]
    configure_logging(
        settings.server.log_level, settings.server.log_format, known_secrets(settings, container.jwt_secret(), *file_keys)
    )
    escape_log_records(logging.getLogger().handlers)
    quiet_socket_libraries()
    return app_of(settings, container, worker)


def app_of(settings: Settings, container: Core, worker: HypercornWorker | None = None) -> Any:
    """The app over a container already built (tests serve one whose adapters they replaced)."""
    gateway: Gateway = container.gateway()
    counts = container.socket_counts()
    registry = container.metrics()

    http = Quart("presence_gateway")
    http.register_blueprint(health_blueprint(container.durable_writer(), container.shared_readiness()))
    keys = container.service_keys()
    http.register_blueprint(presence_api_blueprint(container.presence_service(), container.watch_service(), keys))
    http.register_blueprint(
        server_api_blueprint(keys, container.server_presence(), container.change_stream(), container.server_api_counts())
    )
    http.register_blueprint(openapi_blueprint())
    if settings.server.metrics_port is None:
        http.register_blueprint(metrics_blueprint(registry))
    if settings.server.loop_monitor:
        http.register_blueprint(loop_lag_blueprint(container.loop_lag()))
    if settings.server.demo:
        # Tokens for any user from the page: never in production, whatever PRESENCE_DEMO says.
        minter = None if settings.production else container.token_minter()
        http.register_blueprint(demo_blueprint(container.registry(), minter))
        announce_demo(tokens=minter is not None)
    apply_http_cors(http, settings)
    # Passed to Quart, not to ASGIApp: given on_startup/on_shutdown, ASGIApp would take
    # the lifespan over and Quart's serving hooks would never run.
    http.before_serving(gateway.start)
    http.after_serving(gateway.stop)

    sio = container.socket_server()
    gate = container.socket_gate()
    blocked = container.server_presence().blocked if keys is not None else None
    register_socket_events(sio, container.presence_service(), container.clock(), gate, counts, blocked)
    register_watch_events(sio, container.watch_service(), gate, counts)
    register_auth_events(sio, container.presence_service(), gate, counts)
    gateway_app: GatewayApp
    if worker is not None and worker.workers > 1:
        gateway_app = WebSocketOnlyGatewayApp(sio, other_asgi_app=http)
        gateway_app.refusal = PollingRefusal(worker.workers, gateway_app.engineio_path, origin_check(settings))
    else:
        gateway_app = GatewayApp(sio, other_asgi_app=http)
    gateway_app.gateway = gateway
    app: Any = gateway_app
    if settings.server.trusted_proxies:
        app = TrustedForwarded(app, settings.server.trusted_proxies)
    if settings.server.metrics_port is not None:
        app = MetricsPort(app, settings.server.metrics_port, registry)
    return app
