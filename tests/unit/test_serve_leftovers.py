"""A task that will not end when cancelled cannot keep a stopped gateway from exiting."""

from __future__ import annotations

import asyncio
import logging

from presence_gateway.entrypoints.process.serve import _cancel_leftovers


def test_a_task_that_swallows_its_cancellation_is_logged_and_left_behind(caplog) -> None:
    """On a loop of its own, as the server's: every other task there is a leftover."""
    loop = asyncio.new_event_loop()
    forever = loop.create_future()

    async def stubborn() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            await forever  # swallowed: waits on something nobody will ever set

    async def polite() -> None:
        await asyncio.sleep(3600)

    try:
        stuck = loop.create_task(stubborn())
        ended = loop.create_task(polite())
        loop.run_until_complete(asyncio.sleep(0))

        with caplog.at_level(logging.ERROR):
            loop.run_until_complete(_cancel_leftovers(0.1))

        assert ended.cancelled()
        assert not stuck.done()
        assert "did not end at shutdown" in caplog.text and "stubborn" in caplog.text
        forever.set_result(None)
        loop.run_until_complete(stuck)
    finally:
        loop.close()
