"""The server API's service keys, from ``PRESENCE_API_KEYS`` and ``PRESENCE_API_KEYS_FILE``
(both may be given: the file's keys join the variable's). None: the server API is off."""

from __future__ import annotations

from ...service_layer.service_keys import MIN_PRODUCTION_SECRET, ServiceKeys
from .settings import ConfigError, Settings, _service_keys


def configured_keys(settings: Settings) -> list[tuple[str, str]]:
    api = settings.server_api
    keys = list(api.api_keys)
    if api.api_keys_file is not None:
        try:
            text = api.api_keys_file.read_text()
        except OSError as error:
            raise ConfigError(f"PRESENCE_API_KEYS_FILE={api.api_keys_file}: {error.strerror or error}") from None
        keys += _service_keys(text, "PRESENCE_API_KEYS_FILE")
    names = [name for name, _ in keys]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ConfigError(f"PRESENCE_API_KEYS: the key name {twice[0]!r} is given twice")
    if settings.production:
        short = [name for name, secret in keys if len(secret) < MIN_PRODUCTION_SECRET]
        if short:
            raise ConfigError(
                f"PRESENCE_API_KEYS: the key {short[0]!r} is shorter than {MIN_PRODUCTION_SECRET} characters; "
                "PRESENCE_ENV=production refuses it (make one with: openssl rand -hex 32)"
            )
    return keys


def service_keys(settings: Settings) -> ServiceKeys | None:
    keys = configured_keys(settings)
    return ServiceKeys(keys) if keys else None
