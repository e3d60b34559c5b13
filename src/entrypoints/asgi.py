"""The ASGI app factory: ``hypercorn 'presence_gateway.entrypoints.asgi:create_app()'``.

Nothing is built at import time; everything is built here, in the worker process.
"""

from __future__ import annotations

import logging

import socketio
from quart import Quart

from .auth_events import register_auth_events
from .containers import MAX_FRAME_BYTES, build_container
from .cors import apply_http_cors
from .log_escaping import escape_log_records, quiet_socket_libraries
from .http_api import presence_api_blueprint
from .http_routes import health_blueprint
from .lifecycle import Gateway
from .polling_guard import polling_post_refusal, send_refusal
from .secrets import resolve_jwt_secret
from .settings import Settings, load_settings
from .socket_events import register_socket_events
from .watch_events import register_watch_events
from .ws_buffer import configure_ws_buffer
from .ws_deflate import configure_ws_deflate


class GatewayApp(socketio.ASGIApp):
    """The Socket.IO ASGI app with its gateway attached, for the server runner."""

    gateway: Gateway

    async def __call__(self, scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"].startswith(self.engineio_path):
            refusal = polling_post_refusal(scope, MAX_FRAME_BYTES)
            if refusal is not None:
                await send_refusal(send, *refusal)
                return
        await super().__call__(scope, receive, send)


def configure_logging(level: str) -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    escape_log_records(root.handlers)
    quiet_socket_libraries()
    logging.getLogger("presence_gateway").setLevel(level)


def create_app(settings: Settings | None = None) -> GatewayApp:
    settings = settings or load_settings()
    configure_logging(settings.log_level)
    configure_ws_deflate(settings.ws_deflate)
    configure_ws_buffer()
    container = build_container(settings, resolve_jwt_secret(settings))
    gateway = Gateway(container, settings)

    http = Quart("presence_gateway")
    shared = container.redis_health().readiness if container.kind() == "redis" else None
    http.register_blueprint(health_blueprint(container.durable_writer(), shared))
    http.register_blueprint(presence_api_blueprint(container.presence_service(), container.watch_service()))
    apply_http_cors(http, settings)
    # Passed to Quart, not to ASGIApp: given on_startup/on_shutdown, ASGIApp would take
    # the lifespan over and Quart's serving hooks would never run.
    http.before_serving(gateway.start)
    http.after_serving(gateway.stop)

    sio = container.socket_server()
    register_socket_events(sio, container.presence_service(), container.clock(), container.socket_gate())
    register_watch_events(sio, container.watch_service(), container.socket_gate())
    register_auth_events(sio, container.presence_service(), container.socket_gate())
    app = GatewayApp(sio, other_asgi_app=http)
    app.gateway = gateway
    return app
