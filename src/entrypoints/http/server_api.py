"""The server API, for the chat backend with a service key (docs/server-api.md):

    POST /api/v1/server/presence/query          {userIds}            → {presence: [...]}
    GET  /api/v1/server/users/{userId}                               → the user, every socket, the grace
    POST /api/v1/server/users/{userId}/disconnect {reason?, block?}  → {disconnected: n}
    PUT  /api/v1/server/users/{userId}/status   {status}             → the user
    GET  /api/v1/server/stats                                        → counts
    GET  /api/v1/server/changes?after=<id>&limit=<n>                 → {changes, next}

``Authorization: Bearer <service key>``; a user's token is refused (401), as a service key
is on the user routes. With no key configured every route here answers 404. Errors are the
user API's ``{error: {code, message}}``; bodies are bounded.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from quart import Blueprint, Response, request

from ...adapters.presence_payload import custom_status_body, iso_timestamp
from ...domain.errors import InvalidPayload, NotFound
from ...domain.ports import ChangeStream, UserSessions
from ...domain.user_ids import MAX_USER_ID
from ...service_layer.server_api import ServerPresence, Stats, UserReport
from ...service_layer.service_keys import ServiceKeys
from ..sockets.watch_events import user_ids_payload
from .presence_api import bearer, error_response, json_body, json_response

log = logging.getLogger(__name__)

PREFIX = "/api/v1/server"
SMALL_BODY = 4096  # {reason, block}, {status, customStatus}
MAX_CHANGES = 1000
DEFAULT_CHANGES = 100


class ServerApiCounts:
    """Requests by route and HTTP code, read by the metrics collector."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str], int] = {}

    def count(self, route: str, code: int) -> None:
        key = (route, str(code))
        self.requests[key] = self.requests.get(key, 0) + 1


def report_body(report: UserReport) -> dict[str, Any]:
    return {
        "userId": report.user_id,
        "status": report.status,
        "visibleStatus": report.visible_status,
        "devices": dict(report.devices),
        "customStatus": custom_status_body(report.custom_status),
        "lastSeen": None if report.last_seen is None else iso_timestamp(report.last_seen),
        "seq": report.seq,
        "sockets": report.sockets,
    }


def explain_body(report: UserReport, sessions: UserSessions, idle_states: set[str]) -> dict[str, Any]:
    return {
        **report_body(report),
        "connections": [
            {
                "socketId": s.session_id,
                "device": s.device,
                "instance": s.instance,
                "connectedAt": iso_timestamp(s.connected_at),
                "lastPingAt": iso_timestamp(s.renewed_at),
                "state": s.state,
                "idle": s.state in idle_states,
            }
            for s in sessions.sessions
        ],
        "offlineGrace": {
            "active": sessions.grace_until is not None,
            "until": None if sessions.grace_until is None else iso_timestamp(sessions.grace_until),
        },
    }


def stats_body(stats: Stats) -> dict[str, Any]:
    return {
        "users": {"online": stats.online, "byStatus": dict(sorted(stats.by_status.items()))},
        "sockets": stats.sockets,
        "instances": [
            {
                "id": i.instance,
                "sockets": i.sockets,
                "startedAt": None if i.started_at is None else iso_timestamp(i.started_at),
            }
            for i in stats.instances
        ],
    }


CHANGE_FIELDS = ("userId", "status", "previous", "devices", "customStatus", "seq", "timestamp")


def change_body(entry_id: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"id": entry_id, **{name: body.get(name) for name in CHANGE_FIELDS}}


def changes_page(stream: ChangeStream) -> tuple[str, int]:
    after = request.args.get("after", "0")
    if len(after) > 64 or not stream.valid_id(after):
        raise InvalidPayload("after must be an id from a change (or 0 for the start)")
    limit_text = request.args.get("limit", str(DEFAULT_CHANGES))
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_CHANGES:
        raise InvalidPayload(f"limit must be a whole number from 1 to {MAX_CHANGES}")
    return after, int(limit_text)


def server_api_blueprint(
    keys: ServiceKeys | None,
    server: ServerPresence,
    stream: ChangeStream,
    counts: ServerApiCounts,
) -> Blueprint:
    bp = Blueprint("server_api", __name__, url_prefix=PREFIX)
    if keys is None:

        @bp.route("/", defaults={"rest": ""}, methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
        @bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
        async def off(rest: str) -> Response:
            counts.count("off", 404)
            return error_response(NotFound("the server API is off: no service key is configured (PRESENCE_API_KEYS)"))

        return bp

    idle = set(server.registry.socket_states())

    async def answer(route: str, work: Callable[[str], Awaitable[Response]]) -> Response:
        try:
            name = keys.name_of(bearer())
            response = await work(name)
        except Exception as error:
            response = error_response(error)
        counts.count(route, response.status_code)
        return response

    @bp.post("/presence/query")
    async def query() -> Response:
        async def work(name: str) -> Response:
            payload = await json_body(server.max_ids * (MAX_USER_ID + 8) + 4096, '{"userIds": [...]}')
            reports = await server.query(user_ids_payload(payload, "query"))
            return json_response({"presence": [report_body(r) for r in reports]})

        return await answer("query", work)

    @bp.get("/users/<path:user_id>")
    async def user(user_id: str) -> Response:
        async def work(name: str) -> Response:
            report, sessions = await server.explain(user_id)
            return json_response(explain_body(report, sessions, idle))

        return await answer("user", work)

    @bp.post("/users/<path:user_id>/disconnect")
    async def disconnect(user_id: str) -> Response:
        async def work(name: str) -> Response:
            payload = await _optional_body()
            closed = await server.disconnect(user_id, payload)
            log.info("service key %r disconnected user %r (%d sockets)", name, user_id, closed)
            return json_response({"disconnected": closed})

        return await answer("disconnect", work)

    @bp.put("/users/<path:user_id>/status")
    async def status(user_id: str) -> Response:
        async def work(name: str) -> Response:
            report = await server.set_status(user_id, await json_body(SMALL_BODY, '{"status": "DND"}'))
            log.info("service key %r set the status of user %r to %s", name, user_id, report.status)
            return json_response(report_body(report))

        return await answer("status", work)

    @bp.get("/stats")
    async def stats() -> Response:
        async def work(name: str) -> Response:
            return json_response(stats_body(await server.stats()))

        return await answer("stats", work)

    @bp.get("/changes")
    async def changes() -> Response:
        async def work(name: str) -> Response:
            after, limit = changes_page(stream)
            entries = await stream.read(after, limit)
            return json_response(
                {
                    "changes": [change_body(e.id, e.body) for e in entries],
                    "next": entries[-1].id if entries else after,
                }
            )

        return await answer("changes", work)

    return bp


async def _optional_body() -> Any:
    """A body that may be left out (``disconnect`` with no reason)."""
    if request.content_length == 0 or (request.content_length is None and "Transfer-Encoding" not in request.headers):
        return None
    return await json_body(SMALL_BODY, '{"reason": "...", "block": 60}')
