"""One shape for the background loops: act every ``interval``; a failed round is logged
and the next one retries, so a passing outage never ends a loop."""

from __future__ import annotations

import logging
from typing import Awaitable, Callable

import anyio

from .errors import Unavailable

log = logging.getLogger(__name__)


async def every(
    interval: float,
    action: Callable[[], Awaitable[None]],
    *,
    failure: str,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    task_status.started()
    while True:
        await anyio.sleep(interval)
        try:
            await action()
        except Unavailable as error:  # a dependency is down: expected, and said once per round
            log.warning("%s: %s", failure, error)
        except Exception:
            log.exception(failure)
