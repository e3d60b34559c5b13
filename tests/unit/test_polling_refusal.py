"""Several workers on one port: which requests are refused, and what a client is told."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from presence_gateway.compat.hypercorn_worker import hypercorn_worker
from presence_gateway.entrypoints.http.polling_refusal import PollingRefusal

pytestmark = pytest.mark.anyio


def scope(kind: str = "http", path: str = "/socket.io/", query: bytes = b"EIO=4&transport=polling", method: str = "GET"):
    return {"type": kind, "path": path, "query_string": query, "method": method, "headers": [(b"origin", b"http://a.example")]}


async def answer(refusal: PollingRefusal, request: dict) -> tuple[int, dict, bytes]:
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    await refusal.respond(request, send)
    return sent[0]["status"], dict(sent[0]["headers"]), sent[1]["body"]


REFUSAL = PollingRefusal(2, "/socket.io/", lambda origin: True)


@pytest.mark.parametrize(
    ("request_scope", "refused"),
    [
        (scope(), True),
        (scope(path="/socket.io"), True),
        (scope(query=b"EIO=4&transport=polling&sid=abc", method="POST"), True),
        (scope(kind="websocket", query=b"EIO=4&transport=websocket"), False),  # the transport served
        (scope(path="/healthz"), False),
        (scope(path="/socket.iox/"), False),
        ({"type": "lifespan"}, False),
    ],
)
def test_only_plain_http_to_the_socketio_path_is_refused(request_scope: dict, refused: bool) -> None:
    assert REFUSAL.refuses(request_scope) is refused


async def test_a_polling_handshake_gets_an_open_packet_then_connect_error_with_the_fix() -> None:
    status, headers, body = await answer(REFUSAL, scope())

    assert status == 200 and headers[b"access-control-allow-origin"] == b"http://a.example"
    opened, refusal = body.split(b"\x1e")
    assert opened[:1] == b"0" and json.loads(opened[1:])["upgrades"] == []  # no upgrade to probe elsewhere
    error = json.loads(refusal[2:])
    assert refusal[:2] == b"44" and error["data"] == {"code": "polling_unavailable"}
    assert "2 worker processes" in error["message"] and "transports: ['websocket']" in error["message"]


@pytest.mark.parametrize(
    "query",
    [b"EIO=4&transport=polling&sid=abc", b"EIO=3&transport=polling", b"EIO=4&j=0", b"&".join([b"x=1"] * 100)],
    ids=["with-a-session", "old-protocol", "jsonp", "hostile-query"],
)
async def test_any_other_polling_request_gets_the_reason_as_json(query: bytes) -> None:
    status, headers, body = await answer(REFUSAL, scope(query=query))

    assert status == 400 and headers[b"content-type"] == b"application/json"
    assert json.loads(body)["code"] == "polling_unavailable"


async def test_an_origin_outside_the_allowlist_gets_no_cors_header() -> None:
    refusal = PollingRefusal(2, "/socket.io/", lambda origin: origin == "https://chat.example")

    _, headers, _ = await answer(refusal, scope())

    assert b"access-control-allow-origin" not in headers


def test_a_hypercorn_worker_learns_how_many_share_its_port_and_its_parent_s_event() -> None:
    event = SimpleNamespace(is_set=lambda: True)
    process = SimpleNamespace(_kwargs={"config": SimpleNamespace(workers=3), "sockets": None, "shutdown_event": event})

    worker = hypercorn_worker(process)

    assert worker is not None and worker.workers == 3 and worker.parent_stopping


@pytest.mark.parametrize(
    "kwargs",
    [None, {}, {"config": SimpleNamespace(workers=2)}, {"config": object(), "shutdown_event": SimpleNamespace(is_set=bool)}],
    ids=["main-process", "no-arguments", "no-event", "not-hypercorn's-config"],
)
def test_any_other_process_is_not_a_hypercorn_worker(kwargs) -> None:
    assert hypercorn_worker(SimpleNamespace(_kwargs=kwargs)) is None
