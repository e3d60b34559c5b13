"""The ASGI app factory: ``hypercorn 'presence_gateway.entrypoints.asgi:create_app()'``.

Nothing is built at import time; everything is built here, in the worker process.
"""

from __future__ import annotations

import logging

import socketio
from quart import Quart

from .containers import build_container
from .demo_page import announce_demo, demo_blueprint
from .http_api import presence_api_blueprint
from .http_routes import health_blueprint
from .lifecycle import Gateway
from .loop_lag import loop_lag_blueprint
from . import server_patches
from .runtime import tune_interpreter
from .secrets import resolve_jwt_secret
from .settings import Settings, load_settings
from .socket_events import register_socket_events
from .watch_events import register_watch_events
from .ws_deflate import configure_ws_deflate


class GatewayApp(socketio.ASGIApp):
    """The Socket.IO ASGI app with its gateway attached, for the server runner."""

    gateway: Gateway


def configure_logging(level: str) -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("presence_gateway").setLevel(level)


def create_app(settings: Settings | None = None) -> GatewayApp:
    settings = settings or load_settings()
    configure_logging(settings.log_level)
    tune_interpreter()
    configure_ws_deflate(settings.ws_deflate)
    server_patches.apply()
    container = build_container(settings, resolve_jwt_secret(settings))
    gateway = Gateway(container, settings)

    http = Quart("presence_gateway")
    shared = container.redis_health().readiness if container.kind() == "redis" else None
    http.register_blueprint(health_blueprint(container.durable_writer(), shared))
    http.register_blueprint(presence_api_blueprint(container.presence_service(), container.watch_service()))
    if settings.loop_monitor:
        http.register_blueprint(loop_lag_blueprint(container.loop_lag()))
    if settings.demo:
        # Tokens for any user from the page: never in production, whatever PRESENCE_DEMO says.
        minter = None if settings.production else container.token_minter()
        http.register_blueprint(demo_blueprint(container.registry(), minter))
        announce_demo(tokens=minter is not None)
    # Passed to Quart, not to ASGIApp: given on_startup/on_shutdown, ASGIApp would take
    # the lifespan over and Quart's serving hooks would never run.
    http.before_serving(gateway.start)
    http.after_serving(gateway.stop)

    sio = container.socket_server()
    register_socket_events(sio, container.presence_service(), container.clock())
    register_watch_events(sio, container.watch_service())
    app = GatewayApp(sio, other_asgi_app=http)
    app.gateway = gateway
    return app
