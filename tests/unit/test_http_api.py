"""The HTTP presence API: bearer tokens, the policy, and errors with stable codes, through
Quart's test client on in-process adapters."""

from __future__ import annotations

import orjson
import pytest
from quart import Quart

from presence_gateway.domain.errors import Unavailable
from presence_gateway.entrypoints.http.presence_api import presence_api_blueprint
from presence_gateway.service_layer.watching import WatchService
from tests.fakes import ContactsAudience
from tests.unit.conftest import META, World, build_world

pytestmark = pytest.mark.anyio

AS_VIEWER = {"Authorization": "Bearer token-viewer"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # Quart is asyncio-only


class Api:
    def __init__(self, world: World, store=None, **limits: int) -> None:
        self.world = world
        self.contacts = ContactsAudience(("viewer", "friend"), ("viewer", "busy"))
        watch = WatchService(
            registry=world.service.registry,
            store=store or world.store,
            durable=world.writer,
            policy=self.contacts,
            **limits,
        )
        app = Quart(__name__)
        app.register_blueprint(presence_api_blueprint(world.service, watch))
        self.client = app.test_client()

    async def get(self, path: str, headers=AS_VIEWER):
        response = await self.client.get(path, headers=headers)
        return response.status_code, await response.get_json(), response.headers

    async def query(self, body: bytes | object, headers=AS_VIEWER):
        data = body if isinstance(body, bytes) else orjson.dumps(body)
        response = await self.client.post(
            "/api/v1/presence/query", data=data, headers={**headers, "Content-Type": "application/json"}
        )
        return response.status_code, await response.get_json()


@pytest.fixture
async def api() -> Api:
    world = build_world()
    await world.service.connect("friend", "s1", META)
    await world.service.connect("busy", "s1", META)
    await world.service.choose("busy", "s1", META, "INVISIBLE")
    await world.writer.flush()
    return Api(world)


async def test_one_users_presence(api: Api) -> None:
    status, body, _ = await api.get("/api/v1/presence/friend")
    seq = body.pop("seq")

    assert (status, body) == (
        200,
        {"userId": "friend", "status": "ONLINE", "lastSeen": None, "devices": {"web": "ONLINE"}, "customStatus": None},
    )
    assert isinstance(seq, int) and seq > 0


async def test_an_invisible_user_is_offline_with_the_last_seen_of_their_vanishing(api: Api) -> None:
    status, body, _ = await api.get("/api/v1/presence/busy")

    assert (status, body["status"]) == (200, "OFFLINE")
    assert body["lastSeen"] == "2027-01-15T08:00:00.000Z"  # the fake clock's now


async def test_a_query_answers_the_allowed_and_names_the_denied(api: Api) -> None:
    status, body = await api.query({"userIds": ["friend", "stranger", "busy"]})
    for entry in body["presence"]:
        assert entry.pop("seq") > 0

    assert status == 200
    assert body == {
        "presence": [
            {"userId": "friend", "status": "ONLINE", "lastSeen": None, "devices": {"web": "ONLINE"}, "customStatus": None},
            {"userId": "busy", "status": "OFFLINE", "lastSeen": "2027-01-15T08:00:00.000Z", "devices": {}, "customStatus": None},
        ],
        "denied": ["stranger"],
    }


async def test_a_user_the_policy_hides_is_forbidden(api: Api) -> None:
    status, body, _ = await api.get("/api/v1/presence/stranger")

    assert (status, body["error"]["code"]) == (403, "forbidden")


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "missing token"),
        ({"Authorization": "Bearer nope"}, "invalid token"),
        ({"Authorization": "Basic dXNlcg=="}, "invalid token"),
        ({"Authorization": "token-viewer"}, "invalid token"),  # a valid token, but no scheme
    ],
    ids=["none", "bad", "not-bearer", "no-scheme"],
)
async def test_no_valid_bearer_token_is_401(api: Api, headers, message: str) -> None:
    status, body, response_headers = await api.get("/api/v1/presence/friend", headers=headers)
    query_status, query_body = await api.query({"userIds": ["friend"]}, headers=headers)

    assert (status, body["error"]) == (401, {"code": "unauthorized", "message": message})
    assert response_headers["WWW-Authenticate"].startswith("Bearer")
    assert (query_status, query_body["error"]["code"]) == (401, "unauthorized")


async def test_the_bearer_scheme_is_case_insensitive(api: Api) -> None:
    status, _, _ = await api.get("/api/v1/presence/friend", headers={"Authorization": "bearer token-viewer"})

    assert status == 200


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[]", {"ids": ["friend"]}, {"userIds": "friend"}, {"userIds": [None]}],
    ids=["not-json", "not-an-object", "no-userIds", "not-a-list", "bad-id"],
)
async def test_a_bad_query_is_400_invalid_payload(api: Api, body) -> None:
    status, answer = await api.query(body)

    assert (status, answer["error"]["code"]) == (400, "invalid_payload")


async def test_more_ids_than_a_call_may_ask_is_413_limit() -> None:
    api = Api(build_world(), max_ids=3)

    status, answer = await api.query({"userIds": ["a", "b", "c", "d"]})
    huge_status, huge = await api.query(b'{"userIds": ["a"]' + b" " * 10_000 + b"}")  # few ids, a huge body

    assert (status, answer["error"]["code"]) == (413, "limit")
    assert (huge_status, huge["error"]["code"]) == (413, "limit")


async def test_a_presence_store_that_is_down_is_503_unavailable() -> None:
    class DownStore:
        async def states(self, user_ids):
            raise Unavailable("presence store unavailable")

    api = Api(build_world(), store=DownStore())

    status, body, _ = await api.get("/api/v1/presence/friend")

    assert (status, body["error"]["code"]) == (503, "unavailable")
