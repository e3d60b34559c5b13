"""New connections take turns for their handshakes (``fast_http.HTTPConnection.read``):
a storm of connections whose requests arrive at once is served a few per event-loop turn,
while a connection past its handshake reads without waiting behind them."""

from __future__ import annotations

import asyncio
import gc
import socket
import weakref
from types import SimpleNamespace

import pytest

from presence_gateway.compat import fast_serve
from presence_gateway.compat.fast_http import HANDSHAKE_WAKES, HandshakeSlots, HTTPConnection

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def connection(slots: HandshakeSlots) -> tuple[HTTPConnection, asyncio.StreamReader]:
    reader = asyncio.StreamReader()
    server = SimpleNamespace(
        config=SimpleNamespace(), context=None, reader=reader,
        writer=SimpleNamespace(transport=None), loop=asyncio.get_running_loop(),
    )
    return HTTPConnection(server, None, None, set(), False, slots), reader


async def turns(n: int = 5) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def test_a_new_connection_waits_for_a_slot_an_established_one_does_not() -> None:
    slots = HandshakeSlots(width=1)
    established, established_bytes = connection(slots)
    for _ in range(HANDSHAKE_WAKES):  # its handshake done while the slot was free
        established_bytes.feed_data(b"x")
        assert await established.read(None) == b"x"
    first, first_bytes = connection(slots)
    second, second_bytes = connection(slots)
    first_bytes.feed_data(b"GET / HTTP/1.1\r\n\r\n")
    established_bytes.feed_data(b"ping")  # read first, so it holds no slot any more
    assert await established.read(None) == b"ping"
    assert await first.read(None)  # takes the one slot
    second_bytes.feed_data(b"GET / HTTP/1.1\r\n\r\n")
    waiting = asyncio.ensure_future(second.read(None))
    await turns()
    assert not waiting.done()  # the slot is the first's while it works
    established_bytes.feed_data(b"ping")
    assert await asyncio.wait_for(established.read(None), 1) == b"ping"  # never waits behind them
    again = asyncio.ensure_future(first.read(None))  # the first waits for its client: the slot is free
    await asyncio.wait_for(waiting, 1)
    again.cancel()


async def test_a_storm_whose_bytes_are_all_in_is_served_a_few_steps_per_loop_turn() -> None:
    """Each step ends by waiting for its client, which frees its slot before it yields:
    the slots alone would let every connection whose bytes are in through in one turn."""
    per_turn = 2
    slots = HandshakeSlots(width=4, per_turn=per_turn)
    storm = [connection(slots) for _ in range(12)]
    for _, bytes_in in storm:
        bytes_in.feed_data(b"GET / HTTP/1.1\r\n\r\n")
    done: list[int] = []

    async def step(conn: HTTPConnection) -> None:
        await conn.read(None)  # takes a slot, then its turn
        done.append(turn)
        conn.slots.leave()  # as the next read would, once the step's work is written

    turn = 0
    steps = [asyncio.ensure_future(step(conn)) for conn, _ in storm]
    while not all(s.done() for s in steps) and turn < 100:
        await asyncio.sleep(0)
        turn += 1
    assert len(done) == len(storm)  # all served in the end
    per = [done.count(t) for t in set(done)]
    assert max(per) <= 2 * per_turn, per  # never the whole storm in one turn
    assert len(set(done)) >= len(storm) // (2 * per_turn)


class Transport:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def is_closing(self) -> bool:
        return False

    def write(self, data: bytes) -> None:
        self.sent.append(data)

    def get_write_buffer_size(self) -> int:
        return 0


async def test_what_a_handshake_step_writes_leaves_in_one_send_when_it_ends() -> None:
    conn, bytes_in = connection(HandshakeSlots())
    transport = conn.transport = Transport()
    bytes_in.feed_data(b"GET / HTTP/1.1\r\n\r\n")
    assert await conn.read(None)  # the upgrade's step
    conn.write(b"101 ")
    conn.write(b"OPEN")
    await conn.drain_if_full(1 << 16)  # a WebSocket write's check: nothing is behind, it stays
    assert transport.sent == []
    waiting = asyncio.ensure_future(conn.read(None))  # the step ends: it waits for its client
    await turns(1)
    assert transport.sent == [b"101 OPEN"]
    bytes_in.feed_data(b"x")
    await waiting
    for _ in range(HANDSHAKE_WAKES):  # past its handshake, each write is sent at once
        bytes_in.feed_data(b"x")
        await conn.read(None)
    conn.write(b"pong")
    assert transport.sent[-1] == b"pong"


async def test_a_finished_connection_is_freed_without_the_cyclic_collector() -> None:
    conn, _ = connection(HandshakeSlots())
    gone = weakref.ref(conn)
    gc.disable()
    try:
        conn.forget()
        del conn
        assert gone() is None
    finally:
        gc.enable()


async def test_a_connection_served_to_its_end_leaves_no_cycle_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    """``fast_serve.run`` forgets the connection when its task ends."""
    made: weakref.WeakSet[HTTPConnection] = weakref.WeakSet()

    class Recorded(HTTPConnection):
        def __init__(self, *args: object) -> None:
            super().__init__(*args)  # type: ignore[arg-type]
            made.add(self)

    monkeypatch.setattr(fast_serve, "HTTPConnection", Recorded)
    reader = asyncio.StreamReader()
    reader.feed_eof()  # the client connects and leaves

    class Writer:
        transport = SimpleNamespace(is_closing=lambda: True)

        def get_extra_info(self, name: str) -> object:
            return SimpleNamespace(family=socket.AF_INET, getpeername=lambda: ("127.0.0.1", 1),
                                   getsockname=lambda: ("127.0.0.1", 2)) if name == "socket" else None

        def write_eof(self) -> None:
            pass

        async def wait_closed(self) -> None:
            pass

    class Context:  # the worker's (weakly keyed by fast_serve)
        terminated = asyncio.Event()

    server = SimpleNamespace(
        config=SimpleNamespace(keep_alive_timeout=5), context=Context(),
        reader=reader, writer=Writer(), loop=asyncio.get_running_loop(),
    )
    gc.disable()
    try:
        await fast_serve.run(server)  # type: ignore[arg-type]
        assert len(made) == 0
    finally:
        gc.enable()
        Context.terminated.set()  # ends the worker's watcher of idle connections
        await turns()
