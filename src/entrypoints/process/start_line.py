"""The one line an instance logs when it is ready: what it is, for whoever reads the logs
of a fleet (which database, which Redis, which statuses file, which instance id), with
every password hidden."""

from __future__ import annotations

from ...adapters.addresses import bracketed
from ...adapters.sql.engine import printable_url
from ...service_layer.service_keys import ServiceKeys
from ..wiring.settings import Settings
from .database import database_url
from .logs import redact
from .version import installed_version


def describe_instance(
    settings: Settings, shape: str, redis_url: str | None, keys: ServiceKeys | None = None, version: str | None = None
) -> tuple[str, dict[str, object]]:
    """``shape``: the deployment's (``embedded``, ``redis``); ``redis_url``: where instances
    share presence, None in the embedded default."""
    if version is None:
        version = installed_version()
    host = bracketed(settings.server.host)
    fields: dict[str, object] = {
        "version": version,
        "mode": shape,
        "redis": redact(redis_url) if redis_url else None,
        "database": printable_url(database_url(settings)),
        "statuses_file": str(settings.statuses.statuses_file) if settings.statuses.statuses_file else "built-in",
        "audience": settings.statuses.audience,
        "environment": settings.server.environment,
        "instance_id": settings.server.instance_id,
        "listening": f"http://{host}:{settings.server.port}",
        # The key names, never the secrets; "off" says why /api/v1/server/ answers 404.
        "server_api": ",".join(keys.names) if keys is not None else "off",
        "webhooks": "on" if settings.server_api.webhook_url else None,
        "metrics": f"http://{host}:{settings.server.metrics_port}/metrics" if settings.server.metrics_port else "/metrics",
    }
    shown = " ".join(f"{key}={value}" for key, value in fields.items() if value is not None and key != "version")
    message = f"presence-gateway {version} ready: {shown}"
    if not settings.production:
        message += "; get a token with: presence-gateway token --user 42"
    return message, fields
