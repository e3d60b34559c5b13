"""Copies remembered choices into the presence store once, in the background.

Until it is done, a user's first connect reads their remembered status from the database
(correct, but a database round trip on the connect path); once done, a connect is one
store call. A database that is down at start delays it, with retries, and changes
nothing else.
"""

from __future__ import annotations

import logging

import anyio

from ..domain.outages import Backoff, Outage
from .use_cases import PresenceService

log = logging.getLogger(__name__)


async def warm_up(
    service: PresenceService,
    *,
    retry_initial: float = 1.0,
    retry_max: float = 60.0,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    task_status.started()
    backoff, outage = Backoff(retry_initial, retry_max), Outage()
    while True:
        try:
            learnt = await service.seed_remembered_choices()
        except Exception as error:
            delay = backoff.next()
            if outage.failed():
                log.warning("remembered statuses not copied to the presence store yet (%r); retrying", error)
            await anyio.sleep(delay)
            continue
        failed = outage.recovered()
        if learnt or failed:
            log.info("copied %d remembered statuses into the presence store (%d attempts failed)", learnt, failed)
        return
