"""The loop monitor reports a stall that held the event loop, and nothing it did not see."""

from __future__ import annotations

import time

import anyio
import pytest

from presence_gateway.entrypoints.process.loop_lag import LoopLag

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _samples(monitor: LoopLag, at_least: int) -> dict:
    with anyio.fail_after(5):
        while monitor.figures()["samples"] < at_least:
            await anyio.sleep(0.001)
    return monitor.figures()


async def test_a_stall_of_the_loop_is_its_longest_lag() -> None:
    monitor = LoopLag()
    async with anyio.create_task_group() as tg:
        await tg.start(monitor.run)
        await _samples(monitor, 1)
        time.sleep(0.03)  # the stall under test: the loop is held, as by a blocking call
        figures = await _samples(monitor, 3)
        tg.cancel_scope.cancel()
    assert figures["max_ms"] >= 25
    assert figures["p50_ms"] < 25


async def test_reset_starts_a_new_window() -> None:
    monitor = LoopLag()
    async with anyio.create_task_group() as tg:
        await tg.start(monitor.run)
        await _samples(monitor, 1)
        time.sleep(0.03)
        await _samples(monitor, 3)
        monitor.reset()
        figures = await _samples(monitor, 3)
        tg.cancel_scope.cancel()
    assert figures["max_ms"] < 25
