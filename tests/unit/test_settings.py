"""Settings under the deployment's names, and the secret rules of development and production."""

from __future__ import annotations

from pathlib import Path

import pytest

from presence_gateway.entrypoints.secrets import resolve_jwt_secret
from presence_gateway.entrypoints.settings import ConfigError, Settings, parse_duration


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
    assert (settings.port, settings.jwt_secret, settings.jwt_expires_in) == (4000, "s3cret", 43200)
    assert settings.cors_origins == ["http://a.test", "https://b.test"]
    assert settings.ws_deflate is False


@pytest.mark.parametrize(("env", "name"), [({"PORT": "http"}, "PORT"), ({"PRESENCE_WS_DEFLATE": "maybe"}, "PRESENCE_WS_DEFLATE"), ({"PRESENCE_ENV": "staging"}, "PRESENCE_ENV")])
def test_a_bad_setting_is_named(env: dict[str, str], name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env(env)


def test_development_generates_a_secret_once_and_keeps_it(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
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
    assert Settings.from_env({"PRESENCE_ENV": "production"}).cors_origins is None
    assert Settings.from_env({}).cors_origins is None


def test_hostile_client_bounds_and_their_defaults() -> None:
    defaults = Settings.from_env({})
    assert (defaults.max_sockets_per_user, defaults.events_per_minute, defaults.handshake_timeout) == (20, 120, 10.0)
    assert defaults.max_queued_packets == 1000
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
    assert (custom.max_sockets_per_user, custom.events_per_minute, custom.handshake_timeout) == (3, 30, 2.5)
    assert custom.jwt_previous_secrets == ("old-one", "older-one")
    assert (custom.jwt_issuer, custom.jwt_audience) == ("https://id.example", "presence")


def test_jwks_algorithms_are_asymmetric_only() -> None:
    import pytest

    from presence_gateway.entrypoints.settings import ConfigError

    assert Settings.from_env({"JWT_JWKS_ALGORITHMS": "RS256, ES256"}).jwt_jwks_algorithms == ("RS256", "ES256")
    with pytest.raises(ConfigError, match="JWT_JWKS_ALGORITHMS"):
        Settings.from_env({"JWT_JWKS_ALGORITHMS": "RS256,HS256"})


def test_watching_settings_and_their_defaults() -> None:
    assert (Settings.from_env({}).audience, Settings.from_env({}).watch_max_targets) == ("open", 1000)
    settings = Settings.from_env(
        {"PRESENCE_AUDIENCE": "Contacts", "PRESENCE_WATCH_MAX_TARGETS": "250", "PRESENCE_MAX_IDS_PER_CALL": "50"}
    )
    assert (settings.audience, settings.watch_max_targets, settings.max_ids_per_call) == ("contacts", 250, 50)


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
    from presence_gateway.entrypoints.containers import redis_keys

    settings = Settings.from_env({"REDIS_CLUSTER_NODES": "10.0.0.1:7000, 10.0.0.2:7000", "CACHE_PASS": "s3cret"})

    assert settings.shared_presence_url == "redis+cluster://:s3cret@10.0.0.1:7000,10.0.0.2:7000"
    assert settings.redis_cluster
    keys = redis_keys(settings)
    assert (keys.cluster, keys.buckets) == (True, 64)
    assert keys.sockets("42") == "presence:sockets:{b0}42"


def test_a_redis_cluster_url_selects_a_cluster_and_a_plain_one_does_not() -> None:
    assert Settings.from_env({"REDIS_URL": "redis+cluster://r1:7000/0", "PRESENCE_REDIS_BUCKETS": "16"}).redis_cluster
    plain = Settings.from_env({"REDIS_URL": "redis://r1:6379/0"})
    assert not plain.redis_cluster
    from presence_gateway.entrypoints.containers import redis_keys

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
