"""Start and stop of one gateway instance, in an explicit order (the container's async
resource start-up is unordered, and these steps depend on each other)."""

from __future__ import annotations

import logging
from functools import partial

import anyio
from redis.exceptions import RedisError

from ..domain.statuses import OFFLINE
from ..domain.sweeper import run_sweeper
from ..domain.warm_up import warm_up
from .background import Supervisor
from .containers import Container
from .database import prepare_database
from .settings import Settings
from .single_instance import SingleInstanceLock, claim_single_instance

log = logging.getLogger(__name__)

FLUSH_TIMEOUT = 5.0
# engineio waits for each socket's send queue to drain; a socket whose client left at the
# same moment never drains, so the wait is bounded (its disconnect handler has run by then).
DISCONNECT_TIMEOUT = 1.0


class Gateway:
    def __init__(self, container: Container, settings: Settings) -> None:
        self.container = container
        self.settings = settings
        self._supervisor: Supervisor | None = None
        self._lock: SingleInstanceLock | None = None

    async def start(self) -> None:
        c = self.container
        await prepare_database(c.engine(), self.settings)  # upgrade, or check in production
        repository = c.status_repository()
        if c.kind() == "redis":
            await self._start_shared_presence()
        else:
            self._lock = claim_single_instance(self.settings.data_dir)
            # The in-process store starts empty: any user the durable table still shows
            # online was left there by a previous run that did not shut down cleanly.
            stale = await repository.mark_all_offline(OFFLINE, c.clock().now())
            if stale:
                log.warning("marked %d users OFFLINE that a previous run left online", stale)
        self._supervisor = Supervisor(
            [
                c.durable_writer().run,
                partial(run_sweeper, c.presence_service(), self.settings.sweep_interval),
                partial(warm_up, c.presence_service()),
            ]
        )
        await self._supervisor.start()
        where = "shared through Redis" if c.kind() == "redis" else "in-process"
        log.info("presence ready (%s); get a token with: presence-gateway token --user 42", where)

    async def _start_shared_presence(self) -> None:
        c = self.container
        try:
            await c.presence_store().load_scripts()
        except RedisError as error:  # serve degraded: events answer "unavailable" until it is back
            log.error("Redis is not answering at start (%r); presence events will fail until it does", error)
        # python-socketio starts its Redis listener at the first connection; start it now,
        # so this instance hears other instances' emits from the moment it serves.
        sio = c.socket_server()
        if not sio.manager_initialized:
            sio.manager_initialized = True
            sio.manager.initialize()

    async def disconnect_all(self) -> None:
        """End every socket first, so shutdown does not wait on clients (python-engineio
        under hypercorn otherwise waits for them) and their sessions end as disconnects."""
        sio = self.container.socket_server()
        if sio.eio.sockets:  # with none, engineio's disconnect waits on an empty set
            with anyio.move_on_after(DISCONNECT_TIMEOUT):
                await sio.eio.disconnect()
        await sio.shutdown()

    async def stop(self) -> None:
        if self._supervisor is not None:
            await self._supervisor.stop()
        writer = self.container.durable_writer()
        try:
            with anyio.fail_after(FLUSH_TIMEOUT):
                await writer.flush()
        except Exception:
            log.exception("%d durable status writes could not be flushed at shutdown", writer.pending)
        await self.container.engine().dispose()
        if self.container.kind() == "redis":
            await self.container.redis().aclose()
        if self._lock is not None:
            self._lock.release()
