"""The one line an instance logs when it is ready: what it is, for whoever reads the logs
of a fleet (which database, which Redis, which statuses file, which instance id), with
every password hidden."""

from __future__ import annotations

from ...adapters.sql.engine import printable_url
from ..wiring.settings import Settings
from .database import database_url
from .logs import redact
from .version import installed_version


def describe_instance(settings: Settings, mode: str, version: str | None = None) -> tuple[str, dict[str, object]]:
    if version is None:
        version = installed_version()
    shared = settings.shared_presence_url
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    fields: dict[str, object] = {
        "version": version,
        "mode": "embedded" if mode == "memory" else mode,
        "redis": redact(shared) if shared else None,
        "database": printable_url(database_url(settings)),
        "statuses_file": str(settings.statuses_file) if settings.statuses_file else "built-in",
        "audience": settings.audience,
        "environment": settings.environment,
        "instance_id": settings.instance_id,
        "listening": f"http://{host}:{settings.port}",
        "metrics": f"http://{host}:{settings.metrics_port}/metrics" if settings.metrics_port else "/metrics",
    }
    shown = " ".join(f"{key}={value}" for key, value in fields.items() if value is not None and key != "version")
    message = f"presence-gateway {version} ready: {shown}"
    if not settings.production:
        message += "; get a token with: presence-gateway token --user 42"
    return message, fields
