"""HTTP routes beside the socket: health for load balancers and orchestrators."""

from __future__ import annotations

from quart import Blueprint

from ..domain.durable_writer import DurableWriter


def health_blueprint(durable: DurableWriter) -> Blueprint:
    bp = Blueprint("health", __name__)

    @bp.get("/healthz")
    async def healthz() -> tuple[dict[str, str], int]:
        return {"status": "ok"}, 200

    @bp.get("/readyz")
    async def readyz() -> tuple[dict[str, object], int]:
        database = "ok" if durable.available else "unavailable"
        body = {"status": "ok", "database": database, "queuedWrites": durable.pending}
        # Presence keeps working while the database is down; say so without failing readiness.
        return body, 200

    return bp
