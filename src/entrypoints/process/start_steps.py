"""What an instance does once, before its background work starts, beyond opening its
resources: each step is awaited in the order the container lists it (``start_steps``)."""

from __future__ import annotations

import logging

from redis.exceptions import RedisError

from ...adapters.redis.presence_store import RedisPresenceStore
from ...adapters.redis.server_reads import RedisServerReads
from ...adapters.socketio.server import PresenceSocketServer
from ...domain.ports import Clock, StatusRepository
from ...domain.statuses import OFFLINE

log = logging.getLogger(__name__)


async def forget_previous_run(repository: StatusRepository, clock: Clock) -> None:
    """The in-process store starts empty: any user the durable table still shows online was
    left there by a previous run that did not shut down cleanly."""
    stale = await repository.mark_all_offline(OFFLINE, clock.now())
    if stale:
        log.warning("marked %d users OFFLINE that a previous run left online", stale)


async def load_scripts(store: RedisPresenceStore) -> None:
    """Redis down at start: serve degraded (events answer "unavailable" until it is back)."""
    try:
        await store.load_scripts()
    except RedisError as error:
        log.error("Redis is not answering at start (%r); presence events will fail until it does", error)


async def initialize_manager(sio: PresenceSocketServer) -> None:
    """python-socketio initialises its manager at the first connection; do it now. Its Redis
    listener is one of the background jobs, ready once it has subscribed."""
    if not sio.manager_initialized:
        sio.manager_initialized = True
        sio.manager.initialize()


async def announce_instance(reads: RedisServerReads, clock: Clock) -> None:
    """Note when this instance started, for the server API's stats (Redis down: said, and
    the stats show no start time for it)."""
    try:
        await reads.announce(clock.now())
    except Exception as error:
        log.warning("start time of this instance not recorded: %r", error)
