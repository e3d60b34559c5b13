"""Each instance holds a lease in the shared store and watches the others'.

A node killed without a word (``kill -9``, a lost VM) cannot end its sessions; its lease
lapses instead, and the first survivor to notice ends them — exactly one survivor, since
claiming a dead instance is atomic. Phoenix Tracker waits 30 s for this, Centrifugo
lets entries expire silently after 60 s; with a 10 s lease and a 1 s watch, users of a
dead node are OFFLINE within about 11 s.
"""

from __future__ import annotations

import logging
from typing import Protocol

import anyio

from ..domain.outages import Outage
from .periodic import every
from .use_cases import PresenceService

log = logging.getLogger(__name__)


class LeaseHolder(Protocol):
    """What renewing the lease needs of the presence service, so a test can play it alone."""

    draining: bool

    async def renew_lease(self, ttl: float) -> bool: ...


async def keep_lease(
    service: LeaseHolder,
    ttl: float,
    *,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Renew this instance's lease three times per TTL; started once the first is held."""
    try:
        await service.renew_lease(ttl)
    except Exception as error:  # the store is down at start: keep trying below
        log.error("could not take this instance's lease: %r", error)
    task_status.started()
    outage = Outage()
    while True:
        await anyio.sleep(ttl / 3)
        if service.draining:
            # Shutting down: the lease was released with the sessions; renewing it would
            # announce an instance that is leaving, for a survivor to take over later.
            return
        try:
            held = await service.renew_lease(ttl)
        except Exception as error:
            if outage.failed():
                log.warning("lease not renewed: %r (retrying every %gs)", error, ttl / 3)
            continue
        if outage.recovered() and held:  # a lapse is said by the service itself
            log.warning("lease renewed again")


async def watch_dead_instances(
    service: PresenceService,
    interval: float,
    *,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    async def take_over() -> None:
        for instance, ended in (await service.take_over_dead_instances()).items():
            log.warning("instance %s stopped holding its lease: ended its %d sessions", instance, ended)

    await every(interval, take_over, failure="checking for dead instances failed", task_status=task_status)
