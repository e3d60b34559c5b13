"""A WebSocket's ``read_timeout`` is kept by one timer per event loop
(``fast_http.ReadSweep``), not an ``asyncio.timeout`` per connection: a read past its
timeout ends with no bytes within ``SWEEP_EVERY`` of it, one still in time goes on."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from presence_gateway.compat.fast_http import HANDSHAKE_WAKES, SWEEP_EVERY, HandshakeSlots, HTTPConnection, ReadSweep

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class FakeLoop:
    """The loop's clock and timers, moved by hand."""

    def __init__(self) -> None:
        self.now = 0.0
        self.timers: list[tuple[float, Callable[[], None]]] = []

    def time(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Callable[[], None]) -> Any:
        self.timers.append((self.now + delay, callback))
        return SimpleNamespace(cancel=lambda: None)

    def advance(self, seconds: float) -> None:
        self.now += seconds
        due = [timer for timer in self.timers if timer[0] <= self.now]
        self.timers = [timer for timer in self.timers if timer[0] > self.now]
        for _, callback in due:
            callback()


class Reading:
    def __init__(self) -> None:
        self.timed_out = 0

    def read_timed_out(self) -> None:
        self.timed_out += 1


def test_a_read_past_its_timeout_is_ended_within_one_sweep_and_one_in_time_is_not() -> None:
    loop = FakeLoop()
    sweep = ReadSweep(loop)  # type: ignore[arg-type]
    silent, talking, done = Reading(), Reading(), Reading()
    sweep.watch(silent, 5.0)
    sweep.watch(talking, 5.0)
    sweep.watch(done, 5.0)
    sweep.unwatch(done)  # its read returned
    for _ in range(4):
        loop.advance(SWEEP_EVERY)
    assert silent.timed_out == 0
    sweep.watch(talking, 5.0)  # a frame came in: its next read has the whole timeout again
    loop.advance(SWEEP_EVERY)  # 5 s since the silent one began to wait
    assert (silent.timed_out, talking.timed_out, done.timed_out) == (1, 0, 0)
    assert sweep.expired == 1
    for _ in range(5):
        loop.advance(SWEEP_EVERY)
    assert (silent.timed_out, talking.timed_out) == (1, 1)  # told once each


def test_the_timer_runs_only_while_a_read_is_watched() -> None:
    loop = FakeLoop()
    sweep = ReadSweep(loop)  # type: ignore[arg-type]
    reading = Reading()
    sweep.watch(reading, 60.0)
    sweep.watch(Reading(), 60.0)
    assert len(loop.timers) == 1  # one timer for all
    sweep.unwatch(reading)
    loop.advance(61.0)
    assert loop.timers == []  # nothing watched any more
    sweep.watch(reading, 1.0)
    assert len(loop.timers) == 1


class Transport:
    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.reader = reader
        self.closed = False

    def is_closing(self) -> bool:
        return self.closed

    def get_write_buffer_size(self) -> int:
        return 0

    def close(self) -> None:
        self.closed = True
        self.reader.feed_eof()  # what the connection's end does to its reader


def connection() -> tuple[HTTPConnection, asyncio.StreamReader, Transport]:
    reader = asyncio.StreamReader()
    transport = Transport(reader)
    server = SimpleNamespace(
        config=SimpleNamespace(), context=None, reader=reader,
        writer=SimpleNamespace(transport=transport), loop=asyncio.get_running_loop(),
    )
    made = HTTPConnection(server, None, None, set(), False, HandshakeSlots())
    made._wakes = HANDSHAKE_WAKES  # past its handshake, as a held WebSocket is
    return made, reader, transport


async def test_an_idle_read_told_it_timed_out_ends_empty_and_closes_the_connection() -> None:
    held, reader, transport = connection()
    reader.feed_data(b"frame")
    assert await held.read_idle(60.0) == b"frame"
    waiting = asyncio.ensure_future(held.read_idle(60.0))
    await asyncio.sleep(0)  # one turn: the read is waiting (no clock involved)
    held.read_timed_out()  # what the sweep does once its deadline passed
    assert await asyncio.wait_for(waiting, 1) == b""
    assert transport.closed


async def test_an_idle_read_that_returns_is_no_longer_watched() -> None:
    held, reader, _ = connection()
    sweep = held._shared.sweep
    waiting = asyncio.ensure_future(held.read_idle(60.0))
    await asyncio.sleep(0)
    assert held in sweep._due
    reader.feed_data(b"frame")
    assert await asyncio.wait_for(waiting, 1) == b"frame"
    assert held not in sweep._due
