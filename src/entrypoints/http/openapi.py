"""The OpenAPI 3.1 document of every HTTP route, served at ``/api/v1/openapi.json`` and
written to ``docs/openapi.json`` (``make openapi``). The schemas are generated from the
models in ``api_models.py``; the operations are the table below, which a test compares
with the routes the app registers, and the answers the tests get are held to the models."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema
from quart import Blueprint, Response

from . import api_models as m

PATH = "/api/v1/openapi.json"
Security = list[dict[str, list[str]]]
USER: Security = [{"userToken": []}]
SERVICE: Security = [{"serviceKey": []}]
USER_ID = {"name": "userId", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 255}}
CHANGES_PARAMS = [
    {
        "name": "after",
        "in": "query",
        "schema": {"type": "string", "default": "0"},
        "description": "An id from a change (0: from the start)",
    },
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}},
]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    answer: type[BaseModel] | None  # None: not JSON (text/plain)
    body: type[BaseModel] | None = None
    security: Security = field(default_factory=list)
    parameters: list[dict[str, Any]] = field(default_factory=list)
    errors: tuple[int, ...] = ()


OPERATIONS = [
    Operation("get", "/healthz", "Liveness: the process answers", m.Health),
    Operation(
        "get",
        "/readyz",
        "Readiness: the database and Redis as this instance sees them (503 when it cannot serve)",
        m.Readiness,
        errors=(503,),
    ),
    Operation("get", "/metrics", "Prometheus metrics (text exposition format)", None),
    Operation("get", PATH, "This document", None),
    Operation(
        "get",
        "/debug/loop",
        "Event-loop lag figures (only with PRESENCE_LOOP_MONITOR; ?reset=1 restarts them)",
        m.LoopLag,
    ),
    Operation(
        "get",
        "/api/v1/presence/{userId}",
        "One user as the token's user may see them",
        m.SeenPresence,
        security=USER,
        parameters=[USER_ID],
        errors=(400, 401, 403, 503),
    ),
    Operation(
        "post",
        "/api/v1/presence/query",
        "Many users as the token's user may see them",
        m.SeenSnapshot,
        body=m.UserIds,
        security=USER,
        errors=(400, 401, 413, 503),
    ),
    Operation(
        "post",
        "/api/v1/server/presence/query",
        "The true state of many users (one Redis round trip per 1000)",
        m.ServerQueryAnswer,
        body=m.UserIds,
        security=SERVICE,
        errors=(400, 401, 404, 413, 503),
    ),
    Operation(
        "get",
        "/api/v1/server/users/{userId}",
        "One user, every socket, and whether an offline grace holds them",
        m.UserExplained,
        security=SERVICE,
        parameters=[USER_ID],
        errors=(400, 401, 404, 503),
    ),
    Operation(
        "post",
        "/api/v1/server/users/{userId}/disconnect",
        "Close every socket of the user on every instance (OFFLINE at once); block refuses reconnects",
        m.DisconnectAnswer,
        body=m.DisconnectRequest,
        security=SERVICE,
        parameters=[USER_ID],
        errors=(400, 401, 404, 413, 503),
    ),
    Operation(
        "put",
        "/api/v1/server/users/{userId}/status",
        "Set a status and/or custom status as if the user chose it",
        m.ServerPresence,
        body=m.StatusRequest,
        security=SERVICE,
        parameters=[USER_ID],
        errors=(400, 401, 404, 413, 503),
    ),
    Operation(
        "get",
        "/api/v1/server/stats",
        "Counts of users by status, sockets and instances (cached for a second)",
        m.Stats,
        security=SERVICE,
        errors=(401, 404, 503),
    ),
    Operation(
        "get",
        "/api/v1/server/changes",
        "The change stream, oldest first, after an id",
        m.Changes,
        security=SERVICE,
        parameters=CHANGES_PARAMS,
        errors=(400, 401, 404, 503),
    ),
]

MODELS: list[type[BaseModel]] = [m.ErrorBody, m.WebhookEvent]
MODELS += [model for op in OPERATIONS for model in (op.answer, op.body) if model is not None]


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _operation(op: Operation) -> dict[str, Any]:
    if op.answer is not None:
        ok = {"description": "OK", **_json(_ref(op.answer))}
    else:
        kind = "application/json" if op.path == PATH else "text/plain"
        ok = {
            "description": "OK",
            "content": {kind: {"schema": {"type": "object"} if op.path == PATH else {"type": "string"}}},
        }
    responses: dict[str, Any] = {"200": ok}
    for code in op.errors:
        responses[str(code)] = {"description": _ERRORS[code], **_json(_ref(m.ErrorBody))}
    operation: dict[str, Any] = {
        "operationId": op.method + "".join(part.strip("{}").title() for part in op.path.split("/")),
        "summary": op.summary,
        "responses": responses,
    }
    if op.parameters:
        operation["parameters"] = op.parameters
    if op.body is not None:
        operation["requestBody"] = {"required": op.method == "post" and op.body is m.UserIds, **_json(_ref(op.body))}
    if op.security:
        operation["security"] = op.security
    return operation


_ERRORS = {
    400: "The body or a parameter is refused (code says why)",
    401: "No token or key, or the wrong kind (a service key on a user route, a user token on a server route)",
    403: "The audience policy does not let this viewer see that user",
    404: "The server API is off (no service key configured)",
    413: "The body is over its bound",
    503: "Presence is unavailable (Redis down); retry later",
}


def openapi_document(version: str = "0") -> dict[str, Any]:
    modes: list[tuple[type[BaseModel], JsonSchemaMode]] = [(model, "serialization") for model in dict.fromkeys(MODELS)]
    _, schemas = models_json_schema(modes, ref_template="#/components/schemas/{model}")
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "presence-gateway HTTP API",
            "version": version,
            "description": "The user API (a user's JWT) and the server API (a service key); docs/server-api.md.",
        },
        "paths": paths,
        "webhooks": {
            "presence.changed": {
                "post": {
                    "summary": "Each change, POSTed to PRESENCE_WEBHOOK_URL, signed in Presence-Signature",
                    "parameters": [
                        {
                            "name": "Presence-Signature",
                            "in": "header",
                            "required": True,
                            "schema": {"type": "string", "pattern": "^t=[0-9]+,v1=[0-9a-f]{64}$"},
                            "description": 'HMAC-SHA256 of "<t>.<body>" with PRESENCE_WEBHOOK_SECRET, hex',
                        }
                    ],
                    "requestBody": {"required": True, **_json(_ref(m.WebhookEvent))},
                    "responses": {"200": {"description": "Any 2xx acknowledges it; anything else is retried"}},
                }
            }
        },
        "components": {
            "schemas": schemas["$defs"],
            "securitySchemes": {
                "userToken": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "serviceKey": {"type": "http", "scheme": "bearer", "description": "A secret of PRESENCE_API_KEYS"},
            },
        },
    }


def rendered() -> str:
    return json.dumps(openapi_document(), indent=2, ensure_ascii=False) + "\n"


def openapi_blueprint() -> Blueprint:
    bp = Blueprint("openapi", __name__)
    body = rendered()  # built once: the routes do not change while the process runs

    @bp.get(PATH)
    async def document() -> Response:
        return Response(body, content_type="application/json")

    return bp


if __name__ == "__main__":  # make openapi
    sys.stdout.write(rendered())
