"""Settings under the deployment's names, and the secret rules of development and production."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from presence_gateway.entrypoints.wiring.secrets import resolve_jwt_secret
from presence_gateway.entrypoints.wiring.settings import (
    ConfigError,
    ServerSettings,
    Settings,
    load_settings,
    parse_duration,
)


@pytest.mark.parametrize(("text", "seconds"), [("3600", 3600), ("45s", 45), ("30m", 1800), ("12h", 43200), ("7d", 604800)])
def test_durations_in_the_forms_jwt_expires_in_takes(text: str, seconds: int) -> None:
    assert parse_duration(text, "JWT_EXPIRES_IN") == seconds


@pytest.mark.parametrize("text", ["soon", "7 days", "-5", "1.5h"])
def test_a_bad_duration_names_the_setting(text: str) -> None:
    with pytest.raises(ConfigError, match="JWT_EXPIRES_IN"):
        parse_duration(text, "JWT_EXPIRES_IN")


def test_the_guides_environment_names() -> None:
    settings = Settings.from_env(
        {"PORT": "4000", "JWT_SECRET_ACCESS": "s3cret", "JWT_EXPIRES_IN": "12h", "CORS_ORIGINS": "http://a.test, https://b.test"}
    )
    assert (settings.server.port, settings.tokens.secret, settings.tokens.expires_in) == (4000, "s3cret", 43200)
    assert settings.server.cors_origins == ["http://a.test", "https://b.test"]
    assert settings.server.ws_deflate is False


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"PORT": "http"}, "PORT"),
        ({"PRESENCE_WS_DEFLATE": "maybe"}, "PRESENCE_WS_DEFLATE"),
        ({"PRESENCE_ENV": "staging"}, "PRESENCE_ENV"),
    ],
)
def test_a_bad_setting_is_named(env: dict[str, str], name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env(env)


def test_development_generates_a_secret_once_and_keeps_it(tmp_path: Path) -> None:
    settings = Settings(server=ServerSettings(data_dir=tmp_path / "data"))
    first = resolve_jwt_secret(settings)
    assert len(first) >= 32
    assert resolve_jwt_secret(settings) == first
    assert (tmp_path / "data" / "jwt-secret").stat().st_mode & 0o077 == 0


def test_production_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    settings = Settings.from_env({"PRESENCE_ENV": "production", "PRESENCE_DATA_DIR": str(tmp_path)})
    with pytest.raises(ConfigError, match="JWT_SECRET_ACCESS"):
        resolve_jwt_secret(settings)
    assert not (tmp_path / "jwt-secret").exists()


def test_no_cors_origins_means_the_environments_default_policy() -> None:
    assert Settings.from_env({"PRESENCE_ENV": "production"}).server.cors_origins is None
    assert Settings.from_env({}).server.cors_origins is None


def test_hostile_client_bounds_and_their_defaults() -> None:
    defaults = Settings.from_env({})
    limits = defaults.limits
    assert (limits.max_sockets_per_user, limits.socket_budget, limits.handshake_timeout) == (20, 120, 10.0)
    assert defaults.limits.max_queued_packets == 1000
    assert defaults.limits.max_queued_bytes == 1 << 20
    assert defaults.limits.request_deadline == 10.0
    custom = Settings.from_env(
        {
            "PRESENCE_MAX_SOCKETS_PER_USER": "3",
            "PRESENCE_EVENTS_PER_MINUTE": "30",
            "PRESENCE_HANDSHAKE_TIMEOUT": "2.5",
            "JWT_SECRETS_PREVIOUS": "old-one, older-one",
            "JWT_ISSUER": "https://id.example",
            "JWT_AUDIENCE": "presence",
        }
    )
    assert (custom.limits.max_sockets_per_user, custom.limits.socket_budget, custom.limits.handshake_timeout) == (3, 30, 2.5)
    assert custom.tokens.previous_secrets == ("old-one", "older-one")
    assert (custom.tokens.issuer, custom.tokens.audience) == ("https://id.example", "presence")


def test_jwks_algorithms_are_asymmetric_only() -> None:
    import pytest

    from presence_gateway.entrypoints.wiring.settings import ConfigError

    assert Settings.from_env({"JWT_JWKS_ALGORITHMS": "RS256, ES256"}).tokens.jwks_algorithms == ("RS256", "ES256")
    with pytest.raises(ConfigError, match="JWT_JWKS_ALGORITHMS"):
        Settings.from_env({"JWT_JWKS_ALGORITHMS": "RS256,HS256"})


def test_watching_settings_and_their_defaults() -> None:
    assert (Settings.from_env({}).statuses.audience, Settings.from_env({}).limits.watch_max_targets) == ("open", 1000)
    settings = Settings.from_env(
        {"PRESENCE_AUDIENCE": "Contacts", "PRESENCE_WATCH_MAX_TARGETS": "250", "PRESENCE_MAX_IDS_PER_CALL": "50"}
    )
    limits = settings.limits
    assert (settings.statuses.audience, limits.watch_max_targets, limits.max_ids_per_call) == ("contacts", 250, 50)


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"PRESENCE_AUDIENCE": "friends"}, "PRESENCE_AUDIENCE"),
        ({"PRESENCE_WATCH_MAX_TARGETS": "0"}, "PRESENCE_WATCH_MAX_TARGETS"),
        ({"PRESENCE_MAX_IDS_PER_CALL": "many"}, "PRESENCE_MAX_IDS_PER_CALL"),
    ],
)
def test_a_bad_watching_setting_is_named(env: dict[str, str], name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env(env)


def test_redis_cluster_nodes_select_a_cluster_with_its_key_layout() -> None:

    settings = Settings.from_env({"REDIS_CLUSTER_NODES": "10.0.0.1:7000, 10.0.0.2:7000", "CACHE_PASS": "s3cret"})

    assert settings.redis.shared_presence_url == "redis+cluster://:s3cret@10.0.0.1:7000,10.0.0.2:7000"
    assert settings.redis.cluster
    keys = redis_keys(settings)
    assert (keys.cluster, keys.buckets) == (True, 64)
    assert keys.sockets("42") == "presence:sockets:{b0}42"


def test_a_redis_cluster_url_selects_a_cluster_and_a_plain_one_does_not() -> None:
    assert Settings.from_env({"REDIS_URL": "redis+cluster://r1:7000/0", "PRESENCE_REDIS_BUCKETS": "16"}).redis.cluster
    plain = Settings.from_env({"REDIS_URL": "redis://r1:6379/0"})
    assert not plain.redis.cluster

    assert redis_keys(plain).sockets("42") == "presence:sockets:42"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"REDIS_CLUSTER_NODES": "r1"}, "REDIS_CLUSTER_NODES"),
        ({"REDIS_CLUSTER_NODES": "r1:7000,r2:port"}, "REDIS_CLUSTER_NODES"),
        ({"REDIS_CLUSTER_NODES": "r1:70000"}, "REDIS_CLUSTER_NODES"),
        ({"REDIS_CLUSTER_NODES": " , "}, "REDIS_CLUSTER_NODES"),
        ({"REDIS_URL": "redis+cluster://r1"}, "REDIS_URL"),
        ({"REDIS_URL": "redis+cluster://"}, "REDIS_URL"),
        ({"PRESENCE_REDIS_BUCKETS": "0"}, "PRESENCE_REDIS_BUCKETS"),
        ({"PRESENCE_REDIS_BUCKETS": "16385"}, "PRESENCE_REDIS_BUCKETS"),
        ({"PRESENCE_REDIS_BUCKETS": "many"}, "PRESENCE_REDIS_BUCKETS"),
    ],
)
def test_a_malformed_cluster_setting_names_itself(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        Settings.from_env(env)


def redis_keys(settings: Settings):
    """The key layout the container gives this deployment's store."""
    from presence_gateway.entrypoints.wiring.containers import build_container, layer_of

    return layer_of(build_container(settings, jwt_secret="s" * 32), "keys")()


README = Path(__file__).resolve().parents[2] / "README.md"


def documented_names() -> set[str]:
    """The variables in the first column of README's Configuration table."""
    section = README.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            names.update(re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1]))
    return names


def test_every_documented_variable_is_read_and_every_variable_read_is_documented() -> None:
    documented = documented_names()
    assert {"PORT", "CACHE_PASS", "JWT_AUDIENCE", "PRESENCE_INSTANCE_ID"} <= documented  # the parse found them
    assert set(Settings.environment_names()) == documented


# A value for every variable, none of them its default.
EVERY_VARIABLE = {
    "PRESENCE_ENV": "production", "HOST": "0.0.0.0", "PORT": "4001", "PRESENCE_DATA_DIR": "/srv/presence",
    "JWT_SECRET_ACCESS": "a-secret", "JWT_EXPIRES_IN": "1h", "DATABASE_URL": "sqlite:///x.db",
    "CACHE_HOST": "cache", "CACHE_PORT": "6380", "CACHE_PASS": "pw", "REDIS_URL": "redis://r:6379/1",
    "PRESENCE_SOCKETIO_CHANNEL": "sio", "PRESENCE_UPDATES_CHANNEL": "up", "PRESENCE_REDIS_CLUSTER_KEYS": "yes",
    "PRESENCE_PUBLISH_BY_INTEREST": "false",
    "PRESENCE_REDIS_POOL_SIZE": "8", "PRESENCE_INSTANCE_ID": "gw-1", "PRESENCE_STATUSES_FILE": "s.toml",
    "CORS_ORIGINS": "https://a.example", "PRESENCE_SESSION_TTL": "30", "PRESENCE_OFFLINE_GRACE": "0",
    "PRESENCE_LEASE_TTL": "3", "PRESENCE_LEASE_CHECK_INTERVAL": "0.5", "PRESENCE_SWEEP_INTERVAL": "2",
    "PRESENCE_WS_DEFLATE": "on", "PRESENCE_FAST_PROTOCOL": "off", "PRESENCE_LOOP_MONITOR": "1",
    "LOG_LEVEL": "debug", "LOG_FORMAT": "json",
    "PRESENCE_METRICS_PORT": "9100", "PRESENCE_TRUSTED_PROXIES": "10.0.0.0/8", "PRESENCE_SID_COOKIE": "io",
    "PRESENCE_AUDIENCE": "contacts", "PRESENCE_WATCH_MAX_TARGETS": "5", "PRESENCE_MAX_IDS_PER_CALL": "6",
    "PRESENCE_DEMO": "false", "PRESENCE_MAX_SOCKETS_PER_USER": "2", "PRESENCE_EVENTS_PER_MINUTE": "7",
    "PRESENCE_USER_EVENTS_PER_MINUTE": "70", "PRESENCE_CONNECTS_PER_MINUTE_PER_USER": "8",
    "PRESENCE_CONNECTS_PER_MINUTE_PER_ADDRESS": "90",
    "PRESENCE_HANDSHAKE_TIMEOUT": "1.5", "PRESENCE_MAX_QUEUED_PACKETS": "9", "JWT_SECRETS_PREVIOUS": "old",
    "PRESENCE_MAX_QUEUED_BYTES": "4096", "PRESENCE_REQUEST_DEADLINE": "2.5",
    "JWT_ISSUER": "https://id.example", "JWT_AUDIENCE": "presence", "JWT_JWKS_URL": "https://id.example/jwks",
    "JWT_JWKS_ALGORITHMS": "ES256", "REDIS_CLUSTER_NODES": "10.0.0.1:7000", "PRESENCE_REDIS_BUCKETS": "16",
    "REDIS_SENTINELS": "10.0.0.5:26379", "REDIS_SENTINEL_MASTER": "presence",
    "PRESENCE_API_KEYS": "chat:" + "k" * 32, "PRESENCE_API_KEYS_FILE": "/run/keys", "PRESENCE_STREAM_KEY": "changes",
    "PRESENCE_STREAM_MAXLEN": "5000", "PRESENCE_WEBHOOK_URL": "https://hooks.example/presence",
    "PRESENCE_WEBHOOK_SECRET": "whsec", "PRESENCE_WEBHOOK_RETRY_FOR": "600", "PRESENCE_WEBHOOK_TIMEOUT": "3",
}
# A variable that means nothing alone is set with the one it needs.
COMPANIONS = {
    "REDIS_SENTINELS": {"REDIS_SENTINEL_MASTER": "presence"},
    "PRESENCE_WEBHOOK_URL": {"PRESENCE_WEBHOOK_SECRET": "whsec"},
}


def test_each_variable_changes_its_setting_from_the_process_environment(monkeypatch, tmp_path: Path) -> None:
    assert set(EVERY_VARIABLE) == documented_names()
    monkeypatch.chdir(tmp_path)  # no .env here
    for name in Settings.environment_names():
        monkeypatch.delenv(name, raising=False)
    defaults = load_settings()
    unchanged = []
    for name, value in EVERY_VARIABLE.items():
        with monkeypatch.context() as env:
            env.setenv(name, value)
            for companion, companion_value in COMPANIONS.get(name, {}).items():
                env.setenv(companion, companion_value)
            if setting_of(load_settings(), name) == setting_of(defaults, name):
                unchanged.append(name)
    assert not unchanged


def setting_of(settings: Settings, name: str) -> object:
    """The value the variable ``name`` sets, in whichever group declares it."""
    (value,) = [
        getattr(getattr(settings, group_name), attribute)
        for group_name, group in Settings.groups().items()
        for attribute in group.model_fields
        if group.environment_name(attribute) == name
    ]
    return value


def test_a_dotenv_file_completes_the_environment_and_never_overrides_it(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("PORT=4100\nPRESENCE_SESSION_TTL=33\n")
    monkeypatch.setenv("PORT", "4200")
    monkeypatch.delenv("PRESENCE_SESSION_TTL", raising=False)
    settings = load_settings()
    assert (settings.server.port, settings.timing.session_ttl) == (4200, 33.0)


def test_an_empty_variable_is_an_unset_one() -> None:
    settings = Settings.from_env({"PORT": "", "PRESENCE_SESSION_TTL": "", "LOG_FORMAT": ""})
    assert (settings.server.port, settings.timing.session_ttl, settings.server.log_format) == (3000, 90.0, "text")


def test_code_names_attributes_and_reads_no_environment(monkeypatch) -> None:
    monkeypatch.setenv("PORT", "4300")
    monkeypatch.setenv("port", "4400")
    monkeypatch.setenv("url", "redis://nobody:1/0")
    assert Settings(server=ServerSettings(host="0.0.0.0")).server.port == 3000
    assert Settings(server=ServerSettings(port=4500)).server.port == 4500
    assert Settings().redis.url is None
    with pytest.raises(Exception, match="frozen"):
        Settings().server.port = 1  # type: ignore[misc]
    with pytest.raises(Exception, match="frozen"):
        Settings().server = ServerSettings()  # type: ignore[misc]


def test_the_environment_is_read_under_the_documented_names_only() -> None:
    """Never under a field's attribute name: ``url`` or ``port`` is no variable of ours."""
    settings = Settings.from_env({"port": "4400", "url": "redis://nobody:1/0", "secret": "x", "PORT": "4300"})
    assert (settings.server.port, settings.redis.url, settings.tokens.secret) == (4300, None, None)


def test_changed_replaces_settings_of_one_group() -> None:
    settings = Settings.from_env({"PORT": "4300", "HOST": "0.0.0.0"})
    moved = settings.changed("server", port=4301)
    assert (moved.server.port, moved.server.host, settings.server.port) == (4301, "0.0.0.0", 4300)


def test_the_demo_page_is_off_in_production_unless_asked_for() -> None:
    assert Settings.from_env({}).server.demo is True
    assert Settings.from_env({"PRESENCE_ENV": "production"}).server.demo is False
    assert Settings.from_env({"PRESENCE_ENV": "production", "PRESENCE_DEMO": "on"}).server.demo is True
    assert Settings.from_env({"PRESENCE_DEMO": "off"}).server.demo is False


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PORT": "http"}, "PORT='http' is not a TCP port"),
        ({"PRESENCE_METRICS_PORT": "70000"}, "PRESENCE_METRICS_PORT='70000' is not a TCP port"),
        ({"PRESENCE_SESSION_TTL": "0.5"}, "PRESENCE_SESSION_TTL='0.5' must be at least 1"),
        ({"PRESENCE_REDIS_POOL_SIZE": "lots"}, "PRESENCE_REDIS_POOL_SIZE='lots' is not a number"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT='xml': use text or json"),
        ({"PRESENCE_TRUSTED_PROXIES": "10.0.0.0/8, proxy"}, "PRESENCE_TRUSTED_PROXIES: 'proxy' is not an IP address"),
        ({"PRESENCE_SID_COOKIE": "a b"}, "PRESENCE_SID_COOKIE='a b': a cookie name is letters"),
        ({"JWT_EXPIRES_IN": "soon"}, "JWT_EXPIRES_IN='soon' is not a duration"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(env)
    assert str(refused.value).startswith(message)
    assert "\n" not in str(refused.value)


def test_serve_refuses_a_bad_variable_in_one_line_with_exit_code_2(monkeypatch, tmp_path: Path, capsys) -> None:
    from presence_gateway.entrypoints.process.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PRESENCE_WS_DEFLATE", "maybe")
    assert main(["serve"]) == 2
    assert capsys.readouterr().err == "presence-gateway: PRESENCE_WS_DEFLATE='maybe': use true or false\n"
