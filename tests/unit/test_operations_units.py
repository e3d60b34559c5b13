"""Pieces an operator relies on without a server: libpq TLS parameters for asyncpg, log
lines that hide secrets, and forwarded addresses believed only from trusted proxies."""

from __future__ import annotations

import json
import logging
import ssl
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from presence_gateway.adapters.sql.engine import create_engine
from presence_gateway.adapters.sql.tls import InvalidTlsSettings, libpq_tls
from presence_gateway.entrypoints.http.forwarded import TrustedForwarded
from presence_gateway.entrypoints.process.logs import JsonFormatter, RedactingFormatter
from presence_gateway.entrypoints.wiring.settings import ConfigError, Settings

TOKEN = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJlLXBhcnQ"


@pytest.mark.parametrize("mode", ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"])
def test_every_libpq_sslmode_becomes_asyncpgs_ssl_argument(mode: str) -> None:
    url, tls = libpq_tls(make_url(f"postgresql+asyncpg://u:p@db.example/app?sslmode={mode}&application_name=x"))

    assert tls == mode
    assert dict(url.query) == {"application_name": "x"}


def test_a_root_certificate_makes_a_verifying_context(tmp_path) -> None:
    ca = ssl.get_default_verify_paths().cafile or ssl.get_default_verify_paths().openssl_cafile
    _, full = libpq_tls(make_url(f"postgresql+asyncpg://db/app?sslmode=verify-full&sslrootcert={ca}"))
    _, ca_only = libpq_tls(make_url(f"postgresql+asyncpg://db/app?sslmode=require&sslrootcert={ca}"))

    assert isinstance(full, ssl.SSLContext) and full.check_hostname and full.verify_mode == ssl.CERT_REQUIRED
    assert isinstance(ca_only, ssl.SSLContext) and not ca_only.check_hostname
    assert ca_only.verify_mode == ssl.CERT_REQUIRED


def test_an_unknown_sslmode_or_unreadable_file_is_named() -> None:
    with pytest.raises(InvalidTlsSettings, match="sslmode='always'"):
        libpq_tls(make_url("postgresql+asyncpg://db/app?sslmode=always"))
    with pytest.raises(InvalidTlsSettings, match="cannot be read"):
        libpq_tls(make_url("postgresql+asyncpg://db/app?sslmode=verify-ca&sslrootcert=/nonexistent/root.crt"))


def test_the_engine_passes_sslmode_to_asyncpg_as_ssl() -> None:
    engine = create_engine("postgresql://u:p@127.0.0.1/app?sslmode=require")
    _, kwargs = engine.dialect.create_connect_args(engine.url)  # what asyncpg.connect() is given from the URL

    assert "sslmode" not in kwargs and "sslmode" not in engine.url.query


def _record(message: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord("presence_gateway.test", logging.ERROR, __file__, 1, message, args, exc_info)


def test_text_and_json_lines_hide_secrets_urls_passwords_and_tokens() -> None:
    try:
        raise ConnectionError("cannot reach postgresql://app:pg-password@db/app with the-jwt-secret")
    except ConnectionError as error:
        caught = error
    record = _record("client sent %s from redis://:cache-pass@cache:6379/0", TOKEN, exc=caught)

    for formatter in (RedactingFormatter("%(message)s", secrets=["the-jwt-secret"]), JsonFormatter(secrets=["the-jwt-secret"])):
        line = formatter.format(record)
        for secret in ("pg-password", "cache-pass", "the-jwt-secret", TOKEN, TOKEN.split(".")[2]):
            assert secret not in line
    entry = json.loads(JsonFormatter().format(record))
    assert entry["level"] == "ERROR" and entry["logger"] == "presence_gateway.test"
    assert "ConnectionError" in entry["exception"] and "\n" not in JsonFormatter().format(record)


def test_json_lines_carry_the_extras_a_caller_gives() -> None:
    record = _record("ready")
    record.mode = "redis"
    record.instance_id = "gw-1"

    entry = json.loads(JsonFormatter().format(record))

    assert entry["message"] == "ready" and entry["mode"] == "redis" and entry["instance_id"] == "gw-1"


def test_forwarded_addresses_are_believed_from_trusted_proxies_only() -> None:
    async def app(*_: Any) -> None: ...

    layer = TrustedForwarded(app, ["10.0.0.0/8", "127.0.0.1"])

    assert layer.client_of("127.0.0.1", b"203.0.113.7") == "203.0.113.7"
    assert layer.client_of("127.0.0.1", b"198.51.100.1, 203.0.113.7, 10.1.2.3") == "203.0.113.7"
    assert layer.client_of("192.0.2.9", b"203.0.113.7") is None  # a client sending the header itself
    assert layer.client_of("127.0.0.1", b"203.0.113.7, not-an-address") is None
    assert layer.client_of("127.0.0.1", b"1.2.3.4," * 400) is None


def test_operator_settings_are_checked_at_start() -> None:
    settings = Settings.from_env(
        {"LOG_FORMAT": "JSON", "PRESENCE_METRICS_PORT": "9100", "PRESENCE_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8"}
    )
    assert (settings.server.log_format, settings.server.metrics_port) == ("json", 9100)
    assert settings.server.trusted_proxies == ("127.0.0.1/32", "10.0.0.0/8")
    assert Settings.from_env({"PRESENCE_SID_COOKIE": "io"}).server.sid_cookie == "io"
    for bad in (
        {"PRESENCE_SID_COOKIE": "io; Domain=evil"},
        {"LOG_FORMAT": "xml"},
        {"PRESENCE_METRICS_PORT": "ninety"},
        {"PRESENCE_TRUSTED_PROXIES": "proxy.lan"},
    ):
        with pytest.raises(ConfigError):
            Settings.from_env(bad)
