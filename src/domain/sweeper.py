"""The loop that expires silent sessions. Expiry itself is ``PresenceService.sweep``
(tested through the Clock port); this only decides how often to ask."""

from __future__ import annotations

import logging

import anyio

from .use_cases import PresenceService

log = logging.getLogger(__name__)


async def run_sweeper(
    service: PresenceService,
    interval: float,
    *,
    batch: int = 1000,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    task_status.started()
    while True:
        await anyio.sleep(interval)
        try:
            while await service.sweep(batch) == batch:
                pass
        except Exception:  # a failing sweep must not end the loop; the next one retries
            log.exception("sweeping expired sessions failed")
