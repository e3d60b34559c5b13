"""Where the JWT secret comes from.

In development a missing ``JWT_SECRET_ACCESS`` should not stop anyone trying the gateway:
one is generated once and kept in the data directory, so ``serve`` and ``token`` agree.
In production a generated secret would make every real token fail, so start is refused.
"""

from __future__ import annotations

import logging
import os
import secrets as _secrets
from pathlib import Path

from .settings import ConfigError, Settings

log = logging.getLogger(__name__)

SECRET_FILE = "jwt-secret"


def resolve_jwt_secret(settings: Settings, *, announce: bool = True) -> str:
    if settings.tokens.secret:
        return settings.tokens.secret
    if settings.production:
        raise ConfigError("JWT_SECRET_ACCESS is not set; PRESENCE_ENV=production refuses to start without it")
    path = settings.server.data_dir / SECRET_FILE
    if path.exists():
        secret = path.read_text().strip()
        if secret:
            if announce:
                log.warning("JWT_SECRET_ACCESS is not set: using the development secret in %s", path)
            return secret
    settings.server.data_dir.mkdir(parents=True, exist_ok=True)
    secret = _secrets.token_urlsafe(48)
    _write_private(path, secret)
    if announce:
        log.warning("JWT_SECRET_ACCESS is not set: generated a development secret in %s", path)
    return secret


def known_secrets(settings: Settings, *more: str) -> list[str]:
    """Every secret the settings hold, for the log filter to hide (``logs.py``)."""
    from sqlalchemy.engine import make_url

    found = [settings.tokens.secret or "", settings.redis.cache_pass or "", settings.server_api.webhook_secret or "", *more]
    found += [secret for _, secret in settings.server_api.api_keys]
    for url in (settings.database.url, settings.redis.url):
        if url:
            try:
                found.append(make_url(url).password or "")
            except Exception:  # an unparsable URL fails later, with its own message
                pass
    return [secret for secret in found if secret]


def existing_jwt_secret(settings: Settings) -> str:
    """The secret a gateway started with these settings uses, for ``token``. Never a new one:
    run from another folder, a new secret would mint tokens the running gateway refuses."""
    if settings.tokens.secret:
        return settings.tokens.secret
    path = settings.server.data_dir / SECRET_FILE
    secret = path.read_text().strip() if path.is_file() else ""
    if not secret:
        raise ConfigError(
            f"JWT_SECRET_ACCESS is not set and there is no development secret in {path.resolve()}: "
            "run this where `presence-gateway serve` runs (or set PRESENCE_DATA_DIR to its data directory), "
            "or start the gateway once to generate it"
        )
    return secret


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text + "\n")
