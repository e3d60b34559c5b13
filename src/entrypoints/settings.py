"""Settings from the environment (and a ``.env`` file), under the names the original
deployment used: CACHE_HOST, JWT_SECRET_ACCESS, PORT, DATABASE_URL, CORS_ORIGINS …"""

from __future__ import annotations

import os
import re
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping
from urllib.parse import quote

from ..adapters.durations import parse_duration as _parse_duration
from ..adapters.redis.cluster_url import is_cluster_url, parse_cluster_url, parse_nodes
from ..adapters.redis.keys import DEFAULT_BUCKETS, MAX_BUCKETS

DEVELOPMENT = "development"
PRODUCTION = "production"
# Who may watch whom: anyone signed in, or the pairs of the presence_contacts table.
AUDIENCES = ("open", "contacts")
LOG_FORMATS = ("text", "json")



class ConfigError(Exception):
    """A setting the gateway cannot start with; the message names it."""


def parse_duration(value: str, name: str) -> int:
    """Seconds from ``3600``, ``45s``, ``30m``, ``12h``, ``7d`` (the forms JWT_EXPIRES_IN takes)."""
    try:
        return _parse_duration(value)
    except ValueError as error:
        raise ConfigError(f"{name}={error}") from None


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


def _count(value: str | None, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    if not value.strip().isdigit() or int(value) < 1:
        raise ConfigError(f"{name}={value!r} must be a whole number of at least 1")
    return int(value)


def _choice(value: str | None, name: str, choices: tuple[str, ...]) -> str:
    """The first choice is the default."""
    if value is None or value.strip() == "":
        return choices[0]
    chosen = value.strip().lower()
    if chosen not in choices:
        raise ConfigError(f"{name}={value!r}: use {' or '.join(choices)}")
    return chosen


def _networks(value: str | None, name: str) -> tuple[str, ...]:
    """Comma-separated addresses or CIDR networks, checked now so a typo fails the start."""
    import ipaddress

    networks = []
    for part in (value or "").split(","):
        if part.strip():
            try:
                networks.append(str(ipaddress.ip_network(part.strip(), strict=False)))
            except ValueError:
                raise ConfigError(f"{name}: {part.strip()!r} is not an IP address or network") from None
    return tuple(networks)


def _cookie_name(value: str | None, name: str) -> str | None:
    if value is None or value.strip() == "":
        return None
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", value.strip()):
        raise ConfigError(f"{name}={value!r}: a cookie name is letters, digits, '_' and '-'")
    return value.strip()

def _addresses(value: str | None, name: str) -> str | None:
    """``host:port,host:port``, checked now so a typo fails the start."""
    if value is None or value.strip() == "":
        return None
    parts = [part.strip() for part in value.split(",") if part.strip()]
    for part in parts:
        host, _, port = part.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"{name}: {part!r} is not host:port")
    return ",".join(parts)


def _sentinel_master(env: Mapping[str, str]) -> str | None:
    master = (env.get("REDIS_SENTINEL_MASTER") or "").strip() or None
    if env.get("REDIS_SENTINELS", "").strip() and not master:
        raise ConfigError("REDIS_SENTINELS is set: REDIS_SENTINEL_MASTER must name the master")
    if master and not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", master):
        raise ConfigError(f"REDIS_SENTINEL_MASTER={master!r}: letters, digits, '.', '_' and '-'")
    if env.get("REDIS_SENTINELS", "").strip() and env.get("REDIS_CLUSTER_NODES", "").strip():
        raise ConfigError("REDIS_SENTINELS and REDIS_CLUSTER_NODES: set one of them")
    return master


_ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "ES512", "Ed25519", "EdDSA")


def _algorithms(value: str | None) -> tuple[str, ...]:
    """JWT_JWKS_ALGORITHMS: the provider's algorithms; never HS* (a public key is no secret)."""
    if value is None or value.strip() == "":
        return ("RS256", "ES256", "Ed25519", "EdDSA")
    chosen = tuple(a.strip() for a in value.split(",") if a.strip())
    wrong = [a for a in chosen if a not in _ASYMMETRIC]
    if wrong or not chosen:
        raise ConfigError(f"JWT_JWKS_ALGORITHMS={value!r}: use some of {', '.join(_ASYMMETRIC)}")
    return chosen


def _port(value: str, name: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise ConfigError(f"{name}={value!r} is not a TCP port")
    return int(value)


def default_instance_id() -> str:
    """Unique per process: host, pid and a random suffix (a restarted pid is a new instance)."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


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
    cache_port: int = 6379
    cache_pass: str | None = None
    redis_url: str | None = None
    # Redis behind Sentinel: the sentinels ("host:port,...") and the master's name.
    redis_sentinels: str | None = None
    redis_sentinel_master: str | None = None
    socketio_channel: str = "socketio"
    updates_channel: str = "presence:updates"
    redis_cluster_keys: bool = False
    # REDIS_CLUSTER_NODES: a Redis Cluster's nodes (any will do as a seed), "host:port,...".
    redis_cluster_nodes: str | None = None
    # Buckets of the cluster layout (keys.py, docs/redis.md): fixed for the data's life.
    redis_buckets: int = DEFAULT_BUCKETS
    redis_pool_size: int = 64
    instance_id: str = ""
    statuses_file: Path | None = None
    # None: the environment's default (cors.py); "*" only when said explicitly.
    cors_origins: list[str] | str | None = None
    session_ttl: float = 90.0
    offline_grace: float = 5.0
    lease_ttl: float = 10.0
    lease_check_interval: float = 1.0
    sweep_interval: float = 5.0
    ws_deflate: bool = False
    loop_monitor: bool = False
    log_level: str = "INFO"
    log_format: str = "text"
    # Prometheus metrics on their own port (not the public one) when set.
    metrics_port: int | None = None
    # Addresses (or networks) of the proxies whose X-Forwarded-For is believed.
    trusted_proxies: tuple[str, ...] = ()
    # Engine.IO's session cookie (python-engineio's ``cookie``), for a load balancer to
    # stick a session to its instance; None sends none.
    sid_cookie: str | None = None
    audience: str = "open"
    watch_max_targets: int = 1000
    max_ids_per_call: int = 1000
    # The demo page at / (and, outside production, its token endpoint).
    demo: bool = True
    # Processes accepting on this port: told by the server (hypercorn's workers), not
    # read from the environment.
    workers: int = 1
    # Hostile clients (docs/security.md): bounds per socket and per user.
    max_sockets_per_user: int = 20
    events_per_minute: int = 120
    handshake_timeout: float = 10.0
    max_queued_packets: int = 1000
    jwt_previous_secrets: tuple[str, ...] = ()
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_jwks_url: str | None = None
    jwt_jwks_algorithms: tuple[str, ...] = ("RS256", "ES256", "Ed25519", "EdDSA")

    @property
    def production(self) -> bool:
        return self.environment == PRODUCTION

    @property
    def shared_presence_url(self) -> str | None:
        """The Redis instances share presence through — ``REDIS_URL``, else the guide's
        ``CACHE_HOST``/``CACHE_PORT``/``CACHE_PASS`` — or None for the embedded default."""
        if self.redis_cluster_nodes:
            auth = f":{quote(self.cache_pass, safe='')}@" if self.cache_pass else ""
            return f"redis+cluster://{auth}{self.redis_cluster_nodes}"
        if self.redis_sentinels:
            from ..adapters.redis.sentinel import sentinel_url

            return sentinel_url(self.redis_sentinels, self.redis_sentinel_master or "", password=self.cache_pass)
        if self.redis_url:
            return self.redis_url
        if not self.cache_host:
            return None
        auth = f":{quote(self.cache_pass, safe='')}@" if self.cache_pass else ""
        return f"redis://{auth}{self.cache_host}:{self.cache_port}/0"

    @property
    def redis_cluster(self) -> bool:
        """Presence on a Redis Cluster, which implies the cluster key layout."""
        return is_cluster_url(self.shared_presence_url)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "Settings":
        environment = (env.get("PRESENCE_ENV") or DEVELOPMENT).strip().lower()
        if environment not in (DEVELOPMENT, PRODUCTION):
            raise ConfigError(f"PRESENCE_ENV={environment!r}: use development or production")
        expires = env.get("JWT_EXPIRES_IN")
        origins_text = env.get("CORS_ORIGINS")
        if origins_text is None or origins_text.strip() == "":
            # Closed in production, this machine's pages in development (cors.py).
            origins: list[str] | str | None = None
        elif origins_text.strip() == "*":
            origins = "*"
        else:
            origins = [o.strip() for o in origins_text.split(",") if o.strip()]
        return cls(
            environment=environment,
            host=env.get("HOST") or "127.0.0.1",
            port=_port(env.get("PORT") or "3000", "PORT"),
            data_dir=Path(env.get("PRESENCE_DATA_DIR") or "data"),
            jwt_secret=env.get("JWT_SECRET_ACCESS") or None,
            jwt_expires_in=parse_duration(expires, "JWT_EXPIRES_IN") if expires else 7 * 86400,
            database_url=env.get("DATABASE_URL") or None,
            cache_host=env.get("CACHE_HOST") or None,
            cache_port=_port(env.get("CACHE_PORT") or "6379", "CACHE_PORT"),
            cache_pass=env.get("CACHE_PASS") or None,
            redis_url=env.get("REDIS_URL") or None,
            redis_sentinels=_addresses(env.get("REDIS_SENTINELS"), "REDIS_SENTINELS"),
            redis_sentinel_master=_sentinel_master(env),
            socketio_channel=env.get("PRESENCE_SOCKETIO_CHANNEL") or "socketio",
            updates_channel=env.get("PRESENCE_UPDATES_CHANNEL") or "presence:updates",
            redis_cluster_keys=_flag(env.get("PRESENCE_REDIS_CLUSTER_KEYS"), "PRESENCE_REDIS_CLUSTER_KEYS", False),
            redis_cluster_nodes=_cluster_nodes(env.get("REDIS_CLUSTER_NODES"), env.get("REDIS_URL")),
            redis_buckets=_buckets(env.get("PRESENCE_REDIS_BUCKETS")),
            redis_pool_size=int(_number(env.get("PRESENCE_REDIS_POOL_SIZE"), "PRESENCE_REDIS_POOL_SIZE", 64, minimum=2)),
            instance_id=env.get("PRESENCE_INSTANCE_ID") or default_instance_id(),
            statuses_file=Path(env["PRESENCE_STATUSES_FILE"]) if env.get("PRESENCE_STATUSES_FILE") else None,
            cors_origins=origins,
            session_ttl=_number(env.get("PRESENCE_SESSION_TTL"), "PRESENCE_SESSION_TTL", 90.0, minimum=1.0),
            offline_grace=_number(env.get("PRESENCE_OFFLINE_GRACE"), "PRESENCE_OFFLINE_GRACE", 5.0),
            lease_ttl=_number(env.get("PRESENCE_LEASE_TTL"), "PRESENCE_LEASE_TTL", 10.0, minimum=1.0),
            lease_check_interval=_number(
                env.get("PRESENCE_LEASE_CHECK_INTERVAL"), "PRESENCE_LEASE_CHECK_INTERVAL", 1.0, minimum=0.05
            ),
            sweep_interval=_number(env.get("PRESENCE_SWEEP_INTERVAL"), "PRESENCE_SWEEP_INTERVAL", 5.0, minimum=0.01),
            ws_deflate=_flag(env.get("PRESENCE_WS_DEFLATE"), "PRESENCE_WS_DEFLATE", False),
            loop_monitor=_flag(env.get("PRESENCE_LOOP_MONITOR"), "PRESENCE_LOOP_MONITOR", False),
            log_level=(env.get("LOG_LEVEL") or "INFO").upper(),
            log_format=_choice(env.get("LOG_FORMAT"), "LOG_FORMAT", LOG_FORMATS),
            metrics_port=_port(env["PRESENCE_METRICS_PORT"], "PRESENCE_METRICS_PORT")
            if env.get("PRESENCE_METRICS_PORT")
            else None,
            sid_cookie=_cookie_name(env.get("PRESENCE_SID_COOKIE"), "PRESENCE_SID_COOKIE"),
            trusted_proxies=_networks(env.get("PRESENCE_TRUSTED_PROXIES"), "PRESENCE_TRUSTED_PROXIES"),
            audience=_choice(env.get("PRESENCE_AUDIENCE"), "PRESENCE_AUDIENCE", AUDIENCES),
            watch_max_targets=_count(env.get("PRESENCE_WATCH_MAX_TARGETS"), "PRESENCE_WATCH_MAX_TARGETS", 1000),
            max_ids_per_call=_count(env.get("PRESENCE_MAX_IDS_PER_CALL"), "PRESENCE_MAX_IDS_PER_CALL", 1000),
            demo=_flag(env.get("PRESENCE_DEMO"), "PRESENCE_DEMO", environment != PRODUCTION),
            max_sockets_per_user=_count(env.get("PRESENCE_MAX_SOCKETS_PER_USER"), "PRESENCE_MAX_SOCKETS_PER_USER", 20),
            events_per_minute=_count(env.get("PRESENCE_EVENTS_PER_MINUTE"), "PRESENCE_EVENTS_PER_MINUTE", 120),
            handshake_timeout=_number(
                env.get("PRESENCE_HANDSHAKE_TIMEOUT"), "PRESENCE_HANDSHAKE_TIMEOUT", 10.0, minimum=0.05
            ),
            max_queued_packets=_count(env.get("PRESENCE_MAX_QUEUED_PACKETS"), "PRESENCE_MAX_QUEUED_PACKETS", 1000),
            jwt_previous_secrets=tuple(
                secret.strip() for secret in (env.get("JWT_SECRETS_PREVIOUS") or "").split(",") if secret.strip()
            ),
            jwt_issuer=env.get("JWT_ISSUER") or None,
            jwt_audience=env.get("JWT_AUDIENCE") or None,
            jwt_jwks_url=env.get("JWT_JWKS_URL") or None,
            jwt_jwks_algorithms=_algorithms(env.get("JWT_JWKS_ALGORITHMS")),
        )


def _cluster_nodes(nodes: str | None, url: str | None) -> str | None:
    """``REDIS_CLUSTER_NODES`` normalised, after checking it (and a ``redis+cluster://``
    ``REDIS_URL``) names nodes as host:port."""
    if url and is_cluster_url(url.strip()):
        try:
            parse_cluster_url(url.strip())
        except ValueError as error:
            raise ConfigError(f"REDIS_URL: {error}") from None
    if nodes is None or not nodes.strip():
        return None
    try:
        return ",".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in parse_nodes(nodes))
    except ValueError as error:
        raise ConfigError(f"REDIS_CLUSTER_NODES={nodes!r}: {error}") from None


def _buckets(value: str | None) -> int:
    if value is None or not value.strip():
        return DEFAULT_BUCKETS
    if not value.strip().isdigit() or not 1 <= int(value) <= MAX_BUCKETS:
        raise ConfigError(f"PRESENCE_REDIS_BUCKETS={value!r}: a whole number from 1 to {MAX_BUCKETS}")
    return int(value)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """The process environment, completed (never overridden) by ``./.env``."""
    if env is None:
        from dotenv import load_dotenv

        load_dotenv(Path.cwd() / ".env", override=False)
        env = os.environ
    return Settings.from_env(env)
