"""Which web origins may use the gateway from a browser: one policy for the socket and the
HTTP API.

- ``CORS_ORIGINS=https://app.example,https://admin.example``: exactly those.
- ``CORS_ORIGINS=*``: any origin (said explicitly, never a default).
- unset, in production: no cross-origin browser page at all. (python-engineio reads an
  empty list as "do not check", so the closed policy is a function that refuses.)
- unset, in development: pages served from this machine (``http://localhost:*``,
  ``127.0.0.1``, ``[::1]``), so a local front end works; ``null`` and every other origin
  are refused.

Clients that send no ``Origin`` (native apps, servers, Node) are not browsers and are not
concerned: the token is what admits them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from quart import Quart, Response, request

from ..wiring.settings import Settings

_LOCAL = re.compile(r"https?://(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?")

OriginCheck = Callable[[str | None], bool]


def origin_check(settings: Settings) -> OriginCheck:
    origins = settings.server.cors_origins
    if origins == "*":
        return lambda origin: True
    if origins:
        allowed = frozenset(origins)
        return lambda origin: origin in allowed
    if settings.production:
        return lambda origin: False
    return lambda origin: origin is not None and _LOCAL.fullmatch(origin) is not None


def socket_origins(settings: Settings) -> Any:
    """What python-engineio's ``cors_allowed_origins`` takes for this policy. A page the
    gateway serves itself (the demo page) is same-origin, not cross-origin: allowed, as
    python-engineio allows it when given no policy."""
    if settings.server.cors_origins == "*":
        return "*"
    allowed = origin_check(settings)

    def check(origin: str | None, environ: dict[str, Any] | None = None) -> bool:
        if allowed(origin):
            return True
        if origin is None or environ is None or "HTTP_HOST" not in environ:
            return False
        return origin == f"{environ.get('wsgi.url_scheme', 'http')}://{environ['HTTP_HOST']}"

    return check


def apply_http_cors(app: Quart, settings: Settings) -> None:
    """The same policy for the HTTP API: an allowed origin is answered with its own name
    (and a preflight with the methods and headers the API takes); others get no grant."""
    allowed = origin_check(settings)

    @app.before_request
    async def preflight() -> Response | None:
        origin = request.headers.get("Origin")
        if request.method == "OPTIONS" and origin is not None:
            response = Response("", status=204 if allowed(origin) else 403)
            return response
        return None

    @app.after_request
    async def grant(response: Response) -> Response:
        origin = request.headers.get("Origin")
        if origin is not None and allowed(origin):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Credentials"] = "true"
            response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            response.headers["Vary"] = "Origin"
        return response
