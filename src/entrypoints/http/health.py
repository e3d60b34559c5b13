"""HTTP routes beside the socket: health for load balancers and orchestrators."""

from __future__ import annotations

from collections.abc import Callable

from quart import Blueprint

from ...service_layer.durable_writer import DurableWriter


def health_blueprint(durable: DurableWriter, shared: Callable[[], dict[str, str]] | None = None) -> Blueprint:
    """``shared``, with Redis: whether it answers and whether this instance hears the others."""
    bp = Blueprint("health", __name__)

    @bp.get("/healthz")
    async def healthz() -> tuple[dict[str, str], int]:
        return {"status": "ok"}, 200

    @bp.get("/readyz")
    async def readyz() -> tuple[dict[str, object], int]:
        database = "ok" if durable.available else "unavailable"
        body: dict[str, object] = {
            "status": "ok",
            "database": database,
            "queuedWrites": durable.pending,
            # Records the database refused for their content, set aside so the rest proceed.
            "rejectedWrites": durable.rejected,
        }
        # Presence keeps working while the database is down; say so without failing readiness.
        # Without Redis (or deaf to the other instances) it does not: send clients elsewhere.
        checks = shared() if shared is not None else {"presence": "ok"}
        body.update(checks)
        if "unavailable" in checks.values():
            body["status"] = "unavailable"
            return body, 503
        return body, 200

    return bp
