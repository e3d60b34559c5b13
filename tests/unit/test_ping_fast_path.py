"""The ping's fast path (``compat/bare_events.py``, ``fast_http.read_idle``): the same
handler run, the same bytes sent and the same read timeout as the generic path, and the
generic path taken wherever the fast one would differ."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from presence_gateway.adapters.socketio.server import PresenceSocketServer
from presence_gateway.compat.fast_websocket import OP_TEXT, frame, text_frame
from presence_gateway.compat.lean_manager import encode_event

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def server_with_socket() -> tuple[PresenceSocketServer, str, list[tuple[str, Any]], list[str]]:
    server = PresenceSocketServer()
    server.bare.register("ping")
    server.bare.register("pong")
    sid = await server.manager.connect("eio-1", "/")
    sent: list[tuple[str, Any]] = []
    pinged: list[str] = []

    async def record(eio_sid: str, pkt: Any) -> None:
        sent.append((eio_sid, pkt))

    async def ping(sid: str, payload: Any = None) -> None:
        pinged.append(sid)
        await server.bare.emit("pong", to=sid)

    server._send_eio_packet = record  # type: ignore[method-assign,assignment]
    server.on("ping", ping)
    return server, sid, sent, pinged


async def test_a_bare_ping_runs_its_handler_and_answers_upstreams_bytes() -> None:
    server, sid, sent, pinged = await server_with_socket()

    await server._handle_eio_message("eio-1", '2["ping"]')

    assert pinged == [sid]
    assert [(eio_sid, pkt.encode()) for eio_sid, pkt in sent] == [("eio-1", encode_event("/", "pong", None).encode())]
    text = sent[0][1].encode()
    assert text_frame(text) == frame(OP_TEXT, b'42["pong"]')


async def test_a_ping_from_a_socket_not_connected_is_dropped_as_upstream_drops_it() -> None:
    server, _, sent, pinged = await server_with_socket()

    await server._handle_eio_message("eio-unknown", '2["ping"]')

    assert pinged == [] and sent == []


async def test_a_ping_with_arguments_or_an_ack_takes_the_generic_path() -> None:
    server, sid, _, pinged = await server_with_socket()
    assert server.bare.event_of('2["ping",1]') is None and server.bare.event_of('21["ping"]') is None

    await server._handle_eio_message("eio-1", '2["ping",{"a":1}]')

    assert pinged == [sid]  # upstream's dispatch, same handler


async def test_an_emit_the_fast_path_cannot_make_goes_through_the_server(monkeypatch) -> None:
    server, sid, sent, _ = await server_with_socket()
    emitted: list[tuple[str, Any]] = []

    async def emit(event: str, to: Any = None, **_: Any) -> None:
        emitted.append((event, to))

    monkeypatch.setattr(server, "emit", emit)
    await server.bare.emit("pong", to="not-a-local-socket")  # another instance's: published
    await server.bare.emit("unregistered", to=sid)

    assert emitted == [("pong", "not-a-local-socket"), ("unregistered", sid)] and sent == []


async def test_the_handlers_session_is_the_one_upstream_reads(monkeypatch) -> None:
    server = PresenceSocketServer()
    sid = await server.manager.connect("eio-1", "/")
    socket = SimpleNamespace(closed=False, session={})
    monkeypatch.setitem(server.eio.sockets, "eio-1", socket)
    await server.save_session(sid, "the session")

    assert server.bare.session_of(sid) == await server.get_session(sid) == "the session"
    socket.closed = True
    with pytest.raises(KeyError):
        server.bare.session_of(sid)  # a socket closed meanwhile, as upstream's raises


def test_a_reserved_event_cannot_be_made_bare() -> None:
    with pytest.raises(ValueError):
        PresenceSocketServer().bare.register("disconnect")


def masked(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    mask = b"\x01\x02\x03\x04"
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes(((0x80 if fin else 0) | opcode, 0x80 | len(payload))) + mask + body


def test_frames_are_read_whole_or_split_or_several_to_a_read() -> None:
    from presence_gateway.compat.fast_websocket import FrameReader

    reader = FrameReader(1024)
    ping, pong = masked(OP_TEXT, b'42["ping"]'), masked(OP_TEXT, b"x" * 30)
    reader.feed(ping)  # one frame, one read: parsed where it lies
    assert reader.next_frame() == (True, OP_TEXT, b'42["ping"]') and reader.next_frame() is None
    reader.feed(ping + pong[:5])  # a frame and the start of the next
    assert reader.next_frame() == (True, OP_TEXT, b'42["ping"]') and reader.next_frame() is None
    reader.feed(pong[5:9])
    assert reader.next_frame() is None
    reader.feed(pong[9:] + ping)
    assert reader.next_frame() == (True, OP_TEXT, b"x" * 30)
    assert reader.next_frame() == (True, OP_TEXT, b'42["ping"]') and reader.next_frame() is None
