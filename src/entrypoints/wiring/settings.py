"""Settings from the environment (and a ``.env`` file), under the names the original
deployment used: CACHE_HOST, JWT_SECRET_ACCESS, PORT, DATABASE_URL, CORS_ORIGINS …

Each setting is declared once, below, in the group it belongs to (server, redis, database,
tokens, limits, statuses, timing): its attribute, its environment name, its default and
the rule its text must follow; pydantic-settings reads the variables. A value the gateway cannot start with raises
``ConfigError`` naming the variable, which ``serve`` prints as one line (exit code 2).
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import socket
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Self
from urllib.parse import quote

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, ValidationInfo, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from ...adapters.addresses import bracketed
from ...adapters.durations import parse_duration as _parse_duration
from ...adapters.jwt.verifier import JWKS_ALGORITHMS
from ...adapters.redis.cluster_url import is_cluster_url, parse_cluster_url, parse_nodes
from ...adapters.redis.keys import DEFAULT_BUCKETS, MAX_BUCKETS, UPDATES_CHANNEL
from ...adapters.redis.sentinel import sentinel_url
from ...compat.request_deadline import DEFAULT_SECONDS as DEFAULT_REQUEST_DEADLINE
from ...compat.request_deadline import MAX_SECONDS as MAX_REQUEST_DEADLINE
from ...compat.request_deadline import MIN_SECONDS as MIN_REQUEST_DEADLINE

DEVELOPMENT = "development"
PRODUCTION = "production"
ENVIRONMENTS = (DEVELOPMENT, PRODUCTION)
# Who may watch whom: anyone signed in, or the pairs of the presence_contacts table.
AUDIENCES = ("open", "contacts")
LOG_FORMATS = ("text", "json")
_ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "ES512", "Ed25519", "EdDSA")


class ConfigError(Exception):
    """A setting the gateway cannot start with; the message names it."""


def parse_duration(value: str, name: str) -> int:
    """Seconds from ``3600``, ``45s``, ``30m``, ``12h``, ``7d`` (the forms JWT_EXPIRES_IN takes)."""
    try:
        return _parse_duration(value)
    except ValueError as error:
        raise ConfigError(f"{name}={error}") from None


def default_instance_id() -> str:
    """Unique per process: host, pid and a random suffix (a restarted pid is a new instance)."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


# How the text of a variable becomes a value. Each takes the text and the variable's name
# (for the message) and raises ConfigError; values given by code (not text) are taken as
# they are.


def _flag(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={value!r}: use true or false")


def _number(minimum: float = 0.0, maximum: float | None = None) -> Callable[[str, str], float]:
    def parse(value: str, name: str) -> float:
        try:
            number = float(value)
        except ValueError:
            raise ConfigError(f"{name}={value!r} is not a number") from None
        if not number >= minimum:  # NaN included
            raise ConfigError(f"{name}={value!r} must be at least {minimum:g}")
        if maximum is not None and not number <= maximum:
            raise ConfigError(f"{name}={value!r} must be at most {maximum:g}")
        return number

    return parse


def _count(value: str, name: str) -> int:
    if not value.strip().isdigit() or int(value) < 1:
        raise ConfigError(f"{name}={value!r} must be a whole number of at least 1")
    return int(value)


def _choice(choices: tuple[str, ...]) -> Callable[[str, str], str]:
    """Blank is the first choice, the default."""

    def parse(value: str, name: str) -> str:
        chosen = value.strip().lower() or choices[0]
        if chosen not in choices:
            raise ConfigError(f"{name}={value!r}: use {' or '.join(choices)}")
        return chosen

    return parse


def _environment(value: str, name: str) -> str:
    chosen = value.strip().lower()
    if chosen not in ENVIRONMENTS:
        raise ConfigError(f"{name}={chosen!r}: use development or production")
    return chosen


def _port(value: str, name: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise ConfigError(f"{name}={value!r} is not a TCP port")
    return int(value)


def _networks(value: str, name: str) -> tuple[str, ...]:
    """Comma-separated addresses or CIDR networks, checked now so a typo fails the start."""
    networks = []
    for part in value.split(","):
        if part.strip():
            try:
                networks.append(str(ipaddress.ip_network(part.strip(), strict=False)))
            except ValueError:
                raise ConfigError(f"{name}: {part.strip()!r} is not an IP address or network") from None
    return tuple(networks)


def _cookie_name(value: str, name: str) -> str | None:
    if value.strip() == "":
        return None
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", value.strip()):
        raise ConfigError(f"{name}={value!r}: a cookie name is letters, digits, '_' and '-'")
    return value.strip()


def _algorithms(value: str, name: str) -> tuple[str, ...]:
    """The provider's algorithms; never HS* (a public key is no secret)."""
    if value.strip() == "":
        return JWKS_ALGORITHMS
    chosen = tuple(a.strip() for a in value.split(",") if a.strip())
    wrong = [a for a in chosen if a not in _ASYMMETRIC]
    if wrong or not chosen:
        raise ConfigError(f"{name}={value!r}: use some of {', '.join(_ASYMMETRIC)}")
    return chosen


def _origins(value: str, name: str) -> list[str] | str | None:
    """None: the environment's default (cors.py); "*" only when said explicitly."""
    if value.strip() == "":
        return None
    if value.strip() == "*":
        return "*"
    return [o.strip() for o in value.split(",") if o.strip()]


def _list(value: str, name: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def _redis_url(value: str, name: str) -> str:
    """A ``redis+cluster://`` URL is checked now for its nodes (host:port); others as given."""
    if is_cluster_url(value.strip()):
        try:
            parse_cluster_url(value.strip())
        except ValueError as error:
            raise ConfigError(f"{name}: {error}") from None
    return value


def _cluster_nodes(value: str, name: str) -> str | None:
    """A Redis Cluster's nodes (any will do as a seed), ``host:port,...``, normalised."""
    if not value.strip():
        return None
    try:
        return ",".join(f"{bracketed(h)}:{p}" for h, p in parse_nodes(value))
    except ValueError as error:
        raise ConfigError(f"{name}={value!r}: {error}") from None


def _buckets(value: str, name: str) -> int:
    if not value.strip():
        return DEFAULT_BUCKETS
    if not value.strip().isdigit() or not 1 <= int(value) <= MAX_BUCKETS:
        raise ConfigError(f"{name}={value!r}: a whole number from 1 to {MAX_BUCKETS}")
    return int(value)


def _addresses(value: str, name: str) -> str | None:
    """``host:port,host:port``, checked now so a typo fails the start."""
    parts = [part.strip() for part in value.split(",") if part.strip()]
    for part in parts:
        host, _, port = part.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"{name}: {part!r} is not host:port")
    return ",".join(parts) or None


def _master_name(value: str, name: str) -> str | None:
    master = value.strip()
    if master and not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", master):
        raise ConfigError(f"{name}={master!r}: letters, digits, '.', '_' and '-'")
    return master or None


def _upper(value: str, name: str) -> str:
    return value.upper()


def _read(parse: Callable[[str, str], Any]) -> BeforeValidator:
    def validate(value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, str):
            return value
        assert info.field_name is not None and info.config is not None
        group = _GROUPS[info.config.get("title", "")]
        try:
            return parse(value, group.environment_name(info.field_name))
        except ConfigError as error:
            raise ValueError(str(error)) from None

    return BeforeValidator(validate)


def _demo_default(value: Any, info: ValidationInfo) -> Any:
    """The demo page is on unless PRESENCE_DEMO says otherwise, and off in production."""
    if value is None:
        return info.data.get("environment") != PRODUCTION
    return value


def _env(name: str, default: Any = None, **field: Any) -> Any:
    if "default_factory" in field:
        return Field(validation_alias=name, **field)
    return Field(default, validation_alias=name, **field)


Flag = Annotated[bool, _read(_flag)]
Port = Annotated[int, _read(_port)]
Count = Annotated[int, _read(_count)]
Seconds = Annotated[float, _read(_number())]


class _Group(BaseSettings):
    """Settings that belong together, each field read from the variable its alias names.

    pydantic-settings reads the variables (``EnvSettingsSource``, case-sensitive, an empty
    variable taken as unset), and only under those names: a field is never read under its
    attribute name (``url`` is no variable the gateway documents). Built by code
    (``RedisSettings(url=...)``, tests, benchmarks), a group reads no environment at all.
    """

    model_config = SettingsConfigDict(frozen=True, validate_by_name=True, validate_by_alias=True, extra="ignore")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _GROUPS[cls.__name__] = cls

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)

    @classmethod
    def read(cls, env: Mapping[str, str | None]) -> Self:
        source = EnvSettingsSource(cls, case_sensitive=True)
        # The documented names only: with validate_by_name the source would also read each
        # field under its attribute name.
        source.config = {**source.config, "validate_by_name": False, "populate_by_name": False}
        source.env_vars = {name: value for name, value in env.items() if value}  # empty: unset
        return cls(**source())

    @classmethod
    def environment_name(cls, attribute: str) -> str:
        alias = cls.model_fields[attribute].validation_alias
        return alias if isinstance(alias, str) else attribute

    @classmethod
    def environment_names(cls) -> tuple[str, ...]:
        return tuple(
            field.validation_alias for field in cls.model_fields.values() if isinstance(field.validation_alias, str)
        )


_GROUPS: dict[str, type[_Group]] = {}


class ServerSettings(_Group):
    """The process: where it listens, what it is called, what it logs and serves beside the socket."""

    environment: Annotated[str, _read(_environment)] = _env("PRESENCE_ENV", DEVELOPMENT)
    host: str = _env("HOST", "127.0.0.1")
    port: Port = _env("PORT", 3000)
    data_dir: Path = _env("PRESENCE_DATA_DIR", Path("data"))
    instance_id: str = _env("PRESENCE_INSTANCE_ID", default_factory=default_instance_id)
    # None: the environment's default (cors.py); "*" only when said explicitly.
    cors_origins: Annotated[list[str] | str | None, NoDecode, _read(_origins)] = _env("CORS_ORIGINS")
    # Addresses (or networks) of the proxies whose X-Forwarded-For is believed.
    trusted_proxies: Annotated[tuple[str, ...], NoDecode, _read(_networks)] = _env("PRESENCE_TRUSTED_PROXIES", ())
    # Engine.IO's session cookie (python-engineio's ``cookie``), for a load balancer to
    # stick a session to its instance; None sends none.
    sid_cookie: Annotated[str | None, _read(_cookie_name)] = _env("PRESENCE_SID_COOKIE")
    ws_deflate: Flag = _env("PRESENCE_WS_DEFLATE", False)
    fast_protocol: Flag = _env("PRESENCE_FAST_PROTOCOL", True)
    # The demo page at / (and, outside production, its token endpoint); unset: on, except
    # in production.
    demo: Annotated[bool, _read(_flag), BeforeValidator(_demo_default)] = _env(
        "PRESENCE_DEMO", None, validate_default=True
    )
    log_level: Annotated[str, _read(_upper)] = _env("LOG_LEVEL", "INFO")
    log_format: Annotated[str, _read(_choice(LOG_FORMATS))] = _env("LOG_FORMAT", LOG_FORMATS[0])
    # Prometheus metrics on their own port (not the public one) when set.
    metrics_port: Port | None = _env("PRESENCE_METRICS_PORT")
    loop_monitor: Flag = _env("PRESENCE_LOOP_MONITOR", False)

    @property
    def production(self) -> bool:
        return self.environment == PRODUCTION


class RedisSettings(_Group):
    """Where instances share presence: one Redis, a Cluster, or one behind Sentinel; none
    for the embedded default."""

    cache_host: str | None = _env("CACHE_HOST")
    cache_port: Port = _env("CACHE_PORT", 6379)
    cache_pass: str | None = _env("CACHE_PASS")
    url: Annotated[str | None, _read(_redis_url)] = _env("REDIS_URL")
    # A Redis Cluster's nodes (any will do as a seed), "host:port,...".
    cluster_nodes: Annotated[str | None, _read(_cluster_nodes)] = _env("REDIS_CLUSTER_NODES")
    cluster_keys: Flag = _env("PRESENCE_REDIS_CLUSTER_KEYS", False)
    # Buckets of the cluster layout (keys.py, docs/redis.md): fixed for the data's life.
    buckets: Annotated[int, _read(_buckets)] = _env("PRESENCE_REDIS_BUCKETS", DEFAULT_BUCKETS)
    # Redis behind Sentinel: the sentinels ("host:port,...") and the master's name.
    sentinels: Annotated[str | None, _read(_addresses)] = _env("REDIS_SENTINELS")
    sentinel_master: Annotated[str | None, _read(_master_name)] = _env("REDIS_SENTINEL_MASTER")
    pool_size: Annotated[int, _read(lambda v, n: int(_number(minimum=2)(v, n)))] = _env(
        "PRESENCE_REDIS_POOL_SIZE", 64
    )
    socketio_channel: str = _env("PRESENCE_SOCKETIO_CHANNEL", "socketio")
    # Each user's changes on that user's channel (routing by interest); off, they go on the
    # instance-wide channel as before, heard by instances of an earlier version too (the
    # first step of an upgrade: docs/redis.md).
    publish_by_interest: Flag = _env("PRESENCE_PUBLISH_BY_INTEREST", True)
    updates_channel: str = _env("PRESENCE_UPDATES_CHANNEL", UPDATES_CHANNEL)

    @model_validator(mode="after")
    def _one_topology(self) -> RedisSettings:
        if self.sentinels and not self.sentinel_master:
            raise ValueError("REDIS_SENTINELS is set: REDIS_SENTINEL_MASTER must name the master")
        if self.sentinels and self.cluster_nodes:
            raise ValueError("REDIS_SENTINELS and REDIS_CLUSTER_NODES: set one of them")
        return self

    @property
    def shared_presence_url(self) -> str | None:
        """The Redis instances share presence through — ``REDIS_URL``, else the guide's
        ``CACHE_HOST``/``CACHE_PORT``/``CACHE_PASS`` — or None for the embedded default."""
        auth = f":{quote(self.cache_pass, safe='')}@" if self.cache_pass else ""
        if self.cluster_nodes:
            return f"redis+cluster://{auth}{self.cluster_nodes}"
        if self.sentinels and self.sentinel_master:
            return sentinel_url(self.sentinels, self.sentinel_master, password=self.cache_pass)
        if self.url:
            return self.url
        if not self.cache_host:
            return None
        return f"redis://{auth}{bracketed(self.cache_host)}:{self.cache_port}/0"

    @property
    def cluster(self) -> bool:
        """Presence on a Redis Cluster, which implies the cluster key layout."""
        return is_cluster_url(self.shared_presence_url)


class DatabaseSettings(_Group):
    """The durable record: PostgreSQL when named, else the embedded SQLite file."""

    url: str | None = _env("DATABASE_URL")


class TokenSettings(_Group):
    """How a client's JWT is checked, and how development tokens are minted."""

    secret: str | None = _env("JWT_SECRET_ACCESS")
    expires_in: Annotated[int | None, _read(parse_duration)] = _env("JWT_EXPIRES_IN", 7 * 86400)
    previous_secrets: Annotated[tuple[str, ...], NoDecode, _read(_list)] = _env("JWT_SECRETS_PREVIOUS", ())
    issuer: str | None = _env("JWT_ISSUER")
    audience: str | None = _env("JWT_AUDIENCE")
    jwks_url: str | None = _env("JWT_JWKS_URL")
    jwks_algorithms: Annotated[tuple[str, ...], NoDecode, _read(_algorithms)] = _env(
        "JWT_JWKS_ALGORITHMS", JWKS_ALGORITHMS
    )


class LimitSettings(_Group):
    """Hostile clients (docs/security.md): bounds per socket, per user and per call."""

    max_sockets_per_user: Count = _env("PRESENCE_MAX_SOCKETS_PER_USER", 20)
    socket_budget: Count = _env("PRESENCE_EVENTS_PER_MINUTE", 120)
    user_budget: Count = _env("PRESENCE_USER_EVENTS_PER_MINUTE", 300)
    connects_per_user: Count = _env("PRESENCE_CONNECTS_PER_MINUTE_PER_USER", 60)
    connects_per_address: Count = _env("PRESENCE_CONNECTS_PER_MINUTE_PER_ADDRESS", 1200)
    handshake_timeout: Annotated[float, _read(_number(minimum=0.05))] = _env("PRESENCE_HANDSHAKE_TIMEOUT", 10.0)
    max_queued_packets: Count = _env("PRESENCE_MAX_QUEUED_PACKETS", 1000)
    max_queued_bytes: Count = _env("PRESENCE_MAX_QUEUED_BYTES", 1 << 20)
    # Head and whole body of each HTTP request (polling included), then the connection is
    # closed; also how long a client that reads nothing of its output keeps its connection.
    request_deadline: Annotated[float, _read(_number(minimum=MIN_REQUEST_DEADLINE, maximum=MAX_REQUEST_DEADLINE))] = _env(
        "PRESENCE_REQUEST_DEADLINE", DEFAULT_REQUEST_DEADLINE
    )
    watch_max_targets: Count = _env("PRESENCE_WATCH_MAX_TARGETS", 1000)
    max_ids_per_call: Count = _env("PRESENCE_MAX_IDS_PER_CALL", 1000)


class StatusSettings(_Group):
    """What a user may show, and who may watch whom."""

    statuses_file: Path | None = _env("PRESENCE_STATUSES_FILE")
    # Who may watch whom: anyone signed in, or the pairs of the presence_contacts table.
    audience: Annotated[str, _read(_choice(AUDIENCES))] = _env("PRESENCE_AUDIENCE", AUDIENCES[0])


class TimingSettings(_Group):
    """How long a silent socket, a closed last tab and an instance's lease last."""

    session_ttl: Annotated[float, _read(_number(minimum=1.0))] = _env("PRESENCE_SESSION_TTL", 90.0)
    offline_grace: Seconds = _env("PRESENCE_OFFLINE_GRACE", 5.0)
    lease_ttl: Annotated[float, _read(_number(minimum=1.0))] = _env("PRESENCE_LEASE_TTL", 10.0)
    lease_check_interval: Annotated[float, _read(_number(minimum=0.05))] = _env("PRESENCE_LEASE_CHECK_INTERVAL", 1.0)
    sweep_interval: Annotated[float, _read(_number(minimum=0.01))] = _env("PRESENCE_SWEEP_INTERVAL", 5.0)


def _service_keys(value: str, name: str) -> tuple[tuple[str, str], ...]:
    """``name:secret,name:secret``: each name 1-64 of ``[A-Za-z0-9._-]``, once; the secret
    never appears in a message (only the name does)."""
    keys: dict[str, str] = {}
    for part in value.replace("\n", ",").split(","):
        part = part.strip()
        if not part or part.startswith("#"):
            continue
        key_name, colon, secret = part.partition(":")
        key_name, secret = key_name.strip(), secret.strip()
        if not colon or not secret:
            raise ConfigError(f"{name}: each key is name:secret (the entry named {key_name[:64]!r} has no secret)")
        if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", key_name):
            raise ConfigError(f"{name}: a key's name is 1-64 letters, digits, '.', '_' and '-'")
        if key_name in keys:
            raise ConfigError(f"{name}: the key name {key_name!r} is given twice")
        keys[key_name] = secret
    return tuple(keys.items())


def _webhook_url(value: str, name: str) -> str | None:
    url = value.strip()
    if not url:
        return None
    if not re.match(r"https?://[^/\s]+", url) or any(c.isspace() for c in url):
        raise ConfigError(f"{name}: an http:// or https:// URL")
    return url


class ServerApiSettings(_Group):
    """The server API for the backend (docs/server-api.md): its service keys, the change
    stream and the webhooks that follow it."""

    # name:secret,... (or the same, one a line, in the file PRESENCE_API_KEYS_FILE names).
    api_keys: Annotated[tuple[tuple[str, str], ...], NoDecode, _read(_service_keys)] = _env("PRESENCE_API_KEYS", ())
    api_keys_file: Path | None = _env("PRESENCE_API_KEYS_FILE")
    stream_key: str = _env("PRESENCE_STREAM_KEY", "presence:changes")
    stream_maxlen: Count = _env("PRESENCE_STREAM_MAXLEN", 1_000_000)
    webhook_url: Annotated[str | None, _read(_webhook_url)] = _env("PRESENCE_WEBHOOK_URL")
    webhook_secret: str | None = _env("PRESENCE_WEBHOOK_SECRET")
    # How long a change is retried before it goes to the dead letters.
    webhook_retry_for: Annotated[float, _read(_number(minimum=1.0))] = _env("PRESENCE_WEBHOOK_RETRY_FOR", 3600.0)
    webhook_timeout: Annotated[float, _read(_number(minimum=0.1))] = _env("PRESENCE_WEBHOOK_TIMEOUT", 10.0)

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> ServerApiSettings:
        if self.webhook_url and not self.webhook_secret:
            raise ValueError("PRESENCE_WEBHOOK_URL is set: PRESENCE_WEBHOOK_SECRET must say how deliveries are signed")
        return self


class Settings(BaseModel):
    """The gateway's settings, by group. ``Settings(server=ServerSettings(port=4000))``
    takes attribute names and reads no environment; ``load_settings()`` and
    ``Settings.from_env`` read the variables."""

    model_config = ConfigDict(frozen=True)

    server: ServerSettings = Field(default_factory=ServerSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    tokens: TokenSettings = Field(default_factory=TokenSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    statuses: StatusSettings = Field(default_factory=StatusSettings)
    timing: TimingSettings = Field(default_factory=TimingSettings)
    server_api: ServerApiSettings = Field(default_factory=ServerApiSettings)

    @classmethod
    def groups(cls) -> dict[str, type[_Group]]:
        return {name: field.annotation for name, field in cls.model_fields.items()}  # type: ignore[misc]

    @classmethod
    def environment_names(cls) -> tuple[str, ...]:
        """Every variable the gateway reads."""
        return tuple(name for group in cls.groups().values() for name in group.environment_names())

    @classmethod
    def from_env(cls, env: Mapping[str, str | None]) -> Settings:
        """The settings these variables say; an empty variable is an unset one."""
        try:
            return cls(**{name: group.read(env) for name, group in cls.groups().items()})
        except ValidationError as invalid:
            raise ConfigError(_first_problem(invalid)) from None

    def changed(self, group: str, **values: Any) -> Settings:
        """A copy with some settings of one group replaced (``changed("server", port=4000)``)."""
        current = getattr(self, group)
        return self.model_copy(update={group: current.model_copy(update=values)})

    @property
    def production(self) -> bool:
        return self.server.production


def _first_problem(invalid: ValidationError) -> str:
    """The message a rule above raised (it names the variable), else pydantic's own with
    the variable's name in front."""
    error = invalid.errors()[0]
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, ValueError):
        return str(cause)
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}"


def load_settings(env: Mapping[str, str | None] | None = None) -> Settings:
    """The process environment, completed (never overridden) by ``./.env``."""
    if env is None:
        from dotenv import dotenv_values

        env = {**dotenv_values(Path.cwd() / ".env"), **os.environ}
    return Settings.from_env(env)
