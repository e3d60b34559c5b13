"""A task that will not end when cancelled cannot keep a stopped gateway from exiting."""

from __future__ import annotations

import asyncio
import logging

import pytest

from presence_gateway.entrypoints.serve import _cancel_leftovers

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_a_task_that_swallows_its_cancellation_is_logged_and_left_behind(caplog) -> None:
    forever = asyncio.get_running_loop().create_future()

    async def stubborn() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            await forever  # swallowed: waits on something nobody will ever set

    async def polite() -> None:
        await asyncio.sleep(3600)

    stuck = asyncio.create_task(stubborn())
    ended = asyncio.create_task(polite())
    await asyncio.sleep(0)

    with caplog.at_level(logging.ERROR):
        await asyncio.wait_for(_cancel_leftovers(0.1), 5)

    assert ended.cancelled()
    assert not stuck.done()
    assert "did not end at shutdown" in caplog.text and "stubborn" in caplog.text
    forever.set_result(None)
    await stuck
