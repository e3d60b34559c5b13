"""The loop that expires silent sessions, settles offline graces and applies decays. The
rules themselves are ``PresenceService.sweep`` (tested through the Clock port); this only
decides how often to ask."""

from __future__ import annotations

import anyio

from .periodic import every
from .use_cases import PresenceService


async def run_sweeper(
    service: PresenceService,
    interval: float,
    *,
    batch: int = 1000,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    async def sweep_until_done() -> None:
        while await service.sweep(batch) == batch:
            pass

    await every(interval, sweep_until_done, failure="sweeping failed", task_status=task_status)
