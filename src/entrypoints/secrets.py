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
    if settings.jwt_secret:
        return settings.jwt_secret
    if settings.production:
        raise ConfigError("JWT_SECRET_ACCESS is not set; PRESENCE_ENV=production refuses to start without it")
    path = settings.data_dir / SECRET_FILE
    if path.exists():
        secret = path.read_text().strip()
        if secret:
            if announce:
                log.warning("JWT_SECRET_ACCESS is not set: using the development secret in %s", path)
            return secret
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    secret = _secrets.token_urlsafe(48)
    _write_private(path, secret)
    if announce:
        log.warning("JWT_SECRET_ACCESS is not set: generated a development secret in %s", path)
    return secret


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text + "\n")
