"""One shape for the background loops: act every ``interval``; a failed round is logged
and the next one retries, so a passing outage never ends a loop. A dependency that is
down is said once when it goes and once when it is back, not every round."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import anyio

from ..domain.errors import Unavailable
from ..domain.outages import Outage

log = logging.getLogger(__name__)


async def every(
    interval: float,
    action: Callable[[], Awaitable[None]],
    *,
    failure: str,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    task_status.started()
    outage = Outage()
    while True:
        await anyio.sleep(interval)
        try:
            await action()
        except Unavailable as error:  # a dependency is down: expected; said when it starts
            if outage.failed():
                log.warning("%s: %s (retrying every %gs)", failure, error, interval)
            continue
        except Exception:
            log.exception(failure)
            continue
        failed_rounds = outage.recovered()
        if failed_rounds:
            log.warning("%s: recovered after %d failed rounds", failure, failed_rounds)
