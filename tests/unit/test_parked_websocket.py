"""A parked WebSocket (``fast_websocket.WebSocketSession.park``) is served from its
protocol's callbacks: every message the client sent reaches the app, in the order sent,
whether it came while a handler waited or before the park; a PONG is taken with no task;
the end comes once, after what was sent before it; a protocol error still closes with its
code; a flood waiting behind a slow handler pauses reading; and hypercorn's cancel at the
end of ``graceful_timeout`` still ends the session through the app."""

from __future__ import annotations

import asyncio
import os
import struct
from types import SimpleNamespace
from typing import Any

import pytest
from websockets.speedups import apply_mask

from presence_gateway.compat.fast_websocket import OP_TEXT, PROTOCOL_ERROR, WebSocketSession
from presence_gateway.compat.lean_stream import READ_HIGH_WATER, LeanStream

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def client_frame(text: str, *, masked: bool = True) -> bytes:
    payload = text.encode()
    mask = os.urandom(4)
    head = bytes((0x80 | OP_TEXT,))
    length = len(payload)
    bit = 0x80 if masked else 0
    head += bytes((bit | length,)) if length < 126 else struct.pack("!BH", bit | 126, length)
    return head + (mask + apply_mask(payload, mask) if masked else payload)


class Transport:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.paused = False
        self.pauses = 0
        self.closing = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def pause_reading(self) -> None:
        self.paused = True
        self.pauses += 1

    def resume_reading(self) -> None:
        self.paused = False

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return 0


class Connection:
    """What a session asks of its ``fast_http.HTTPConnection``."""

    def __init__(self, stream: Any, *, read_timeout: float | None = None, past_handshakes: bool = True) -> None:
        self.reader = stream
        self.transport = stream.transport
        self.loop = asyncio.get_running_loop()
        self.config = SimpleNamespace(websocket_max_message_size=1 << 20, read_timeout=read_timeout)
        self.past_handshakes = past_handshakes
        self.parked: WebSocketSession | None = None
        self.steps_ended = 0
        self.watched: list[float] = []
        self.unwatched = 0
        self.closed_soon = False

    def end_step(self) -> None:
        self.steps_ended += 1

    def watch_idle(self, timeout: float) -> None:
        self.watched.append(timeout)

    def unwatch_idle(self) -> None:
        self.unwatched += 1

    def write(self, data: bytes) -> None:
        self.transport.write(data)

    def close_soon(self) -> None:
        self.closed_soon = True
        self.transport.closing = True


class App:
    """The app's side of a parked session: what it was handed, and in which task."""

    def __init__(self, session: WebSocketSession) -> None:
        self.session = session
        self.handled: list[tuple[str, Any]] = []
        self.gate: asyncio.Event | None = None  # while set to an unset event, a handler waits on it
        self.ends = 0
        self.stop_at: str | None = None
        self.release_on_end = True

    async def on_message(self, data: str | bytes) -> bool:
        assert asyncio.current_task() is not None  # a handler runs in a task
        self.handled.append(("task", data))
        if self.gate is not None:
            await self.gate.wait()
        return data != self.stop_at

    def inline(self, data: str | bytes) -> bool:
        if data != "3":
            return False
        self.handled.append(("inline", data))
        return True

    def on_end(self, session: WebSocketSession) -> None:
        assert session is self.session
        self.ends += 1
        if self.release_on_end:
            session.release()

    def park(self) -> bool:
        return self.session.park(self.on_message, self.on_end, self.inline)


def parked_session(**connection: Any) -> tuple[WebSocketSession, LeanStream, Transport, Connection, App]:
    async def callback(reader: Any, writer: Any) -> None:
        return None

    stream = LeanStream(callback, asyncio.get_running_loop())
    transport = Transport()
    stream.transport = transport
    conn = Connection(stream, **connection)
    session = WebSocketSession(conn, {"type": "websocket"}, handshake=None)  # type: ignore[arg-type]
    session.accepted = True
    return session, stream, transport, conn, App(session)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_messages_reach_the_app_in_order_those_sent_while_a_handler_waits_included() -> None:
    session, stream, _, conn, app = parked_session()
    stream.data_received(client_frame("40"))  # read ahead, before the park
    assert app.park()
    assert conn.parked is session and conn.steps_ended == 1
    await settle()
    assert app.handled == [("task", "40")]

    app.gate = asyncio.Event()
    stream.data_received(client_frame("42[\"a\"]"))
    await settle()
    stream.data_received(client_frame("3") + client_frame("42[\"b\"]"))  # while "a" waits
    await settle()
    assert app.handled[1:] == [("task", '42["a"]')]
    app.gate.set()
    await settle()
    # the PONG behind a waiting handler waits its turn too, in the task
    assert app.handled[1:] == [("task", '42["a"]'), ("task", "3"), ("task", '42["b"]')]

    stream.data_received(client_frame("3"))  # idle again: a PONG takes no task
    assert app.handled[-1] == ("inline", "3")
    assert app.ends == 0


async def test_the_end_comes_once_after_what_the_client_sent_before_it_and_lets_the_task_go() -> None:
    session, stream, _, conn, app = parked_session()
    assert app.park()
    waiting = asyncio.ensure_future(session.until_released())
    app.gate = asyncio.Event()
    stream.data_received(client_frame("42[\"first\"]"))
    await settle()
    stream.data_received(client_frame("42[\"last\"]"))
    stream.connection_lost(None)
    await settle()
    assert app.ends == 0 and not waiting.done()  # a handler still runs
    app.gate.set()
    await settle()
    assert [data for _, data in app.handled] == ['42["first"]', '42["last"]']
    assert app.ends == 1 and conn.unwatched == 1
    await asyncio.wait_for(waiting, 1)
    stream.data_received(client_frame("42[\"after\"]"))  # nothing after the end reaches the app
    await settle()
    assert len(app.handled) == 2 and app.ends == 1


@pytest.mark.parametrize("gone", ["eof", "lost"])
async def test_a_client_that_goes_while_nothing_is_handled_ends_the_session_at_once(gone: str) -> None:
    session, stream, _, _, app = parked_session()
    assert app.park()
    await settle()
    if gone == "eof":
        stream.eof_received()
    else:
        stream.connection_lost(ConnectionResetError())
    assert app.ends == 1
    await asyncio.wait_for(session.until_released(), 1)


async def test_a_handler_that_says_stop_ends_the_session_and_what_is_behind_it_is_not_handled() -> None:
    session, stream, _, _, app = parked_session()
    app.stop_at = "42[\"stop\"]"
    assert app.park()
    stream.data_received(client_frame("42[\"stop\"]") + client_frame("42[\"flood\"]"))
    await settle()
    assert [data for _, data in app.handled] == ['42["stop"]']
    assert app.ends == 1


async def test_a_protocol_error_while_parked_closes_with_its_code_and_ends_the_session() -> None:
    session, stream, transport, conn, app = parked_session()
    assert app.park()
    stream.data_received(client_frame("42[\"x\"]", masked=False))  # a client frame must be masked
    await settle()
    assert app.handled == [] and app.ends == 1
    assert transport.written[-1] == bytes((0x88, 2)) + struct.pack("!H", PROTOCOL_ERROR)
    assert conn.closed_soon


async def test_a_flood_behind_a_waiting_handler_pauses_reading_until_it_is_caught_up() -> None:
    session, stream, transport, _, app = parked_session()
    assert app.park()
    app.gate = asyncio.Event()
    stream.data_received(client_frame("42[\"slow\"]"))
    await settle()
    big = client_frame("4" + "x" * 60000)
    for _ in range(READ_HIGH_WATER // len(big) + 2):
        stream.data_received(big)
    assert transport.paused and transport.pauses == 1
    app.gate.set()
    await settle()
    assert not transport.paused
    assert len(app.handled) == READ_HIGH_WATER // len(big) + 3


async def test_the_read_timeout_is_watched_from_the_park_and_again_at_each_read() -> None:
    session, stream, _, conn, app = parked_session(read_timeout=30.0)
    assert app.park()
    assert conn.watched == [30.0]
    stream.data_received(client_frame("3"))
    assert conn.watched == [30.0, 30.0]


async def test_hypercorns_cancel_ends_the_session_through_the_app_and_waits_for_it() -> None:
    session, stream, _, _, app = parked_session()
    app.release_on_end = False
    assert app.park()
    waiting = asyncio.ensure_future(session.until_released())
    await settle()
    waiting.cancel()
    await settle()
    assert app.ends == 1 and not waiting.done()  # the app's close runs before the task ends
    session.release()
    with pytest.raises(asyncio.CancelledError):
        await waiting


async def test_no_park_while_it_takes_handshake_turns_or_once_the_client_has_gone() -> None:
    session, _, _, conn, app = parked_session(past_handshakes=False)
    assert not app.park() and conn.parked is None

    session, stream, _, conn, app = parked_session()
    stream.eof_received()
    assert not app.park() and conn.parked is None

    session, _, _, conn, app = parked_session()
    session.closed = True
    assert not app.park()
