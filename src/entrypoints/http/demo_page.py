"""The demo page at ``/``: the first thing a team opens to watch the dots change.

Plain HTTP routes beside the socket — the page is a Socket.IO client like any other and
adds nothing to the handling of a socket event. Its own files ship in ``demo/``; the
Socket.IO client is the npm package's browser build, installed into ``web/node_modules``
of the checkout by the Makefile (``npm ci --prefix web``) and never committed. Without it
the page still loads and says what to install.

Outside production a token endpoint lets the page sign in as any user, as
``presence-gateway token`` does from a shell; in production it does not exist and the
page asks for a token instead. It answers only requests addressed to a loopback name
(``localhost``, ``127.0.0.1``, ``[::1]``): a page elsewhere that rebinds its own name to
this machine sends its own name as ``Host`` and gets no token signed with the secret.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import logging
from collections.abc import Callable
from pathlib import Path

import orjson
from quart import Blueprint, Response, request, send_file

from ...domain.errors import Forbidden, InvalidPayload
from ...domain.statuses import StatusRegistry
from ...domain.user_ids import MAX_USER_ID, checked_user_id
from .presence_api import error_response, json_body, json_response

log = logging.getLogger(__name__)

PAGE_FILES = Path(__file__).with_name("demo")
CLIENT_DIST = Path(__file__).resolve().parents[3] / "web" / "node_modules" / "socket.io-client" / "dist"
CLIENT_SCRIPT = "socket.io.min.js"
# The page is built on @presence-gateway/client (clients/js, built into dist/ by the
# Makefile), an ES module importing "socket.io-client": an import map points that name at
# socket.io-client's own ES build.
CLIENT_MODULE = "socket.io.esm.min.js"
PACKAGE_DIST = Path(__file__).resolve().parents[3] / "clients" / "js" / "dist"
PACKAGE_FILES = ("index.js", "client.js", "activity.js", "errors.js", "presence.js")
_IMPORT_MAP = b'{"imports": {"socket.io-client": "/demo/assets/' + CLIENT_MODULE.encode() + b'"}}'
_IMPORT_MAP_HASH = base64.b64encode(hashlib.sha256(_IMPORT_MAP).digest()).decode()
_MAP_SLOT = "<!-- import-map -->"
# The icons of the built-in device kinds; any other kind is shown with the "other" one.
DEVICE_ICONS = ("web", "desktop", "mobile", "other")
TOKEN_PATH = "/demo/token"
_CONFIG_SLOT = "<!-- demo-config -->"
_TYPES = {".js": "text/javascript", ".css": "text/css", ".map": "application/json", ".svg": "image/svg+xml"}
# The page loads only its own origin's files and talks only to its own origin's socket.
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        f"default-src 'none'; script-src 'self' 'sha256-{_IMPORT_MAP_HASH}'; style-src 'self'; "
        "connect-src 'self'; img-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

TokenMinter = Callable[[str], str]


def announce_demo(tokens: bool, client_dist: Path = CLIENT_DIST, package_dist: Path = PACKAGE_DIST) -> None:
    """Once at start: what the page offers, and what it lacks."""
    if not (package_dist / "index.js").is_file():
        log.warning(
            "the demo page at / has no presence client (%s): install Node.js and npm, then `make run` "
            "(or `npm ci --prefix clients/js && npm run --prefix clients/js build`)",
            package_dist / "index.js",
        )
    if not (client_dist / CLIENT_SCRIPT).is_file():
        log.warning(
            "the demo page at / has no Socket.IO client (%s): install Node.js and npm, then `make run` "
            "(or `npm ci --prefix web`)",
            client_dist / CLIENT_SCRIPT,
        )
    if tokens:
        log.info("demo page at /, with development tokens for any user at POST %s (on localhost only)", TOKEN_PATH)


def _page_config(registry: StatusRegistry, token_endpoint: str | None, client_installed: bool) -> bytes:
    statuses = [
        {"name": s.name, "choosable": s.choosable, "online": s.online, "seenAs": s.public_name}
        for s in registry.values()
    ]
    config = {"statuses": statuses, "tokenEndpoint": token_endpoint, "clientScript": client_installed}
    # Inside <script type="application/json">: no "<" may close the element early.
    text = orjson.dumps(config).replace(b"<", b"\\u003c").replace(b">", b"\\u003e").replace(b"&", b"\\u0026")
    return b'<script type="application/json" id="demo-config">' + text + b"</script>"


def _addressed_to_loopback() -> bool:
    host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _user_id_of(payload: object) -> str:
    """The gateway's own rule (``domain/user_ids.py``): a token it would then refuse is
    never handed out."""
    if not isinstance(payload, dict) or "userId" not in payload:
        raise InvalidPayload('the body is {"userId": "..."}')
    return checked_user_id(payload["userId"])


def demo_blueprint(
    registry: StatusRegistry,
    mint: TokenMinter | None,
    client_dist: Path = CLIENT_DIST,
    package_dist: Path = PACKAGE_DIST,
) -> Blueprint:
    """``mint`` signs a token for a user id, or is None where tokens are not handed out."""
    bp = Blueprint("demo", __name__)
    template = (PAGE_FILES / "index.html").read_text(encoding="utf-8")
    assets = {
        "demo.js": PAGE_FILES / "demo.js",
        "demo.css": PAGE_FILES / "demo.css",
        "favicon.svg": PAGE_FILES / "favicon.svg",
        **{f"device-{kind}.svg": PAGE_FILES / f"device-{kind}.svg" for kind in DEVICE_ICONS},
        CLIENT_SCRIPT: client_dist / CLIENT_SCRIPT,
        CLIENT_SCRIPT + ".map": client_dist / (CLIENT_SCRIPT + ".map"),
        CLIENT_MODULE: client_dist / CLIENT_MODULE,
        CLIENT_MODULE + ".map": client_dist / (CLIENT_MODULE + ".map"),
    }
    package = {name: package_dist / name for base in PACKAGE_FILES for name in (base, base + ".map")}
    token_endpoint = TOKEN_PATH if mint is not None else None

    @bp.get("/")
    async def page() -> Response:
        # Built per request, so a client installed while the gateway runs is found.
        endpoint = token_endpoint if _addressed_to_loopback() else None
        installed = assets[CLIENT_MODULE].is_file() and package["index.js"].is_file()
        config = _page_config(registry, endpoint, installed)
        import_map = '<script type="importmap">' + _IMPORT_MAP.decode() + "</script>"
        html = template.replace(_CONFIG_SLOT, config.decode()).replace(_MAP_SLOT, import_map)
        return Response(html, content_type="text/html; charset=utf-8", headers=_PAGE_HEADERS)

    @bp.get("/demo/assets/<name>")
    async def asset(name: str) -> Response:
        return await _send(assets.get(name))

    @bp.get("/demo/assets/client/<name>")
    async def package_file(name: str) -> Response:
        return await _send(package.get(name))

    async def _send(path: Path | None) -> Response:
        if path is None or not path.is_file():
            return Response("not found\n", status=404, content_type="text/plain")
        response = await send_file(path, mimetype=_TYPES[path.suffix], conditional=True)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-cache"
        return response

    if mint is not None:

        @bp.post(TOKEN_PATH)
        async def token() -> Response:
            try:
                if not _addressed_to_loopback():
                    raise Forbidden("development tokens are handed out only on localhost")
                user_id = _user_id_of(await json_body(MAX_USER_ID * 6 + 64, '{"userId": "..."}'))
            except Exception as error:
                return error_response(error)
            return json_response({"userId": user_id, "token": mint(user_id)}, headers={"Cache-Control": "no-store"})

    return bp
