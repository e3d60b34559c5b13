"""What one gateway instance's python-socketio manager hears of another's emits, read
from the manager's own listener (``_listen``: this instance's emits already dropped), with
the times they arrived — to measure how long delivery stops across a failover."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import orjson


def emit_message(manager: Any, seq: int) -> dict[str, Any]:
    """python-socketio's message for an emit to a room, numbered, as ``manager`` sends it."""
    return {
        "method": "emit", "event": "n", "data": [seq], "binary": False, "namespace": "/", "room": "r",
        "skip_sid": None, "callback": None, "host_id": manager.host_id,
    }


class Hearing:
    def __init__(self, manager: Any) -> None:
        self.manager = manager
        self.heard: list[tuple[int, float]] = []  # (seq, arrival, monotonic)
        self._new = anyio.Event()

    async def run(self) -> None:
        async for data in self.manager._listen():
            self.heard.append((orjson.loads(data)["data"][0], time.monotonic()))
            self._new.set()
            self._new = anyio.Event()

    def seqs(self) -> set[int]:
        return {seq for seq, _ in self.heard}

    async def until(self, predicate: Callable[[], bool], timeout: float) -> None:
        with anyio.fail_after(timeout):
            while not predicate():
                await self._new.wait()

    async def subscribed(self, sender: Any, timeout: float = 10.0) -> None:
        """Probe (negative numbers) until one is heard: the listener is subscribed."""
        probe = -1
        with anyio.fail_after(timeout):
            while True:
                await sender._publish(emit_message(sender, probe))
                with anyio.move_on_after(0.2):
                    await self.until(lambda: probe in self.seqs(), 0.2)  # noqa: B023 (awaited within this iteration)
                if probe in self.seqs():
                    return
                probe -= 1

    def longest_gap(self, after: float) -> float:
        """The longest silence between two messages heard that ended after ``after``."""
        times = sorted(t for seq, t in self.heard if seq >= 0)
        return max((b - a for a, b in zip(times, times[1:], strict=False) if b >= after), default=0.0)


class Sender:
    """Publishes numbered emits through ``manager`` every ``every`` seconds, recording
    when each left: a steady load across the failover (pacing, not a wait)."""

    def __init__(self, manager: Any, every: float = 0.01) -> None:
        self.manager = manager
        self.every = every
        self.sent: list[tuple[int, float]] = []

    async def run(self) -> None:
        seq = 0
        while True:
            await self.manager._publish(emit_message(self.manager, seq))
            self.sent.append((seq, time.monotonic()))
            seq += 1
            await anyio.sleep(self.every)

    def sent_after(self, moment: float) -> set[int]:
        return {seq for seq, at in self.sent if at >= moment}


async def across(
    heard: Hearing, sender: Sender, disrupt: Callable[[], Awaitable[object]]
) -> tuple[float, int, int, float]:
    """Emits flowing from ``sender`` to ``heard``, then ``disrupt()`` (a failover), until
    delivery resumed and everything sent since reached the listener: the longest silence,
    the emits lost and sent around the disruption, and how long ``disrupt()`` took."""
    async with anyio.create_task_group() as tg:
        tg.start_soon(heard.run)
        await heard.subscribed(sender.manager)
        tg.start_soon(sender.run)
        await heard.until(lambda: len(heard.heard) > 20, 10)
        began = time.monotonic()
        await disrupt()
        settled = time.monotonic()
        await heard.until(lambda: any(seq in heard.seqs() for seq in sender.sent_after(settled)), 30)
        resumed = time.monotonic()  # delivery resumed: from here on, nothing is lost
        await heard.until(lambda: len(sender.sent_after(resumed)) > 50, 30)
        late = sender.sent_after(resumed)
        await heard.until(lambda: late <= heard.seqs(), 30)
        tg.cancel_scope.cancel()
    sent = sender.sent_after(began)
    return heard.longest_gap(began), len(sent - heard.seqs()), len(sent), settled - began
