"""The HTTP presence API, for backends and pages without a socket:

    GET  /api/v1/presence/{userId}                  → {userId, status, lastSeen}
    POST /api/v1/presence/query  {userIds: [...]}   → {presence: [...], denied: [...]}

Bearer JWT as the socket's; the same policy and visibility as a subscription (the same use
case answers both). Errors are ``{error: {code, message}}`` with the codes sockets get.
"""

from __future__ import annotations

from typing import Any

import orjson
from quart import Blueprint, Response, request

from ...domain.errors import (
    Forbidden,
    InvalidPayload,
    InvalidToken,
    LimitExceeded,
    NotFound,
    Refused,
    StatusNotChoosable,
    Unavailable,
    UnknownStatus,
)
from ...domain.user_ids import MAX_USER_ID
from ...service_layer.service_keys import ServiceKeys
from ...service_layer.use_cases import PresenceService
from ...service_layer.watching import WatchService
from ..error_body import error_body
from ..sockets.watch_events import seen_body, snapshot_body, user_ids_payload

_STATUS = {
    Refused: 401, Forbidden: 403, NotFound: 404, InvalidPayload: 400, UnknownStatus: 400, StatusNotChoosable: 400,
    LimitExceeded: 413, Unavailable: 503,
}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status=status, headers=headers, content_type="application/json")


def error_response(error: Exception) -> Response:
    """``{error: {code, message}}`` with the HTTP status of its kind (500 for anything
    unexpected, answered as ``internal``)."""
    status = next((code for kind, code in _STATUS.items() if isinstance(error, kind)), 500)
    headers = {"WWW-Authenticate": 'Bearer realm="presence"'} if status == 401 else None
    return json_response({"error": error_body(error, "a presence API request")}, status, headers)


def bearer() -> str | None:
    """The token of ``Authorization: Bearer <token>``; a header in any other form (no
    scheme, ``Basic``) is refused as it stands, whatever it holds."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        raise InvalidToken()
    return token.strip()


async def json_body(limit: int, shape: str) -> Any:
    """The request's JSON, read no further than ``limit`` bytes; ``shape`` is what the
    refusal of a body that is not JSON tells the client to send."""
    if request.content_length is not None and request.content_length > limit:
        raise LimitExceeded(f"the body is over {limit} bytes")
    data = bytearray()
    async for chunk in request.body:  # a body sent without a length is counted as it comes
        data += chunk
        if len(data) > limit:
            raise LimitExceeded(f"the body is over {limit} bytes")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        raise InvalidPayload(f"the body must be JSON: {shape}") from None


async def _query_body(max_ids: int) -> object:
    # Room for max_ids of the longest ids, quoted and separated, and a little JSON around.
    payload = await json_body(max_ids * (MAX_USER_ID + 8) + 4096, '{"userIds": [...]}')
    return user_ids_payload(payload, "query")


async def _user(presence: PresenceService, keys: ServiceKeys | None) -> str:
    """The user a request's token names; a service key is no user (refused, 401)."""
    token = bearer()
    if keys is not None and keys.is_key(token):
        raise InvalidToken("a service key is not a user token: use it on /api/v1/server/")
    return await presence.authenticate(token)


def presence_api_blueprint(presence: PresenceService, watch: WatchService, keys: ServiceKeys | None = None) -> Blueprint:
    bp = Blueprint("presence_api", __name__, url_prefix="/api/v1/presence")

    @bp.get("/<path:user_id>")
    async def one(user_id: str) -> Response:
        try:
            viewer = await _user(presence, keys)
            seen = await watch.one(viewer, user_id)
        except Exception as error:
            return error_response(error)
        return json_response(seen_body(seen))

    @bp.post("/query")
    async def query() -> Response:
        try:
            viewer = await _user(presence, keys)
            snapshot = await watch.query(viewer, await _query_body(watch.max_ids))
        except Exception as error:
            return error_response(error)
        return json_response(snapshot_body(snapshot))

    return bp
