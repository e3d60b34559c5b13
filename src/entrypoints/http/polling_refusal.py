"""Long-polling refused, with the reason and the fix, where it cannot work.

A polling session is a series of HTTP requests (the handshake, then a GET and a POST at a
time, each possibly on a new connection) that must all reach the process holding the
session. Several workers accepting on one port each get whichever connection the kernel
hands them, so the requests of one session land on the others ("Invalid session"), and
stock clients fail at random with ``xhr poll error``. A WebSocket is one connection: it
stays with the worker that accepted it. So with several workers, Engine.IO serves the
WebSocket transport only, and every plain HTTP request to the Socket.IO path — which only
long-polling makes — is answered here, before Engine.IO.

A plain 400 reaches a user as ``xhr poll error`` (socket.io-client) or not at all
(python-socketio's client reads the body after closing its session). So the handshake is
answered the way a server refuses a connection with a reason: an Engine.IO open packet
with no upgrade, followed by a Socket.IO CONNECT_ERROR, which every client shows as
``connect_error`` with this message and does not retry on its own. The session it names
exists nowhere; the client's next requests (its CONNECT, its close) get a 400 with the
same message as JSON, readable by a browser (CORS) and by hand.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import orjson

log = logging.getLogger(__name__)

POLLING_REFUSED = "polling_unavailable"
# Engine.IO v4: packets of a polling payload are separated by a record separator.
_SEPARATOR = b"\x1e"


def refusal_message(workers: int) -> str:
    return (
        f"this gateway runs {workers} worker processes on one port, where long-polling cannot work "
        "(the requests of one session would reach different workers): connect with "
        "transports: ['websocket'], or run one worker per port behind a load balancer with sticky "
        "sessions (README: Several workers)"
    )


class PollingRefusal:
    """The ASGI step in front of Engine.IO; costs one comparison per WebSocket connection."""

    def __init__(self, workers: int, engineio_path: str, allows: Callable[[str | None], bool]) -> None:
        self._path = engineio_path.rstrip("/") + "/"
        self._allows = allows  # the gateway's origin policy (cors.py)
        self._message = refusal_message(workers)
        self._error = orjson.dumps({"code": POLLING_REFUSED, "message": self._message})
        self._connect_error = b"44" + orjson.dumps({"message": self._message, "data": {"code": POLLING_REFUSED}})
        self._told = False

    def refuses(self, scope: dict[str, Any]) -> bool:
        if scope["type"] != "http":
            return False
        path = scope["path"]
        return path.startswith(self._path) or path + "/" == self._path

    async def respond(self, scope: dict[str, Any], send: Any) -> None:
        if not self._told:  # once per process: the operator learns it, the log is not flooded
            self._told = True
            log.warning("refusing long-polling: %s", self._message)
        if _is_handshake(scope):
            await self._send(scope, send, 200, b"text/plain; charset=UTF-8", self._handshake_refusal())
        else:
            await self._send(scope, send, 400, b"application/json", self._error)

    def _handshake_refusal(self) -> bytes:
        opened = {
            "sid": secrets.token_urlsafe(15),
            "upgrades": [],
            "pingInterval": 25000,
            "pingTimeout": 20000,
            "maxPayload": 1000,
        }
        return b"0" + orjson.dumps(opened) + _SEPARATOR + self._connect_error

    async def _send(self, scope: dict[str, Any], send: Any, status: int, content_type: bytes, body: bytes) -> None:
        headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
        origin = _header(scope, b"origin")
        if origin is not None and self._allows(origin.decode("latin-1")):
            headers.append((b"access-control-allow-origin", origin))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _is_handshake(scope: dict[str, Any]) -> bool:
    """An Engine.IO v4 polling handshake: a GET naming no session (JSONP is not served)."""
    if scope.get("method") != "GET":
        return False
    try:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"), max_num_fields=16)
    except ValueError:  # more fields than any client sends
        return False
    return (
        query.get("EIO") == ["4"]
        and "sid" not in query
        and "j" not in query
        and query.get("transport", ["polling"]) == ["polling"]
    )


def _header(scope: dict[str, Any], name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value
    return None
