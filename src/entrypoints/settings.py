"""Settings from the environment (and a ``.env`` file), under the names the original
deployment used: CACHE_HOST, JWT_SECRET_ACCESS, PORT, DATABASE_URL, CORS_ORIGINS …"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

DEVELOPMENT = "development"
PRODUCTION = "production"

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class ConfigError(Exception):
    """A setting the gateway cannot start with; the message names it."""


def parse_duration(value: str, name: str) -> int:
    """Seconds from ``3600``, ``45s``, ``30m``, ``12h``, ``7d`` (the forms JWT_EXPIRES_IN takes)."""
    match = _DURATION.match(value)
    if not match:
        raise ConfigError(f"{name}={value!r} is not a duration such as 3600, 30m, 12h or 7d")
    return int(match.group(1)) * _UNITS[match.group(2)]


def _flag(value: str | None, name: str, default: bool) -> bool:
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={value!r}: use true or false")


def _number(value: str | None, name: str, default: float, *, minimum: float = 0.0) -> float:
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not a number") from None
    if number < minimum:
        raise ConfigError(f"{name}={value!r} must be at least {minimum:g}")
    return number


@dataclass(frozen=True)
class Settings:
    environment: str = DEVELOPMENT
    host: str = "127.0.0.1"
    port: int = 3000
    data_dir: Path = Path("data")
    jwt_secret: str | None = None
    jwt_expires_in: int | None = 7 * 86400
    database_url: str | None = None
    cache_host: str | None = None
    redis_url: str | None = None
    cors_origins: list[str] | str = "*"
    session_ttl: float = 90.0
    sweep_interval: float = 5.0
    ws_deflate: bool = False
    log_level: str = "INFO"
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def production(self) -> bool:
        return self.environment == PRODUCTION

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "Settings":
        environment = (env.get("PRESENCE_ENV") or DEVELOPMENT).strip().lower()
        if environment not in (DEVELOPMENT, PRODUCTION):
            raise ConfigError(f"PRESENCE_ENV={environment!r}: use development or production")
        port_text = env.get("PORT") or "3000"
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ConfigError(f"PORT={port_text!r} is not a TCP port")
        expires = env.get("JWT_EXPIRES_IN")
        origins_text = env.get("CORS_ORIGINS")
        if origins_text is None or origins_text.strip() == "":
            # A browser app usually lives on another origin; production must say which.
            origins: list[str] | str = [] if environment == PRODUCTION else "*"
        elif origins_text.strip() == "*":
            origins = "*"
        else:
            origins = [o.strip() for o in origins_text.split(",") if o.strip()]
        return cls(
            environment=environment,
            host=env.get("HOST") or "127.0.0.1",
            port=int(port_text),
            data_dir=Path(env.get("PRESENCE_DATA_DIR") or "data"),
            jwt_secret=env.get("JWT_SECRET_ACCESS") or None,
            jwt_expires_in=parse_duration(expires, "JWT_EXPIRES_IN") if expires else 7 * 86400,
            database_url=env.get("DATABASE_URL") or None,
            cache_host=env.get("CACHE_HOST") or None,
            redis_url=env.get("REDIS_URL") or None,
            cors_origins=origins,
            session_ttl=_number(env.get("PRESENCE_SESSION_TTL"), "PRESENCE_SESSION_TTL", 90.0, minimum=1.0),
            sweep_interval=_number(env.get("PRESENCE_SWEEP_INTERVAL"), "PRESENCE_SWEEP_INTERVAL", 5.0, minimum=0.01),
            ws_deflate=_flag(env.get("PRESENCE_WS_DEFLATE"), "PRESENCE_WS_DEFLATE", False),
            log_level=(env.get("LOG_LEVEL") or "INFO").upper(),
        )


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """The process environment, completed (never overridden) by ``./.env``."""
    if env is None:
        from dotenv import load_dotenv

        load_dotenv(Path.cwd() / ".env", override=False)
        env = os.environ
    return Settings.from_env(env)
