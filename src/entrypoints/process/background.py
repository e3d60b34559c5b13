"""The one task group that owns the gateway's background work.

Quart's serving lifecycle has no frame that lives as long as the server (``while_serving``
is a generator, and a task group must never yield), so one supervisor task opens the
group, starts each loop with ``tg.start`` (readiness without sleeping), and holds it.
A loop that fails is logged with its traceback and the process is asked to stop, rather
than left running without, say, its sweeper.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import anyio

log = logging.getLogger(__name__)

Job = Callable[..., Coroutine[Any, Any, None]]


def stop_this_process() -> None:
    os.kill(os.getpid(), signal.SIGTERM)


class Supervisor:
    def __init__(self, jobs: Sequence[Job], on_failure: Callable[[], None] = stop_this_process) -> None:
        self._jobs = list(jobs)
        self._on_failure = on_failure
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._task = asyncio.get_running_loop().create_task(self._run(ready), name="presence-background")
        await ready

    async def _run(self, ready: asyncio.Future[None]) -> None:
        try:
            async with anyio.create_task_group() as tg:
                for job in self._jobs:
                    await tg.start(job)
                ready.set_result(None)
                await anyio.sleep_forever()
        except asyncio.CancelledError:
            raise
        except BaseException as error:
            if not ready.done():
                ready.set_exception(error)
                return
            log.critical("background work failed; stopping the gateway", exc_info=error)
            self._on_failure()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None or task.done():
            return
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
