"""The ASGI app factory: ``hypercorn 'presence_gateway.entrypoints.asgi:create_app()'``.

Nothing is built at import time; everything is built here, in the worker process.
"""

from __future__ import annotations

from typing import Any

import socketio
from quart import Quart

from .containers import build_container
from .forwarded import TrustedForwarded
from .http_api import presence_api_blueprint
from .http_routes import health_blueprint
from .lifecycle import Gateway
from .logs import configure_logging
from .metrics import MetricsPort, metrics_blueprint, metrics_registry
from .secrets import known_secrets, resolve_jwt_secret
from .settings import Settings, load_settings
from .single_instance import SingleInstanceLock
from .socket_counts import SocketCounts
from .socket_events import register_socket_events
from .watch_events import register_watch_events
from .ws_deflate import configure_ws_deflate


class GatewayApp(socketio.ASGIApp):
    """The Socket.IO ASGI app with its gateway attached, for the server runner."""

    gateway: Gateway


def create_app(settings: Settings | None = None, *, lock: SingleInstanceLock | None = None) -> Any:
    """The gateway's ASGI app. ``lock``: the data directory's, when ``serve`` claimed it
    before starting (a refusal there is one line, not a failed lifespan)."""
    settings = settings or load_settings()
    configure_logging(settings.log_level, settings.log_format, known_secrets(settings))
    configure_ws_deflate(settings.ws_deflate)
    secret = resolve_jwt_secret(settings)
    configure_logging(settings.log_level, settings.log_format, known_secrets(settings, secret))
    container = build_container(settings, secret)
    gateway = Gateway(container, settings, lock=lock)
    counts = SocketCounts()
    registry = metrics_registry(container, counts)

    http = Quart("presence_gateway")
    shared = container.redis_health().readiness if container.kind() == "redis" else None
    http.register_blueprint(health_blueprint(container.durable_writer(), shared))
    http.register_blueprint(presence_api_blueprint(container.presence_service(), container.watch_service()))
    if settings.metrics_port is None:
        http.register_blueprint(metrics_blueprint(registry))
    # Passed to Quart, not to ASGIApp: given on_startup/on_shutdown, ASGIApp would take
    # the lifespan over and Quart's serving hooks would never run.
    http.before_serving(gateway.start)
    http.after_serving(gateway.stop)

    sio = container.socket_server()
    register_socket_events(sio, container.presence_service(), container.clock(), counts)
    register_watch_events(sio, container.watch_service(), counts)
    app: Any = GatewayApp(sio, other_asgi_app=http)
    app.gateway = gateway
    if settings.trusted_proxies:
        app = TrustedForwarded(app, settings.trusted_proxies)
    if settings.metrics_port is not None:
        app = MetricsPort(app, settings.metrics_port, registry)
    return app
