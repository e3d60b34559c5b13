"""One origin policy for the socket and the HTTP API: closed by default in production,
this machine's pages in development, an explicit allowlist everywhere."""

from __future__ import annotations

import engineio

from presence_gateway.entrypoints.http.cors import origin_check, socket_origins
from presence_gateway.entrypoints.wiring.settings import Settings

PRODUCTION = Settings.from_env({"PRESENCE_ENV": "production"})
DEVELOPMENT = Settings.from_env({})
LISTED = Settings.from_env({"PRESENCE_ENV": "production", "CORS_ORIGINS": "https://app.example, https://b.example"})


def engineio_allows(settings: Settings, origin: str) -> bool:
    """Asked the way python-engineio asks, so an upstream change of meaning shows here."""
    server = engineio.AsyncServer(async_mode="asgi", cors_allowed_origins=socket_origins(settings))
    if server.cors_allowed_origins == []:  # python-engineio's handle_request: no check at all
        return True
    environ = {"HTTP_ORIGIN": origin, "wsgi.url_scheme": "http", "HTTP_HOST": "gateway:3000"}
    allowed = server._cors_allowed_origins(environ)
    return allowed is None or origin in allowed


def test_production_without_a_list_refuses_every_cross_origin_page() -> None:
    for origin in ["https://evil.example", "null", "http://localhost:3000", "https://gateway:3000"]:
        assert not origin_check(PRODUCTION)(origin)
        assert not engineio_allows(PRODUCTION, origin)


def test_a_page_the_gateway_serves_itself_is_same_origin_and_may_connect() -> None:
    """The demo page (PRESENCE_DEMO=1 in production) connects to the host that served it."""
    for settings in (PRODUCTION, DEVELOPMENT, LISTED):
        assert engineio_allows(settings, "http://gateway:3000")


def test_development_allows_this_machines_pages_only() -> None:
    check = origin_check(DEVELOPMENT)
    for origin in ["http://localhost:5173", "http://127.0.0.1:3000", "https://localhost", "http://[::1]:8080"]:
        assert check(origin) and engineio_allows(DEVELOPMENT, origin)
    for origin in ["null", "https://evil.example", "http://localhost.evil.example", "http://localhost:3000@evil"]:
        assert not check(origin) and not engineio_allows(DEVELOPMENT, origin)


def test_a_list_allows_exactly_its_origins() -> None:
    assert engineio_allows(LISTED, "https://app.example")
    assert not engineio_allows(LISTED, "https://app.example.evil")
    assert not engineio_allows(LISTED, "null")


def test_star_is_allowed_only_when_said() -> None:
    star = Settings.from_env({"PRESENCE_ENV": "production", "CORS_ORIGINS": "*"})
    assert engineio_allows(star, "https://anything.example")
