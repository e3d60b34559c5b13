"""``compat/lean_stream.py``: one protocol object as a cleartext connection's reader and
writer, keeping the contract of asyncio's streams that hypercorn and the fast path use."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from hypercorn.asyncio import run as hypercorn_run

from presence_gateway.compat import hypercorn_server, lean_stream
from presence_gateway.compat.lean_stream import READ_HIGH_WATER, LeanStream


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Transport:
    """What a ``LeanStream`` asks of its transport, recorded."""

    def __init__(self) -> None:
        self.paused = False
        self.pauses = 0
        self.written: list[bytes] = []

    def pause_reading(self) -> None:
        self.paused = True
        self.pauses += 1

    def resume_reading(self) -> None:
        self.paused = False

    def write(self, data: bytes) -> None:
        self.written.append(data)


def stream() -> tuple[LeanStream, Transport]:
    async def callback(reader: Any, writer: Any) -> None:
        return None

    lean = LeanStream(callback, asyncio.get_running_loop())
    transport = Transport()
    lean.transport = transport
    return lean, transport


@pytest.mark.anyio
async def test_a_read_returns_what_arrived_waits_only_when_nothing_has_and_ends_with_empty_bytes() -> None:
    lean, _ = stream()
    frame = b"\x81\x85ping!"
    lean.data_received(frame)
    assert await lean.read(2**16) is frame  # the very bytes received: no copy

    reading = asyncio.ensure_future(lean.read(4))
    await asyncio.sleep(0)
    assert not reading.done()  # nothing buffered: it waits
    lean.data_received(b"abcdef")
    assert await asyncio.wait_for(reading, 1) == b"abcd"  # at most n
    assert await lean.read(10) == b"ef"  # the rest kept

    assert lean.eof_received()  # the transport stays open for what the server still writes
    assert lean.at_eof()
    assert await lean.read(10) == b""


@pytest.mark.anyio
async def test_a_read_ends_when_the_connection_is_lost_and_raises_its_error() -> None:
    lean, _ = stream()
    reading = asyncio.ensure_future(lean.read(10))
    await asyncio.sleep(0)
    lean.connection_lost(ConnectionResetError("reset by peer"))
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(reading, 1)
    assert await lean.read(10) == b""


@pytest.mark.anyio
async def test_reading_pauses_while_too_much_waits_unread_and_resumes_once_read() -> None:
    lean, transport = stream()
    chunk = b"x" * 2**16
    for _ in range(READ_HIGH_WATER // len(chunk)):
        lean.data_received(chunk)
    assert not transport.paused  # up to the high-water mark: still reading
    lean.data_received(chunk)
    assert transport.paused and transport.pauses == 1
    lean.data_received(chunk)  # what the kernel had already handed over
    assert transport.pauses == 1

    await lean.read(2**16)
    assert transport.paused  # still more than the mark unread
    while not lean.at_eof() and transport.paused:
        await lean.read(2**16)
    assert not transport.paused


@pytest.mark.anyio
async def test_drain_waits_while_writing_is_paused_and_raises_once_the_connection_is_lost() -> None:
    lean, _ = stream()
    await asyncio.wait_for(lean.drain(), 1)  # not paused: at once

    lean.pause_writing()
    draining = [asyncio.ensure_future(lean.drain()) for _ in range(2)]
    await asyncio.sleep(0)
    assert not any(d.done() for d in draining)
    lean.resume_writing()
    await asyncio.wait_for(asyncio.gather(*draining), 1)

    lean.pause_writing()
    draining = [asyncio.ensure_future(lean.drain())]
    closed = asyncio.ensure_future(lean.wait_closed())
    await asyncio.sleep(0)
    assert not closed.done()
    lean.connection_lost(None)
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(draining[0], 1)
    await asyncio.wait_for(closed, 1)
    with pytest.raises(ConnectionResetError):
        await lean.drain()


@pytest.mark.anyio
@pytest.mark.parametrize("fast", [True, False])
async def test_worker_serve_gives_a_cleartext_connection_one_lean_stream_unless_the_fast_path_is_off(
    fast: bool,
) -> None:
    hypercorn_server.patch_hypercorn(ws_deflate=False, fast_protocol=fast)
    try:
        assert hypercorn_run.asyncio.start_server is lean_stream.start_server
        served: asyncio.Future[tuple[Any, Any, bytes]] = asyncio.get_running_loop().create_future()

        async def callback(reader: Any, writer: Any) -> None:
            data = await reader.read(100)
            writer.write(data.upper())
            await writer.drain()
            writer.close()
            await writer.wait_closed()
            served.set_result((reader, writer, data))

        listening = socket.socket()
        listening.bind(("127.0.0.1", 0))
        server = await hypercorn_run.asyncio.start_server(callback, sock=listening, backlog=8)
        try:
            reader, writer = await asyncio.open_connection(*listening.getsockname()[:2])
            writer.write(b"hello")
            assert await asyncio.wait_for(reader.read(100), 5) == b"HELLO"
            assert await asyncio.wait_for(reader.read(100), 5) == b""  # closed by the server
            writer.close()
            theirs, their_writer, data = await asyncio.wait_for(served, 5)
        finally:
            server.close()
            await server.wait_closed()
        assert data == b"hello"
        if fast:
            assert type(theirs) is LeanStream and their_writer is theirs
        else:
            assert type(theirs) is asyncio.StreamReader
    finally:
        hypercorn_server.patch_hypercorn(ws_deflate=False)
